"""A kubeconfig that points kubectl, kopf and client libraries at the emulated API server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONTEXT_NAME = "cloudlb-sandbox"


def kubeconfig(server_url: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": {"server": server_url}}],
        # The emulator does not authenticate; a static token keeps clients that insist on credentials happy.
        "users": [{"name": CONTEXT_NAME, "user": {"token": "cloudlb-sandbox"}}],
        "contexts": [{"name": CONTEXT_NAME,
                      "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME, "namespace": namespace}}],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, server_url: str) -> Path:
    """Write the kubeconfig (JSON, which every YAML reader accepts) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(kubeconfig(server_url), indent=2) + "\n", encoding="utf-8")
    return target
