"""``cloudlb sandbox`` as a user runs it: a subprocess, kubectl against its API, the cloud's own client."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import boto3
import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from cloudlb.testing import wait_for

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")
SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: default
spec:
  type: LoadBalancer
  selector: {app: shop}
  ports:
    - {name: http, port: 80, protocol: TCP}
    - {name: dns, port: 53, protocol: UDP}
"""


def sandbox_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cloudlb", "sandbox", *args]


@pytest.mark.parametrize("provider", ["aws", "gcp"])
def test_demo_once_converges_and_cleans_up(provider: str) -> None:
    result = subprocess.run(sandbox_command("--provider", provider, "--demo", "--once", "--timeout", "120"),
                            capture_output=True, text=True, timeout=240, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "all 6 demo Services converged" in result.stdout
    assert "3868/SCTP: cloudlb.io/ProtocolNotSupported" in result.stdout
    assert "nothing left in the emulated cloud" in result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """No process listens on it any more. SO_REUSEADDR, as servers set it: connections the stopped server
    closed may linger in TIME_WAIT for a minute, which is not a port held by anyone."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Sandbox:
    def __init__(self, process: subprocess.Popen[str], kubeconfig: Path, api_port: int, cache: Path) -> None:
        self.process = process
        self.kubeconfig = kubeconfig
        self.api_port = api_port
        self.cache = cache
        self.lines: list[str] = []

    def read_until(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        stream: IO[str] | None = self.process.stdout
        assert stream is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = stream.readline()
            if not line:
                raise AssertionError("sandbox exited early:\n" + "".join(self.lines))
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no {pattern!r} in:\n" + "".join(self.lines))

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        assert KUBECTL is not None, "kubectl is installed by .ci/run"
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache)}
        result = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env,
                                timeout=60, check=False)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout


@pytest.fixture(params=["aws", "gcp"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    api_port = free_port()
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        sandbox_command("--provider", request.param, "--nodes", "2", "--port", str(api_port),
                        "--kubeconfig", str(kubeconfig)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    running = Sandbox(process, kubeconfig, api_port, tmp_path / "kubecache")
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def cloud_load_balancers(provider: str, endpoint: str, options: dict[str, str]) -> list[str]:
    """What the cloud itself says exists, through the cloud's own client library."""
    if provider == "aws":
        client = boto3.client("elbv2", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
        return [str(lb["LoadBalancerName"]) for lb in client.describe_load_balancers()["LoadBalancers"]]
    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    rules = compute_v1.ForwardingRulesClient(credentials=anonymous, transport="rest",
                                             client_options=ClientOptions(api_endpoint=endpoint))
    return [rule.name for rule in rules.list(project=options["gcp-project"], region=options["gcp-region"])]


def test_kubectl_round_trip_then_signal_stops_everything(sandbox: Sandbox) -> None:
    provider = sandbox.read_until(r"emulated (\w+) cloud: (\S+)")
    name, endpoint = provider.group(1), provider.group(2)
    cloud_port = int(endpoint.rsplit(":", 1)[1])
    options: dict[str, str] = {}
    while True:
        line = sandbox.read_until(r"^(  --(\S+)=(\S+)|export KUBECONFIG=(\S+))")
        if line.group(4):
            break
        options[line.group(2)] = line.group(3)
    sandbox.read_until(r"controller running")

    sandbox.kubectl("apply", "-f", "-", stdin=SERVICE_YAML)

    def external_ip() -> str | None:
        out = sandbox.kubectl("get", "svc", "shop", "--no-headers")
        columns = out.split()
        return columns[3] if len(columns) > 3 and columns[3] not in ("<pending>", "<none>") else None
    address = wait_for(external_ip, timeout=60, message="EXTERNAL-IP in kubectl get svc")
    assert address
    assert len(cloud_load_balancers(name, endpoint, options)) >= 1
    description = sandbox.kubectl("describe", "svc", "shop")
    assert "EnsuredLoadBalancer" in description

    sandbox.kubectl("delete", "svc", "shop", "--timeout=60s")
    services = json.loads(sandbox.kubectl("get", "svc", "-o", "json"))["items"]
    assert [s["metadata"]["name"] for s in services if s["spec"]["type"] == "LoadBalancer"] == []
    assert cloud_load_balancers(name, endpoint, options) == []

    sandbox.process.send_signal(signal.SIGINT if name == "aws" else signal.SIGTERM)
    assert sandbox.process.wait(timeout=30) == 0
    assert port_is_free(sandbox.api_port), "the emulated API server's port is released"
    assert port_is_free(cloud_port), "the emulated cloud's port is released"
