"""The operator end to end: kopf in-process, the emulated Kubernetes API over HTTP, the example plugin.

The example provider is loaded through its entry point like any third-party
plugin; its in-memory cloud records every call, so each test can tell what the
controller asked of the provider and what it wrote back to Kubernetes.
"""

from __future__ import annotations

import time
from typing import Any

from cloudlb_example import ExampleProvider, FakeLoadBalancer

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import FINALIZER, Protocol, ServiceRef
from cloudlb.provider import PermanentError, RetryLater
from cloudlb.status import PORTS_ERROR_CONDITION, SYNCED_CONDITION
from cloudlb.testing import RunningController, node_manifest, run_controller, service_manifest, wait_for

WEB = ServiceRef("default", "web")


def cloud(ctl: RunningController) -> ExampleProvider:
    assert isinstance(ctl.provider, ExampleProvider)
    return ctl.provider


def conditions(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (service.get("status") or {}).get("conditions", [])}


def settle(ctl: RunningController, seconds: float = 0.6) -> None:
    """Let the controller run for a while, then wait until its queue is empty."""
    time.sleep(seconds)
    ctl.wait_for(ctl.idle, message="an idle work queue")


def test_create_adds_finalizer_builds_load_balancer_and_writes_status(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web", ports=[(80, "TCP"), (53, "UDP")]))
        service = ctl.wait_for_ingress("default", "web")
        assert FINALIZER in service["metadata"]["finalizers"]
        assert service["status"]["loadBalancer"]["ingress"] == [{"ip": "198.51.100.1", "ipMode": "VIP"}]
        assert conditions(service)[SYNCED_CONDITION]["status"] == "True"
        assert conditions(service)[PORTS_ERROR_CONDITION]["status"] == "False"
        built = cloud(ctl).cloud.load_balancers["test-default-web"].spec
        assert built is not None
        assert sorted((p.port, p.protocol) for p in built.ports) == [(53, Protocol.UDP), (80, Protocol.TCP)]
        assert all(p.node_port is not None and 30000 <= p.node_port <= 32767 for p in built.ports)
        assert {b.provider_id for b in built.backends} == {"example://zone-a/vm-0", "example://zone-a/vm-1"}
        expected = {"EnsuringLoadBalancer", "EnsuredLoadBalancer"}
        ctl.wait_for(lambda: expected <= set(ctl.event_reasons("default", "web")), message="Ensuring/Ensured events")


def test_no_change_resync_replans_but_writes_nothing(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web"))
        version = ctl.wait_for_ingress("default", "web")["metadata"]["resourceVersion"]
        settle(ctl)
        events_before = len(ctl.events("default", "web"))
        ensures, observes = cloud(ctl).cloud.count("ensure", WEB), cloud(ctl).cloud.count("observe")
        ctl.resync()
        ctl.wait_for(lambda: cloud(ctl).cloud.count("observe") > observes, message="a resync plan")
        settle(ctl)
        assert cloud(ctl).cloud.count("ensure", WEB) == ensures, "an empty plan changes nothing in the cloud"
        assert ctl.service("default", "web")["metadata"]["resourceVersion"] == version  # type: ignore[index]
        assert len(ctl.events("default", "web")) == events_before


def test_port_update_converges(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        kube.patch("v1", "services", "default", "web",
                   {"spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}})

        def ports() -> list[int] | None:
            spec = cloud(ctl).cloud.load_balancers["test-default-web"].spec
            found = [p.port for p in spec.ports] if spec else []
            return found if found == [443] else None
        ctl.wait_for(ports, message="the load balancer to serve 443 only")


def test_sctp_on_external_reports_the_port_and_serves_the_rest(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web", ports=[(80, "TCP"), (9000, "SCTP")]))
        service = ctl.wait_for_ingress("default", "web")
        assert service["status"]["loadBalancer"]["ingress"][0]["ports"] == [
            {"port": 9000, "protocol": "SCTP", "error": "cloudlb.io/ProtocolNotSupported"}]
        assert conditions(service)[PORTS_ERROR_CONDITION]["status"] == "True"
        built = cloud(ctl).cloud.load_balancers["test-default-web"].spec
        assert built is not None and [p.port for p in built.ports] == [80]
        warning = ctl.wait_for(lambda: [e for e in ctl.events("default", "web")
                                        if e["reason"] == "ProtocolNotSupported"], message="a Warning Event")
        assert warning[0]["type"] == "Warning" and "spec.ports[9000/SCTP]" in warning[0]["message"]


def test_type_change_away_cleans_up_and_removes_finalizer(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        kube.patch("v1", "services", "default", "web", {"spec": {"type": "ClusterIP"}})

        def cleaned() -> bool:
            service = ctl.service("default", "web") or {}
            return (FINALIZER not in service["metadata"].get("finalizers", [])
                    and not (service.get("status") or {}).get("loadBalancer", {}).get("ingress"))
        ctl.wait_for(cleaned, message="finalizer and status removed")
        assert "test-default-web" not in cloud(ctl).cloud.load_balancers
        assert {"DeletingLoadBalancer", "DeletedLoadBalancer"} <= set(ctl.event_reasons("default", "web"))


def test_delete_removes_load_balancer_before_the_service_goes(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        kube.delete("v1", "services", "default", "web")
        ctl.wait_for(lambda: ctl.service("default", "web") is None, message="the Service to be gone")
        assert "test-default-web" not in cloud(ctl).cloud.load_balancers
        assert cloud(ctl).cloud.count("delete", WEB) == 1


def test_class_filtering(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("other", load_balancer_class="example.com/someone-else"))
        kube.create(service_manifest("ours", load_balancer_class="cloudlb.io/example"))
        kube.create(service_manifest("plain", service_type="ClusterIP"))
        ctl.wait_for_ingress("default", "ours")
        settle(ctl)
        other = ctl.service("default", "other") or {}
        assert "finalizers" not in other["metadata"] or FINALIZER not in other["metadata"]["finalizers"]
        assert not (other.get("status") or {}).get("loadBalancer")
        assert cloud(ctl).cloud.count("ensure", ServiceRef("default", "other")) == 0
        assert cloud(ctl).cloud.count("ensure", ServiceRef("default", "plain")) == 0


def test_without_serve_unclassed_services_without_class_are_left_alone(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example", serve_unclassed=False) as ctl:
        kube.create(service_manifest("unclassed"))
        kube.create(service_manifest("ours", load_balancer_class="cloudlb.io/example"))
        ctl.wait_for_ingress("default", "ours")
        settle(ctl)
        assert cloud(ctl).cloud.count("ensure", ServiceRef("default", "unclassed")) == 0


def test_nodes_added_removed_or_excluded_update_backends_only_when_the_set_changes(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web"))
        kube.create(service_manifest("api"))
        kube.create(service_manifest("elsewhere", load_balancer_class="example.com/other"))
        ctl.wait_for_ingress("default", "web")
        ctl.wait_for_ingress("default", "api")
        settle(ctl)

        def backends(name: str) -> set[str]:
            spec = cloud(ctl).cloud.load_balancers[f"test-default-{name}"].spec
            return {b.node_name for b in spec.backends} if spec else set()

        before = cloud(ctl).cloud.count("ensure")
        kube.patch("v1", "nodes", None, "node-0", {"metadata": {"labels": {"team": "blue"}}})
        settle(ctl)
        assert cloud(ctl).cloud.count("ensure") == before, "a label that does not change eligibility"

        kube.create(node_manifest("node-2", provider_id="example://zone-a/vm-2", internal_ip="10.0.0.12",
                                  zone="zone-a"))
        ctl.wait_for(lambda: backends("web") == backends("api") == {"node-0", "node-1", "node-2"},
                     message="node-2 added to both load balancers")
        kube.patch("v1", "nodes", None, "node-1",
                   {"metadata": {"labels": {"node.kubernetes.io/exclude-from-external-load-balancers": "true"}}})
        ctl.wait_for(lambda: backends("web") == backends("api") == {"node-0", "node-2"}, message="node-1 excluded")
        kube.delete("v1", "nodes", None, "node-2")
        ctl.wait_for(lambda: backends("web") == backends("api") == {"node-0"}, message="node-2 removed")
        settle(ctl)
        # one ensure per Service per real change of the set, and none for the other class
        assert cloud(ctl).cloud.count("ensure") == before + 6
        assert cloud(ctl).cloud.count("ensure", ServiceRef("default", "elsewhere")) == 0
        assert "UpdatedLoadBalancer" in ctl.event_reasons("default", "web")


def test_no_nodes_warns_unavailable_and_still_serves_an_address(kube: EmulatedKubernetes) -> None:
    for name in ("node-0", "node-1"):
        kube.delete("v1", "nodes", None, name)
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        ctl.wait_for(lambda: "UnAvailableLoadBalancer" in ctl.event_reasons("default", "web"),
                     message="UnAvailableLoadBalancer")


def test_transient_failures_back_off_then_converge(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example", backoff_base=0.2) as ctl:
        cloud(ctl).cloud.fail("ensure", RetryLater("throttled"), RuntimeError("connection reset"))
        started = time.monotonic()
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        elapsed = time.monotonic() - started
        assert cloud(ctl).cloud.count("ensure", WEB) == 3
        assert elapsed >= 0.2 + 0.4, "two backoffs: 0.2s then 0.4s"
        failures = [e for e in ctl.events("default", "web") if e["reason"] == "SyncLoadBalancerFailed"]
        assert len(failures) == 2 and all(e["type"] == "Warning" for e in failures)
        service = ctl.service("default", "web") or {}
        assert conditions(service)[SYNCED_CONDITION]["status"] == "True"


def test_permanent_error_warns_once_and_waits_for_a_change(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example", backoff_base=0.05, resync_interval=0.3) as ctl:
        cloud(ctl).cloud.fail("ensure", PermanentError("certificate not found"))
        kube.create(service_manifest("web"))
        ctl.wait_for(lambda: (conditions(ctl.service("default", "web") or {}).get(SYNCED_CONDITION) or {})
                     .get("status") == "False", message="a failed Synced condition")
        settle(ctl, 1.5)  # several resync periods pass
        assert cloud(ctl).cloud.count("ensure", WEB) == 1, "no hot loop on a permanent error"
        assert ctl.event_reasons("default", "web").count("SyncLoadBalancerFailed") == 1
        kube.patch("v1", "services", "default", "web", {"metadata": {"annotations": {"fixed": "yes"}}})
        ctl.wait_for_ingress("default", "web")


def test_bad_input_warns_and_sets_status_while_other_services_are_served(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("bad", source_ranges=["10.0.0.0/8", "10.0.0.0/33"]))
        kube.create(service_manifest("good"))
        ctl.wait_for_ingress("default", "good")
        def bad_with_condition() -> dict[str, Any] | None:
            service = ctl.service("default", "bad")
            return service if service and SYNCED_CONDITION in conditions(service) else None
        bad = ctl.wait_for(bad_with_condition, message="a status condition on the bad Service")
        assert conditions(bad)[SYNCED_CONDITION]["reason"] == "InvalidSourceRange"
        assert "10.0.0.0/33" in conditions(bad)[SYNCED_CONDITION]["message"]
        assert cloud(ctl).cloud.count("ensure", ServiceRef("default", "bad")) == 0
        warning = ctl.wait_for(lambda: [e for e in ctl.events("default", "bad") if e["type"] == "Warning"],
                               message="a Warning Event")
        assert "spec.loadBalancerSourceRanges" in warning[0]["message"]


def test_too_many_ports_is_rejected_clearly(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("wide", ports=[(1000 + i, "TCP") for i in range(9)]))
        ctl.wait_for(lambda: "TooManyPorts" in ctl.event_reasons("default", "wide"), message="TooManyPorts")
        assert cloud(ctl).cloud.count("ensure", ServiceRef("default", "wide")) == 0


def test_foreign_load_balancer_with_colliding_name_is_left_alone(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        foreign = FakeLoadBalancer(owner="someone-else", spec=None, ip="192.0.2.99")
        cloud(ctl).cloud.load_balancers["test-default-web"] = foreign
        kube.create(service_manifest("web"))
        ctl.wait_for(lambda: "LoadBalancerNotOwned" in ctl.event_reasons("default", "web"), message="NotOwned")
        kube.delete("v1", "services", "default", "web")
        ctl.wait_for(lambda: ctl.service("default", "web") is None, message="the Service to be gone")
        assert cloud(ctl).cloud.load_balancers["test-default-web"] is foreign


def test_orphaned_load_balancer_is_garbage_collected(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example", gc_initial_delay=0.5, gc_interval=0.5) as ctl:
        orphan = FakeLoadBalancer(owner="test/default/gone", spec=None, ip="198.51.100.200")
        other_cluster = FakeLoadBalancer(owner="another-cluster/default/gone", spec=None, ip="198.51.100.201")
        cloud(ctl).cloud.load_balancers.update({"test-default-gone": orphan, "x": other_cluster})
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        wait_for(lambda: "test-default-gone" not in cloud(ctl).cloud.load_balancers, message="the orphan collected")
        settle(ctl, 1.0)
        assert "test-default-web" in cloud(ctl).cloud.load_balancers
        assert "x" in cloud(ctl).cloud.load_balancers, "another cluster's load balancer is never touched"
