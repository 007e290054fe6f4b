"""Several Services on one load balancer (``cloudlb.io/share-key``) through the running operator.

The example plugin merges the members' ports into one load balancer; the core decides membership,
precedence and clashes, holds a finalizer on every member, and removes the load balancer with its
last member.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from cloudlb_example import ExampleProvider

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import FINALIZER
from cloudlb.sharing import SHARE_KEY_ANNOTATION
from cloudlb.status import SYNCED_CONDITION
from cloudlb.testing import RunningController, run_controller, service_manifest

SHARED = "test-shared-default-edge"


def member(name: str, ports: Sequence[tuple[int, str]], key: str = "edge", namespace: str = "default",
           **extra: Any) -> dict[str, Any]:
    return service_manifest(name, ports, namespace=namespace, annotations={SHARE_KEY_ANNOTATION: key}, **extra)


def cloud(ctl: RunningController) -> ExampleProvider:
    assert isinstance(ctl.provider, ExampleProvider)
    return ctl.provider


def address(ctl: RunningController, name: str, namespace: str = "default") -> str | None:
    service = ctl.service(namespace, name) or {}
    ingress = (service.get("status") or {}).get("loadBalancer", {}).get("ingress")
    return str(ingress[0]["ip"]) if ingress else None


def port_errors(ctl: RunningController, name: str) -> list[tuple[int, str]]:
    service = ctl.service("default", name) or {}
    ingress = (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    return [(p["port"], p["error"]) for entry in ingress for p in entry.get("ports", [])]


def served_ports(ctl: RunningController, lb_name: str) -> dict[str, list[int]]:
    lb = cloud(ctl).cloud.load_balancers.get(lb_name)
    return {m.service.name: [p.port for p in m.ports] for m in lb.members} if lb else {}


def ownership_metrics(ctl: RunningController) -> dict[str, tuple[float | None, float | None]]:
    """cloudlb_load_balancers and cloudlb_load_balancer_members, by sharing."""
    registry = ctl.reconciler.metrics.registry
    return {sharing: (registry.get_sample_value("cloudlb_load_balancers", {"sharing": sharing}),
                      registry.get_sample_value("cloudlb_load_balancer_members", {"sharing": sharing}))
            for sharing in ("dedicated", "shared")}


def settle(ctl: RunningController, seconds: float = 0.6) -> None:
    time.sleep(seconds)
    ctl.wait_for(ctl.idle, message="an idle work queue")


def test_two_services_with_one_key_share_one_load_balancer_and_a_clash_costs_only_that_port(
        kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(member("web", [(80, "TCP"), (443, "TCP")]))
        ctl.wait_for_ingress("default", "web")
        kube.create(member("dns", [(53, "UDP"), (53, "TCP")]))
        ctl.wait_for_ingress("default", "dns")
        assert address(ctl, "web") == address(ctl, "dns")
        assert [name for name in cloud(ctl).cloud.load_balancers] == [SHARED]
        assert served_ports(ctl, SHARED) == {"web": [80, 443], "dns": [53, 53]}

        time.sleep(1.1)  # creationTimestamp has one-second resolution: "late" is younger than "web"
        kube.create(member("late", [(443, "TCP"), (8443, "TCP")]))
        ctl.wait_for(lambda: port_errors(ctl, "late"), message="a port error on the clashing port")
        assert port_errors(ctl, "late") == [(443, "cloudlb.io/PortInUseBySharedLoadBalancer")]
        assert address(ctl, "late") == address(ctl, "web")
        assert served_ports(ctl, SHARED)["web"] == [80, 443], "the existing member keeps its port"
        warning = next(e for e in ctl.events("default", "late") if e["reason"] == "PortInUseBySharedLoadBalancer")
        assert "default/web" in warning["message"]
        for name in ("web", "dns", "late"):
            assert FINALIZER in (ctl.service("default", name) or {})["metadata"]["finalizers"]


def test_deleting_members_removes_only_their_ports_until_the_last_one_goes(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        for name, port in (("a", 80), ("b", 81), ("c", 82)):
            kube.create(member(name, [(port, "TCP")]))
            ctl.wait_for_ingress("default", name)
        shared_ip = address(ctl, "a")
        kube.delete("v1", "services", "default", "b")
        ctl.wait_for(lambda: ctl.service("default", "b") is None, message="b deleted")
        assert served_ports(ctl, SHARED) == {"a": [80], "c": [82]}
        assert address(ctl, "a") == address(ctl, "c") == shared_ip
        assert "DeletedLoadBalancer" in ctl.event_reasons("default", "b")
        kube.create(service_manifest("alone"))
        ctl.wait_for_ingress("default", "alone")
        assert ownership_metrics(ctl) == {"dedicated": (1, 1), "shared": (1, 2)}
        for name in ("a", "c", "alone"):
            kube.delete("v1", "services", "default", name)
        ctl.wait_for(lambda: not cloud(ctl).cloud.load_balancers, message="the load balancer gone with its last member")
        ctl.wait_for(lambda: ctl.service("default", "c") is None, message="c deleted")
        assert ownership_metrics(ctl) == {"dedicated": (0, 0), "shared": (0, 0)}


def test_an_incompatible_service_is_refused_whole_and_the_others_are_untouched(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(member("web", [(80, "TCP")]))
        ctl.wait_for_ingress("default", "web")
        time.sleep(1.1)  # younger than "web", which keeps the load balancer's settings
        kube.create(member("private", [(81, "TCP")], source_ranges=["10.0.0.0/8"]))
        ctl.wait_for(lambda: "IncompatibleWithSharedLoadBalancer" in ctl.event_reasons("default", "private"),
                     message="a Warning naming the incompatibility")
        settle(ctl)
        assert address(ctl, "private") is None
        assert served_ports(ctl, SHARED) == {"web": [80]}
        conditions = {c["type"]: c for c in (ctl.service("default", "private") or {})["status"]["conditions"]}
        assert conditions[SYNCED_CONDITION]["reason"] == "IncompatibleWithSharedLoadBalancer"


def test_changing_the_key_moves_a_service_without_disturbing_the_others(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(member("a", [(80, "TCP")]))
        kube.create(member("b", [(81, "TCP")]))
        ctl.wait_for_ingress("default", "a")
        ctl.wait_for_ingress("default", "b")
        first_ip = address(ctl, "a")
        ensures_of_a = cloud(ctl).cloud.count("ensure")
        kube.patch("v1", "services", "default", "b", {"metadata": {"annotations": {SHARE_KEY_ANNOTATION: None}}})
        ctl.wait_for(lambda: "test-default-b" in cloud(ctl).cloud.load_balancers, message="b on its own")
        ctl.wait_for(lambda: served_ports(ctl, SHARED) == {"a": [80]}, message="b's port gone from the shared one")
        ctl.wait_for(lambda: address(ctl, "b") not in (None, first_ip), message="b's status names its own address")
        assert address(ctl, "a") == first_ip
        assert cloud(ctl).cloud.count("ensure") > ensures_of_a


def test_namespaces_share_only_when_the_operator_allows_it(kube: EmulatedKubernetes) -> None:
    for namespace in ("team-a", "team-b", "team-c"):
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    with run_controller(kube, provider="example", share_namespaces="team-a,team-b") as ctl:
        for namespace, port in (("team-a", 80), ("team-b", 81), ("team-c", 82)):
            kube.create(member("svc", [(port, "TCP")], namespace=namespace))
        for namespace in ("team-a", "team-b", "team-c"):
            ctl.wait_for_ingress(namespace, "svc")
        assert address(ctl, "svc", "team-a") == address(ctl, "svc", "team-b") != address(ctl, "svc", "team-c")
        assert sorted(cloud(ctl).cloud.load_balancers) == ["test-shared-team-a+team-b-edge", "test-shared-team-c-edge"]


def test_a_restarted_controller_rebuilds_the_group_from_the_cloud(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(member("a", [(80, "TCP")]))
        kube.create(member("b", [(81, "TCP")]))
        ctl.wait_for_ingress("default", "a")
        ctl.wait_for_ingress("default", "b")
        the_cloud = cloud(ctl).cloud
    kube.delete("v1", "services", "default", "b")  # while no controller runs: b waits on its finalizer
    with run_controller(kube, provider="example", instance=ExampleProvider("test", the_cloud)) as ctl:
        ctl.wait_for(lambda: ctl.service("default", "b") is None, message="b's deletion finished")
        assert served_ports(ctl, SHARED) == {"a": [80]}
        settle(ctl)
        assert list(the_cloud.load_balancers) == [SHARED]
