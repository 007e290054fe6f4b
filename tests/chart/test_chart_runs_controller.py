"""The chart's Deployment, run for real: its replicas' command, args and env against emulated Kubernetes and GCE.

What the kubelets would do with the rendered Deployment, minus the containers:
start ``spec.replicas`` processes with the container's command, args and env
(the downward API's pod name included), probe the paths and port the probes
name, scrape the port the metrics Service targets, then serve a Service of the
chart's class. The cloud is the GCP provider's emulator (real HTTP);
Kubernetes is the emulated API server (real HTTP, kopf logs in through a
kubeconfig). Each replica gets its own free ports, as each pod would have its
own network namespace; everything else is the rendered pod as is.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.plugins import load_plugin
from cloudlb.sandbox_cloud import SandboxCloud
from cloudlb.testing import WaitTimeout, node_manifest, service_manifest, wait_for
from tests.chart.rendering import (
    RELEASE_NAMESPACE,
    controller_container,
    expand_rules,
    only_object,
    rendered_objects,
    requested_rules,
)

pytestmark = pytest.mark.timeout(180)

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


def answers_ok(url: str) -> bool:
    answer = http_get(url)
    return answer is not None and answer[0] == 200


@dataclass
class Replica:
    name: str  # the pod's name, given to the container through the downward API
    objects: list[dict[str, Any]]  # the chart rendered with this replica's ports
    process: subprocess.Popen[bytes]
    log: Path

    def port(self, name: str) -> int:
        ports = {p["name"]: int(p["containerPort"]) for p in controller_container(self.objects)["ports"]}
        return ports[name]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class RunningDeployment:
    kube: EmulatedKubernetes
    replicas: list[Replica]

    @property
    def objects(self) -> list[dict[str, Any]]:
        return self.replicas[0].objects

    def wait_for(self, predicate: Callable[[], T | None], what: str, timeout: float = 60) -> T:
        """Like cloudlb.testing.wait_for, but a timeout shows what the replicas logged meanwhile."""
        try:
            return wait_for(predicate, timeout=timeout, message=what)
        except WaitTimeout as timeout_error:
            logs = "\n".join(f"--- replica {i} (exit code {r.process.poll()}):\n{r.output()[-3000:]}"
                             for i, r in enumerate(self.replicas))
            raise AssertionError(f"{timeout_error}\n{logs}") from None


@pytest.fixture(scope="module")
def gcp_cloud() -> Iterator[SandboxCloud]:
    plugin = load_plugin("gcp")
    assert plugin.sandbox is not None
    cloud = plugin.sandbox(nodes=2, cluster_name=CLUSTER)
    assert isinstance(cloud, SandboxCloud)
    with cloud:
        yield cloud


def chart_values(cloud: SandboxCloud) -> dict[str, Any]:
    return {
        "provider": "gcp", "clusterName": CLUSTER,
        "gcp": {"project": cloud.options["gcp-project"], "region": cloud.options["gcp-region"],
                "endpoint": cloud.options["gcp-endpoint"]},
        # Free ports instead of 8080/9090: the replicas, and other test runs, share this machine.
        "health": {"port": free_port()}, "metrics": {"port": free_port()},
        "terminationGracePeriodSeconds": 10,
    }


def container_env(item: dict[str, Any], pod_name: str) -> str:
    """An env entry's value, the way the kubelet fills it: a literal, or the downward API's pod name."""
    if "value" in item:
        return str(item["value"])
    assert item["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, item
    return pod_name


def start_replica(name: str, objects: list[dict[str, Any]], environment: dict[str, str], log: Path) -> Replica:
    container = controller_container(objects)
    env = {**environment, **{item["name"]: container_env(item, name) for item in container.get("env", [])}}
    # The container's command, found where the image puts it: on PATH next to this interpreter.
    command = [str(Path(sys.executable).parent / container["command"][0]), *container["args"]]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    return Replica(name, objects, process, log)


@pytest.fixture(scope="module")
def deployment(gcp_cloud: SandboxCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDeployment]:
    """The rendered Deployment's replicas, once for the module: each start (imports included) takes seconds."""
    tmp_path = tmp_path_factory.mktemp("deployment")
    first = rendered_objects(chart_values(gcp_cloud))
    count = only_object(first, "Deployment")["spec"]["replicas"]
    with EmulatedKubernetes() as kube:
        for instance in gcp_cloud.instances:
            kube.create(node_manifest(instance.name, provider_id=instance.provider_id,
                                      internal_ip=instance.internal_ip, zone=instance.zone))
        environment = {**os.environ, **gcp_cloud.environment,
                       "KUBECONFIG": str(kube.write_kubeconfig(tmp_path / "kubeconfig"))}
        renders = [first] + [rendered_objects(chart_values(gcp_cloud)) for _ in range(count - 1)]
        replicas = [start_replica(f"cloudlb-7d4b9c-{index}", objects, environment, tmp_path / f"replica-{index}.log")
                    for index, objects in enumerate(renders)]
        try:
            yield RunningDeployment(kube, replicas)
        finally:
            for replica in replicas:
                if replica.process.poll() is None:
                    replica.process.kill()  # what the kubelet does once the grace period is over
                replica.process.wait(10)


