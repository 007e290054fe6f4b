"""A misconfigured ``cloudlb run`` ends within seconds: exit code 1, one plain line naming the setting and the fix.

Each case runs the real command as a process. The first line on stderr is the
start-up line (version and settings); the second says what is wrong. No
traceback, no retry loop.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from tests.cli.support import Finished, clean_environment, free_port, run_to_end, write_kubeconfig

pytestmark = pytest.mark.timeout(120)

EXAMPLE = ["run", "--provider", "example", "--cluster-name", "test", "--metrics-port", "0", "--health-port", "0"]


@pytest.fixture(scope="module")
def kube() -> Iterator[EmulatedKubernetes]:
    with EmulatedKubernetes() as emulated:
        yield emulated


@pytest.fixture
def kubeconfig(kube: EmulatedKubernetes, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", kube.url)


# The process must end within 10 s of its launch. Starting the interpreter and importing kopf take a second
# or two on an idle machine but far longer on a loaded one, so the launch-to-exit bound allows for that
# while the controller's own part, from its first log line to its exit, is held to the 10 s.
LAUNCH_ALLOWANCE = 20.0


def assert_fails_fast(result: Finished, *expected: str, within: float = 10) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert 1 <= len(result.lines) <= 2, result.stderr
    assert "starting:" in result.lines[0]
    assert result.seconds_after_start_line < within, f"{result.seconds_after_start_line:.1f}s after the first line"
    assert result.seconds < within + LAUNCH_ALLOWANCE, f"took {result.seconds:.1f}s"
    for text in expected:
        assert text in result.lines[-1], result.stderr


def test_kubeconfig_naming_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "kubeconfig"
    result = run_to_end(EXAMPLE, clean_environment(tmp_path, KUBECONFIG=str(missing)))
    assert_fails_fast(result, f"KUBECONFIG names {missing}, which does not exist", "point KUBECONFIG at")


def test_no_kubernetes_credentials_at_all(tmp_path: Path) -> None:
    result = run_to_end(EXAMPLE, clean_environment(tmp_path))
    assert_fails_fast(result, "no Kubernetes credentials", "set KUBECONFIG")


def test_unreachable_api_server(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    env = clean_environment(tmp_path, KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", dead)))
    result = run_to_end(EXAMPLE, env)
    assert_fails_fast(result, f"cannot reach the Kubernetes API server at {dead}", "check the server in KUBECONFIG")


def test_api_server_that_never_answers(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) but never answers a request
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        server = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = clean_environment(tmp_path, KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", server)))
        result = run_to_end(EXAMPLE, env)
    assert_fails_fast(result, f"cannot reach the Kubernetes API server at {server}", "no answer within")


@pytest.mark.parametrize("option", ["--health-port", "--metrics-port"])
def test_port_in_use(option: str, kubeconfig: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        args = ["run", "--provider", "example", "--cluster-name", "test", "--metrics-port", "0", "--health-port", "0",
                option, str(port)]
        result = run_to_end(args, clean_environment(tmp_path, KUBECONFIG=str(kubeconfig)))
    assert_fails_fast(result, f"port {port} ({option}) is already in use", f"choose another port with {option}")


def test_lease_in_a_namespace_that_does_not_exist(kubeconfig: Path, tmp_path: Path) -> None:
    result = run_to_end([*EXAMPLE, "--leader-elect-resource-namespace", "cloudlb-missing"],
                        clean_environment(tmp_path, KUBECONFIG=str(kubeconfig)))
    assert_fails_fast(result, "the namespace 'cloudlb-missing' does not exist", "--leader-elect-resource-namespace")


def test_aws_without_a_region(kubeconfig: Path, tmp_path: Path) -> None:
    env = clean_environment(tmp_path, KUBECONFIG=str(kubeconfig), AWS_ACCESS_KEY_ID="AKIACLOUDLBTESTKEY01",
                            AWS_SECRET_ACCESS_KEY="not-a-real-secret-key")
    result = run_to_end(["run", "--provider", "aws", "--cluster-name", "test", "--metrics-port", "0",
                         "--health-port", "0"], env)
    assert_fails_fast(result, "provider 'aws': no AWS region is set", "set AWS_REGION")


def test_aws_endpoint_that_cannot_be_reached(kubeconfig: Path, tmp_path: Path) -> None:
    env = clean_environment(tmp_path, KUBECONFIG=str(kubeconfig), AWS_REGION="eu-west-1",
                            AWS_ACCESS_KEY_ID="AKIACLOUDLBTESTKEY01", AWS_SECRET_ACCESS_KEY="not-a-real-secret-key",
                            AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    result = run_to_end(["run", "--provider", "aws", "--cluster-name", "test", "--metrics-port", "0",
                         "--health-port", "0"], env)
    assert_fails_fast(result, "cannot reach the AWS load balancing API in region eu-west-1", "AWS_ENDPOINT_URL")


# Importing google-cloud-compute alone costs ~5 s of CPU (its generated types), before any check can run.
GCP_IMPORT_ALLOWANCE = 20


def test_gcp_endpoint_that_cannot_be_reached(kubeconfig: Path, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = run_to_end(["run", "--provider", "gcp", "--cluster-name", "test", "--metrics-port", "0",
                         "--health-port", "0", "--gcp-project", "proj-12345", "--gcp-region", "us-east1",
                         "--gcp-endpoint", endpoint], clean_environment(tmp_path, KUBECONFIG=str(kubeconfig)))
    assert_fails_fast(result, "provider 'gcp': cannot reach the Compute API at", "--gcp-endpoint",
                      within=GCP_IMPORT_ALLOWANCE)


def test_gcp_port_in_use_is_reported_before_the_sdk_is_even_loaded(kubeconfig: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_to_end(["run", "--provider", "gcp", "--cluster-name", "test", "--metrics-port", "0",
                             "--health-port", str(port), "--gcp-project", "proj-12345", "--gcp-region", "us-east1"],
                            clean_environment(tmp_path, KUBECONFIG=str(kubeconfig)))
    assert_fails_fast(result, f"port {port} (--health-port) is already in use")
