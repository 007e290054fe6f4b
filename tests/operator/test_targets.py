"""What a load balancer sends traffic to, through the running operator: Pods from EndpointSlices, nodes selected
by labels, Services without node ports, and IP families.

kopf runs in-process against the emulated Kubernetes API over HTTP with the example plugin, whose "pods"
offering targets the Service's ready endpoints (as an IP-target NLB) and whose node-selector annotation selects
nodes by label (as AWS's target-node-labels).
"""

from __future__ import annotations

import time
from typing import Any

from cloudlb_example import NODE_SELECTOR_ANNOTATION, TARGETS_ANNOTATION, ExampleProvider

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import ServiceRef
from cloudlb.testing import RunningController, node_manifest, run_controller, service_manifest

TO_PODS = {TARGETS_ANNOTATION: "pods"}


def provider(ctl: RunningController) -> ExampleProvider:
    assert isinstance(ctl.provider, ExampleProvider)
    return ctl.provider


def targets(ctl: RunningController, name: str) -> tuple[str, ...] | None:
    with provider(ctl).cloud.lock:
        lb = provider(ctl).cloud.load_balancers.get(f"test-default-{name}")
        return lb.targets if lb is not None else None


def writes(ctl: RunningController, name: str) -> int:
    return provider(ctl).cloud.count("ensure", ServiceRef("default", name))


def settle(ctl: RunningController) -> None:
    time.sleep(0.6)
    ctl.wait_for(ctl.idle, message="an idle work queue")


def endpoint_slice(service: str, name: str, ready: dict[str, bool], port: int = 8080,
                   address_type: str = "IPv4") -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": address_type,
            "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": is_ready}} for ip, is_ready in ready.items()],
            "ports": [{"name": "tcp-80", "protocol": "TCP", "port": port}]}


def without_node_ports(manifest: dict[str, Any]) -> dict[str, Any]:
    manifest["spec"]["allocateLoadBalancerNodePorts"] = False
    return manifest


def condition(ctl: RunningController, name: str, kind: str) -> dict[str, Any]:
    service = ctl.service("default", name) or {}
    found = {c["type"]: c for c in (service.get("status") or {}).get("conditions", [])}
    return dict(found.get(kind) or {})


def test_pod_targets_follow_the_endpoint_slices_and_touch_only_their_service(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(without_node_ports(service_manifest("pods", annotations=TO_PODS)))
        kube.create(service_manifest("nodes"))
        kube.create(endpoint_slice("pods", "pods-a", {"10.1.0.1": True, "10.1.0.2": False}))
        ctl.wait_for_ingress("default", "pods")
        ctl.wait_for_ingress("default", "nodes")
        ctl.wait_for(lambda: targets(ctl, "pods") == ("10.1.0.1:8080",), message="the ready Pod as target")
        settle(ctl)
        node_writes, pod_writes = writes(ctl, "nodes"), writes(ctl, "pods")

        # The second Pod becomes ready, then a second slice adds a third: each is registered.
        kube.patch("discovery.k8s.io/v1", "endpointslices", "default", "pods-a",
                   {"endpoints": [{"addresses": ["10.1.0.1"], "conditions": {"ready": True}},
                                  {"addresses": ["10.1.0.2"], "conditions": {"ready": True}}]})
        ctl.wait_for(lambda: targets(ctl, "pods") == ("10.1.0.1:8080", "10.1.0.2:8080"),
                     message="the Pod that became ready as a target")
        settle(ctl)
        kube.create(endpoint_slice("pods", "pods-b", {"10.1.0.3": True}))
        ctl.wait_for(lambda: targets(ctl, "pods") == ("10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.3:8080"),
                     message="all three ready Pods as targets")
        settle(ctl)
        # A slice of another Service, and one of the Service whose load balancer targets nodes, re-plan nothing.
        kube.create(endpoint_slice("nodes", "nodes-a", {"10.2.0.1": True}))
        kube.create(endpoint_slice("elsewhere", "elsewhere-a", {"10.3.0.1": True}))
        kube.delete("discovery.k8s.io/v1", "endpointslices", "default", "pods-b")
        ctl.wait_for(lambda: targets(ctl, "pods") == ("10.1.0.1:8080", "10.1.0.2:8080"),
                     message="the deleted slice's Pod deregistered")
        settle(ctl)
        assert writes(ctl, "nodes") == node_writes
        assert writes(ctl, "pods") == pod_writes + 3  # one write per change of its endpoints
        assert "UpdatedLoadBalancer" in ctl.event_reasons("default", "pods")


def test_a_node_change_does_not_replan_a_load_balancer_that_targets_pods(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(without_node_ports(service_manifest("pods", annotations=TO_PODS)))
        kube.create(service_manifest("nodes"))
        ctl.wait_for_ingress("default", "pods")
        ctl.wait_for_ingress("default", "nodes")
        settle(ctl)
        node_writes, pod_writes = writes(ctl, "nodes"), writes(ctl, "pods")
        kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-9"},
                     "spec": {"providerID": "example://zone-a/vm-9"}})
        ctl.wait_for(lambda: writes(ctl, "nodes") == node_writes + 1, message="the node-backed LB updated")
        settle(ctl)
        assert writes(ctl, "pods") == pod_writes