def test_default_deployment_runs_two_replicas(deployment: RunningDeployment) -> None:
    assert len(deployment.replicas) == 2


def test_every_replica_passes_its_probes_and_serves_metrics(deployment: RunningDeployment) -> None:
    container = controller_container(deployment.objects)
    probes = [container[probe]["httpGet"]["path"] for probe in ("livenessProbe", "readinessProbe")]
    target = only_object(deployment.objects, "Service")["spec"]["ports"][0]["targetPort"]
    for replica in deployment.replicas:
        for path in probes:
            url = f"http://127.0.0.1:{replica.port('health')}{path}"
            deployment.wait_for(partial(answers_ok, url), f"200 from {path}")
        metrics = deployment.wait_for(partial(http_get, f"http://127.0.0.1:{replica.port(target)}/metrics"),
                                      "the metrics endpoint")
        assert metrics[0] == 200
        assert "cloudlb_build_info" in metrics[1]


def lease_holder(deployment: RunningDeployment) -> str | None:
    role = only_object(deployment.objects, "Role")
    (name,) = [rule["resourceNames"][0] for rule in role["rules"] if rule.get("resourceNames")]
    lease = deployment.kube.get("coordination.k8s.io/v1", "leases", RELEASE_NAMESPACE, name) or {}
    holder: str | None = (lease.get("spec") or {}).get("holderIdentity")
    return holder


def leader_lines(replica: Replica) -> list[dict[str, Any]]:
    """The JSON log lines (the chart's default format) in which this replica says it became the leader."""
    lines = [json.loads(line) for line in replica.output().splitlines() if line.startswith("{")]
    return [line for line in lines if line["message"].startswith("became the leader")]


def test_exactly_one_replica_holds_the_lease_under_its_pod_name(deployment: RunningDeployment) -> None:
    holder = deployment.wait_for(lambda: lease_holder(deployment), "a holder of the Lease")
    assert holder in [replica.name for replica in deployment.replicas]
    leaders = [replica for replica in deployment.replicas if leader_lines(replica)]
    assert [replica.name for replica in leaders] == [holder]


def test_deployment_serves_its_class_and_leaves_unclassed_services_alone(
        deployment: RunningDeployment, gcp_cloud: SandboxCloud) -> None:
    kube = deployment.kube
    kube.create(service_manifest("classed", load_balancer_class="cloudlb.io/gcp"))
    kube.create(service_manifest("unclassed"))

    def ingress() -> list[dict[str, Any]] | None:
        found = kube.get("v1", "services", "default", "classed") or {}
        ingresses: list[dict[str, Any]] | None = found.get("status", {}).get("loadBalancer", {}).get("ingress")
        return ingresses

    served = deployment.wait_for(ingress, "an ingress address")
    assert served[0].get("ip")
    # Class-only mode is the chart's default: the Service without a class is the cloud-controller-manager's.
    unclassed = kube.get("v1", "services", "default", "unclassed") or {}
    assert not unclassed.get("status", {}).get("loadBalancer", {}).get("ingress")
    assert "service.kubernetes.io/load-balancer-cleanup" not in unclassed["metadata"].get("finalizers", [])
    assert gcp_cloud.leftovers()  # the classed Service's load balancer exists in the emulated cloud


def test_every_request_of_the_replicas_is_granted_by_the_roles(deployment: RunningDeployment) -> None:
    # Runs after the Service test, so that the requests of serving a Service are in. The full "nothing
    # else" comparison needs a longer run (garbage collection starts after a minute); this one checks that
    # the chart's roles let the chart's pods do everything they did.
    rules = [rule for kind in ("ClusterRole", "Role") for rule in only_object(deployment.objects, kind)["rules"]]
    granted = set(expand_rules(rules))
    deployment.wait_for(lambda: any(r.resource == "leases" and r.verb == "update" for r in deployment.kube.requests),
                        "a renewal of the Lease")
    requests = [r for r in deployment.kube.requests if r.resource]  # discovery is allowed to every user
    made = requested_rules(requests)
    assert ("", "services/status", "patch") in made  # the run did serve a Service
    assert ("coordination.k8s.io", "leases", "update") in made  # and renewed its Lease
    assert made - granted == set()
    restricted = [rule for rule in rules if rule.get("resourceNames")]
    for rule in restricted:
        for request in requests:
            if request.resource in rule["resources"] and request.verb in rule["verbs"]:
                assert request.name in rule["resourceNames"], request


def test_replicas_stop_on_sigterm_within_their_grace_period(deployment: RunningDeployment) -> None:
    # Runs last: it stops the module's controllers.
    spec = only_object(deployment.objects, "Deployment")["spec"]["template"]["spec"]
    grace = spec["terminationGracePeriodSeconds"]
    for replica in deployment.replicas:
        replica.process.send_signal(signal.SIGTERM)
    for replica in deployment.replicas:
        try:
            replica.process.wait(grace)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {grace}s after SIGTERM; its output:\n{replica.output()[-3000:]}")
        assert replica.process.returncode == 0, replica.output()[-3000:]
    assert lease_holder(deployment) == ""  # released on the way out: a new pod takes over at once
