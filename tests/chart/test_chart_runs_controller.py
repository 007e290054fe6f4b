"""The chart's pod, run for real: its command, arguments and environment against emulated Kubernetes and GCE.

What a kubelet would do with the rendered Deployment, minus the container: run
the container's command with its args and env, apply the rendered
ClusterKopfPeering, probe the health port the probes name and scrape the port
the metrics Service targets, then serve a Service of the chart's class. The
cloud is the GCP provider's emulator (real HTTP); Kubernetes is the emulated
API server (real HTTP, kopf logs in through a kubeconfig).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.plugins import load_plugin
from cloudlb.sandbox_cloud import SandboxCloud
from cloudlb.testing import WaitTimeout, node_manifest, service_manifest, wait_for
from tests.chart.rendering import controller_container, only_object, rendered_objects

pytestmark = pytest.mark.timeout(120)

CLUSTER = "chart-e2e"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return None


@dataclass
class RunningPod:
    kube: EmulatedKubernetes
    objects: list[dict[str, Any]]
    process: subprocess.Popen[bytes]
    log: Path

    def port(self, name: str) -> int:
        ports = {p["name"]: int(p["containerPort"]) for p in controller_container(self.objects)["ports"]}
        return ports[name]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_for(self, predicate: Callable[[], T | None], what: str, timeout: float = 60) -> T:
        """Like cloudlb.testing.wait_for, but a timeout shows what the controller logged meanwhile."""
        try:
            return wait_for(predicate, timeout=timeout, message=what)
        except WaitTimeout as timeout_error:
            exit_code = self.process.poll()
            raise AssertionError(f"{timeout_error} (controller exit code: {exit_code}); its output:\n"
                                 f"{self.output()}") from None


@pytest.fixture(scope="module")
def gcp_cloud() -> Iterator[SandboxCloud]:
    plugin = load_plugin("gcp")
    assert plugin.sandbox is not None
    cloud = plugin.sandbox(nodes=2, cluster_name=CLUSTER)
    assert isinstance(cloud, SandboxCloud)
    with cloud:
        yield cloud


@pytest.fixture(scope="module")
def pod(gcp_cloud: SandboxCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPod]:
    """One controller process for the whole module: starting it (imports included) takes about ten seconds."""
    tmp_path = tmp_path_factory.mktemp("pod")
    values = {
        "provider": "gcp", "clusterName": CLUSTER,
        "gcp": {"project": gcp_cloud.options["gcp-project"], "region": gcp_cloud.options["gcp-region"],
                "endpoint": gcp_cloud.options["gcp-endpoint"]},
        # Free ports instead of 8080/9090: other test runs share this machine.
        "health": {"port": free_port()}, "metrics": {"port": free_port()},
        "terminationGracePeriodSeconds": 10,
    }
    objects = rendered_objects(values)
    container = controller_container(objects)
    with EmulatedKubernetes() as kube:
        for instance in gcp_cloud.instances:
            kube.create(node_manifest(instance.name, provider_id=instance.provider_id,
                                      internal_ip=instance.internal_ip, zone=instance.zone))
        kube.create(only_object(objects, "ClusterKopfPeering"))
        environment = {**os.environ, **gcp_cloud.environment,
                       **{item["name"]: item["value"] for item in container.get("env", [])},
                       "KUBECONFIG": str(kube.write_kubeconfig(tmp_path / "kubeconfig"))}
        # The container's command, found where the image puts it: on PATH next to this interpreter.
        command = [str(Path(sys.executable).parent / container["command"][0]), *container["args"]]
        log = tmp_path / "controller.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(command, env=environment, stdout=sink, stderr=subprocess.STDOUT)
        try:
            yield RunningPod(kube, objects, process, log)
        finally:
            if process.poll() is None:
                process.kill()  # what the kubelet does once the grace period is over
            process.wait(10)


def test_rendered_pod_becomes_healthy_joins_its_peering_and_serves_metrics(pod: RunningPod) -> None:
    container = controller_container(pod.objects)
    probe_path = container["livenessProbe"]["httpGet"]["path"]
    assert container["readinessProbe"]["httpGet"]["path"] == probe_path

    health = pod.wait_for(lambda: http_get(f"http://127.0.0.1:{pod.port('health')}{probe_path}"),
                          "the probe endpoint")
    assert health[0] == 200, pod.output()

    peering_name = only_object(pod.objects, "ClusterKopfPeering")["metadata"]["name"]
    peers = pod.wait_for(lambda: (pod.kube.get("kopf.dev/v1", "clusterkopfpeerings", None, peering_name) or {})
                         .get("status"), "the replica's entry in the peering object")
    assert len(peers) == 1

    service = only_object(pod.objects, "Service")
    target = service["spec"]["ports"][0]["targetPort"]
    metrics = pod.wait_for(lambda: http_get(f"http://127.0.0.1:{pod.port(target)}/metrics"),
                           "the metrics endpoint")
    assert metrics[0] == 200
    assert "cloudlb_" in metrics[1]


def test_rendered_pod_serves_its_class_and_leaves_unclassed_services_alone(
        pod: RunningPod, gcp_cloud: SandboxCloud) -> None:
    pod.kube.create(service_manifest("classed", load_balancer_class="cloudlb.io/gcp"))
    pod.kube.create(service_manifest("unclassed"))

    def ingress() -> list[dict[str, Any]] | None:
        found = pod.kube.get("v1", "services", "default", "classed") or {}
        ingresses: list[dict[str, Any]] | None = found.get("status", {}).get("loadBalancer", {}).get("ingress")
        return ingresses

    served = pod.wait_for(ingress, "an ingress address")
    assert served[0].get("ip")
    # Class-only mode is the chart's default: the Service without a class is the cloud-controller-manager's.
    unclassed = pod.kube.get("v1", "services", "default", "unclassed") or {}
    assert not unclassed.get("status", {}).get("loadBalancer", {}).get("ingress")
    assert "service.kubernetes.io/load-balancer-cleanup" not in unclassed["metadata"].get("finalizers", [])
    assert gcp_cloud.leftovers()  # the classed Service's load balancer exists in the emulated cloud


@pytest.mark.xfail(strict=True, reason=(
    "cloudlb run hangs after kopf has stopped: cli.py passes a threading.Event stop_flag that kopf waits on in "
    "the default executor, but kopf handles SIGTERM itself and never sets it, so asyncio.run() blocks joining "
    "that executor thread; the kubelet then has to SIGKILL the pod after terminationGracePeriodSeconds"))
def test_rendered_pod_stops_on_sigterm_within_its_grace_period(pod: RunningPod) -> None:
    # Runs last: it stops the module's controller.
    grace = only_object(pod.objects, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    pod.wait_for(lambda: http_get(f"http://127.0.0.1:{pod.port('health')}/healthz"), "the probe endpoint")
    pod.process.send_signal(signal.SIGTERM)
    try:
        pod.process.wait(grace)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {grace}s after SIGTERM; its output:\n{pod.output()}")
    assert pod.process.returncode == 0, pod.output()