def test_a_service_without_node_ports_is_refused_per_port_where_the_offering_needs_them(
        kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(without_node_ports(service_manifest("web")))
        ctl.wait_for(lambda: condition(ctl, "web", "cloudlb.io/LoadBalancerSynced").get("reason")
                     == "NoServablePorts", message="no servable ports")
        assert "MissingNodePort" in ctl.event_reasons("default", "web")
        # The same Service to Pods needs no node port and is served.
        kube.patch("v1", "services", "default", "web", {"metadata": {"annotations": TO_PODS}})
        ctl.wait_for_ingress("default", "web")


def test_target_node_labels_select_nodes_and_a_label_change_replans_only_the_selecting_load_balancer(
        kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("edge", annotations={NODE_SELECTOR_ANNOTATION: "role=edge"}))
        kube.create(service_manifest("all"))
        ctl.wait_for_ingress("default", "edge")
        ctl.wait_for_ingress("default", "all")
        assert targets(ctl, "edge") == ()
        assert targets(ctl, "all") == ("example://zone-a/vm-0", "example://zone-a/vm-1")
        settle(ctl)
        edge_writes, all_writes = writes(ctl, "edge"), writes(ctl, "all")

        kube.patch("v1", "nodes", None, "node-1", {"metadata": {"labels": {"role": "edge"}}})
        ctl.wait_for(lambda: targets(ctl, "edge") == ("example://zone-a/vm-1",), message="the labelled node")
        # A label nobody selects by changes nothing.
        kube.patch("v1", "nodes", None, "node-0", {"metadata": {"labels": {"team": "blue"}}})
        settle(ctl)
        assert writes(ctl, "edge") == edge_writes + 1
        assert writes(ctl, "all") == all_writes

        kube.patch("v1", "services", "default", "edge", {"metadata": {"annotations": {NODE_SELECTOR_ANNOTATION: None}}})
        ctl.wait_for(lambda: targets(ctl, "edge") == ("example://zone-a/vm-0", "example://zone-a/vm-1"),
                     message="every node once the selector is removed")


def test_an_ip_family_the_load_balancer_cannot_serve_is_named_and_the_others_are_served() -> None:
    with EmulatedKubernetes(dual_stack=True) as kube, run_controller(kube, provider="example") as ctl:
        kube.create(node_manifest("node-0", provider_id="example://zone-a/vm-0", internal_ip="10.0.0.10",
                                  zone="zone-a"))
        v6 = service_manifest("v6")
        v6["spec"].update(ipFamilies=["IPv6"], ipFamilyPolicy="SingleStack")
        kube.create(v6)
        dual = service_manifest("dual", annotations=TO_PODS)
        dual["spec"].update(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="RequireDualStack")
        kube.create(dual)
        ctl.wait_for(lambda: condition(ctl, "v6", "cloudlb.io/LoadBalancerSynced").get("reason")
                     == "IPFamilyNotSupported", message="the IPv6-only Service refused")
        assert "IPFamilyNotSupported" in ctl.event_reasons("default", "v6")
        ctl.wait_for_ingress("default", "dual")
        assert targets(ctl, "v6") is None
        with provider(ctl).cloud.lock:
            built = provider(ctl).cloud.load_balancers["test-default-dual"].spec
        assert built is not None and built.ip_families == ("IPv4", "IPv6")
