from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import example_cluster

Kubectl = Callable[..., str]


@pytest.fixture
def kube() -> Iterator[EmulatedKubernetes]:
    with example_cluster() as emulated:
        yield emulated


@pytest.fixture
def kubectl(kube: EmulatedKubernetes, tmp_path: Path) -> Kubectl:
    """The real kubectl against the emulated API (its discovery cache in the test's own folder)."""
    binary = shutil.which("kubectl")
    assert binary is not None, "kubectl must be on PATH (tests/conftest.py stops the run earlier without it)"
    env = dict(os.environ, KUBECONFIG=str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
               KUBECACHEDIR=str(tmp_path / "kube-cache"))

    def run(*args: str) -> str:
        result = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout
    return run
