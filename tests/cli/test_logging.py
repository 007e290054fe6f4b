"""``cloudlb run --log-format json --log-level debug`` against moto: parseable lines and no credential anywhere.

At debug level botocore logs every request's headers and every response's
body, where the session token, the access key id and the signature appear.
Credentials are planted with recognisable markers, once in the environment
(known to the process from the start) and once in a shared credentials file
(found by botocore at run time, so only their shape gives them away); the
Kubernetes bearer token is planted in the kubeconfig. A Service goes through
create, update and delete meanwhile, so that every kind of cloud call is logged.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.plugins import load_plugin
from cloudlb.sandbox_cloud import SandboxCloud
from cloudlb.testing import node_manifest, service_manifest, wait_for
from tests.cli.support import clean_environment, free_port, running, write_kubeconfig

pytestmark = pytest.mark.timeout(240)

ACCESS_KEY_ID = "AKIACLOUDLBMARKER001"
SECRET_ACCESS_KEY = "secret-key-MARKER-5f0c1e2d3c4b5a69788796a5b4c3d2e1"
SESSION_TOKEN = "session-token-MARKER-IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ"
KUBE_TOKEN = "kube-bearer-MARKER-eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9"
MARKERS = (ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, KUBE_TOKEN, "MARKER")


@pytest.fixture(scope="module")
def aws() -> Iterator[SandboxCloud]:
    plugin = load_plugin("aws")
    assert plugin.sandbox is not None
    cloud = plugin.sandbox(nodes=2, cluster_name="logs")
    assert isinstance(cloud, SandboxCloud)
    with cloud:
        yield cloud


def credentials_in_environment(tmp_path: Path) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_SESSION_TOKEN": SESSION_TOKEN}


def credentials_in_a_file(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "aws-credentials"
    path.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n"
                    f"aws_session_token = {SESSION_TOKEN}\n")
    return {"AWS_SHARED_CREDENTIALS_FILE": str(path)}


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def listener_ports(aws: SandboxCloud) -> list[int]:
    """The listener ports of the one load balancer in the emulated cloud (read with moto's own test keys)."""
    elbv2 = boto3.client("elbv2", endpoint_url=aws.endpoint, region_name=aws.environment["AWS_REGION"],
                         aws_access_key_id="testing", aws_secret_access_key="testing")
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    return sorted(listener["Port"] for listener in elbv2.describe_listeners(
        LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"])


def ingress(kube: EmulatedKubernetes, name: str) -> list[dict[str, Any]]:
    service = kube.get("v1", "services", "default", name) or {}
    found: list[dict[str, Any]] = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return found


@pytest.mark.parametrize("credentials", [credentials_in_environment, credentials_in_a_file],
                         ids=["environment", "credentials-file"])
def test_debug_json_logs_of_a_service_life_hold_no_credential(aws: SandboxCloud, tmp_path: Path,
                                                              credentials: Any) -> None:
    health = free_port()
    with EmulatedKubernetes() as kube:
        for instance in aws.instances:
            kube.create(node_manifest(instance.name, provider_id=instance.provider_id,
                                      internal_ip=instance.internal_ip, zone=instance.zone))
        env = clean_environment(
            tmp_path, KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", kube.url, token=KUBE_TOKEN)),
            AWS_ENDPOINT_URL=aws.endpoint, AWS_REGION=aws.environment["AWS_REGION"], **credentials(tmp_path))
        args = ["run", "--provider", "aws", "--cluster-name", "logs", "--serve-unclassed", "--log-format", "json",
                "--log-level", "debug", "--metrics-port", "0", "--health-port", str(health),
                "--leader-elect=false"]
        log = tmp_path / "controller.log"
        with running(args, env, log) as controller:
            wait_for(lambda: ready(health) or controller.poll() is not None, timeout=60, message="/readyz")
            assert controller.poll() is None, log.read_text()[-3000:]
            kube.create(service_manifest("web"))
            wait_for(lambda: ingress(kube, "web"), timeout=60, message="an ingress for default/web")
            ports = service_manifest("web", ports=[(80, "TCP"), (443, "TCP")])["spec"]["ports"]
            kube.patch("v1", "services", "default", "web", {"spec": {"ports": ports}})
            wait_for(lambda: listener_ports(aws) == [80, 443], timeout=60, message="the second listener")
            kube.delete("v1", "services", "default", "web")
            wait_for(lambda: kube.get("v1", "services", "default", "web") is None, timeout=60,
                     message="the Service deleted after its load balancer")
            events = json.dumps(kube.list("v1", "events", "default"))
            controller.send_signal(signal.SIGTERM)
            assert controller.wait(30) == 0
    output = log.read_text()
    lines = [json.loads(line) for line in output.splitlines()]  # every line is one JSON object

    assert [marker for marker in MARKERS if marker in output] == []
    assert [marker for marker in MARKERS if marker in events] == []
    # The wire logging really happened, with the credentials' places taken by the redaction marker.
    sent = [line["message"] for line in lines if line["logger"] == "botocore.endpoint"
            and "Sending http request" in line["message"]]
    assert sent and all("'X-Amz-Security-Token': b'[REDACTED]'" in message for message in sent)
    assert all("Credential=[REDACTED]/" in message for message in sent)
    start = lines[0]
    assert start["logger"] == "cloudlb" and start["version"] and start["settings"]["provider"] == "aws"
    assert {line["level"] for line in lines} <= {"debug", "info", "warning", "error"}
    assert not [line for line in lines if line["level"] == "error"]
