from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import SERVICE_YAML, Background, Kubectl


@pytest.fixture
def kube() -> Iterator[EmulatedKubernetes]:
    with EmulatedKubernetes() as emulated:
        yield emulated


@pytest.fixture
def kubectl_env(kube: EmulatedKubernetes, tmp_path: Path) -> dict[str, str]:
    # CI installs kubectl; a missing binary is a failure, not a skip.
    assert shutil.which("kubectl"), "kubectl must be on PATH for these tests"
    return dict(os.environ, KUBECONFIG=str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
                KUBECACHEDIR=str(tmp_path / "kube-cache"))


@pytest.fixture
def kubectl(kubectl_env: dict[str, str], tmp_path: Path) -> Kubectl:
    def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["kubectl", *args], env=kubectl_env, capture_output=True, text=True,
                                timeout=timeout, cwd=tmp_path, check=False)
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result
    return run


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "service.yaml"
    path.write_text(SERVICE_YAML)
    return path


@pytest.fixture
def background(kubectl_env: dict[str, str]) -> Iterator[Background]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(["kubectl", *args], env=kubectl_env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        started.append(process)
        return process
    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


