"""The Kubernetes schemas of every kind the emulated API serves, bundled from a maintained source.

``openapi_definitions.json`` beside this module is generated, not written: it is the
subset of the Kubernetes JSON schemas that the ``kubernetes-validate`` package ships
(for the Kubernetes version the emulator reports) reachable from the served kinds.
Bundling the subset keeps the sandbox free of that 100 MB package at run time;
``python -m cloudlb.kubeapi.schema_bundle`` regenerates it (``kubernetes-validate``
needed then), and a test checks the bundle still equals what the package ships.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BUNDLE_PATH = Path(__file__).with_name("openapi_definitions.json")
SCHEMA_VERSION = "1.32.0"

# The definitions the served kinds, their lists and the API's own objects start from.
ROOT_DEFINITIONS: tuple[str, ...] = (
    *(f"io.k8s.api.core.v1.{kind}{suffix}" for kind in ("Service", "Namespace", "Node", "Event", "Endpoints")
      for suffix in ("", "List")),
    *(f"io.k8s.api.apps.v1.{kind}{suffix}" for kind in ("Deployment", "ReplicaSet") for suffix in ("", "List")),
    "io.k8s.api.discovery.v1.EndpointSlice", "io.k8s.api.discovery.v1.EndpointSliceList",
    "io.k8s.api.events.v1.Event", "io.k8s.api.events.v1.EventList",
    "io.k8s.api.coordination.v1.Lease", "io.k8s.api.coordination.v1.LeaseList",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
)


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def build_bundle() -> dict[str, Any]:
    """Read kubernetes-validate's definitions and keep those reachable from ROOT_DEFINITIONS."""
    try:
        source = importlib.resources.files("kubernetes_validate").joinpath(
            f"kubernetes-json-schema/v{SCHEMA_VERSION}-local/_definitions.json")
    except ModuleNotFoundError as exc:
        raise SystemExit("regenerating the schema bundle needs kubernetes-validate (a dev dependency)") from exc
    definitions: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))["$defs"]
    kept: dict[str, Any] = {}
    pending = list(ROOT_DEFINITIONS)
    while pending:
        name = pending.pop()
        if name not in kept:
            kept[name] = definitions[name]
            pending.extend(_references(definitions[name]))
    return {"kubernetesVersion": SCHEMA_VERSION, "source": "kubernetes-validate",
            "definitions": dict(sorted(kept.items()))}


@functools.cache
def definitions() -> dict[str, Any]:
    """The bundled definitions by name (``io.k8s.api.core.v1.Service``...), refs as ``#/$defs/<name>``."""
    bundle: dict[str, Any] = json.loads(BUNDLE_PATH.read_text(encoding="utf-8"))
    found: dict[str, Any] = bundle["definitions"]
    return found


def main() -> int:
    BUNDLE_PATH.write_text(json.dumps(build_bundle(), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {BUNDLE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
