"""Fitting a Service to the provider's offering: unsupported protocols, limits, provider checks."""

from __future__ import annotations

from typing import Any

from cloudlb_example import IDLE_TIMEOUT_ANNOTATION, TARGETS_ANNOTATION, ExampleProvider

from cloudlb import problems as p
from cloudlb.endpoints import ServiceEndpoints
from cloudlb.model import Backend, Endpoint, EndpointPort, PortKey, Protocol
from cloudlb.plan import plan
from cloudlb.provider import Capabilities, Offering
from cloudlb.translate import translate


def service(ports: list[tuple[int, str]], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "s", "namespace": "ns", "annotations": annotations or {}},
            "spec": {"type": "LoadBalancer",
                     "ports": [{"port": n, "protocol": proto, "nodePort": 30000 + i}
                               for i, (n, proto) in enumerate(ports)]}}


def test_sctp_on_external_is_a_port_problem_and_the_rest_is_served() -> None:
    result = plan(translate(service([(80, "TCP"), (9000, "SCTP")]), ()), ExampleProvider("c"))
    assert [port.key for port in result.spec.ports] == [PortKey(80, Protocol.TCP)]
    assert [(x.reason, x.port, x.fatal) for x in result.problems] == [
        (p.PROTOCOL_NOT_SUPPORTED, PortKey(9000, Protocol.SCTP), False)]
    assert result.problems[0].message == ("SCTP is not supported by the example external load balancer "
                                          "(it serves TCP, UDP); the other ports are served")


def test_a_service_with_only_an_unsupported_port_is_not_told_that_other_ports_are_served() -> None:
    result = plan(translate(service([(9000, "SCTP")]), ()), ExampleProvider("c"))
    assert result.spec.ports == ()
    assert result.problems[0].message == ("SCTP is not supported by the example external load balancer "
                                          "(it serves TCP, UDP)")


def test_sctp_on_internal_is_served_where_the_offering_allows_it() -> None:
    annotations = {"networking.gke.io/load-balancer-type": "Internal"}
    result = plan(translate(service([(80, "TCP"), (9000, "SCTP")], annotations), ()), ExampleProvider("c"))
    assert result.offering.name == "internal"
    assert len(result.spec.ports) == 2 and result.problems == ()


def test_too_many_ports_is_fatal() -> None:
    result = plan(translate(service([(1000 + i, "TCP") for i in range(9)]), ()), ExampleProvider("c"))
    assert [(x.reason, x.fatal) for x in result.problems] == [(p.TOO_MANY_PORTS, True)]
    assert "9 ports exceed" in result.problems[0].message


def test_provider_validation_problems_are_included() -> None:
    result = plan(translate(service([(80, "TCP")], {IDLE_TIMEOUT_ANNOTATION: "soon"}), ()), ExampleProvider("c"))
    assert [(x.field, x.fatal) for x in result.fatal] == [(f"metadata.annotations[{IDLE_TIMEOUT_ANNOTATION}]", True)]


class NoSharedPorts(ExampleProvider):
    capabilities = Capabilities((Offering("x", "no-sharing LB", frozenset({Protocol.TCP, Protocol.UDP}),
                                          same_port_tcp_udp=False),))

    def offering_for(self, spec: Any) -> Offering:
        return self.capabilities.offerings[0]


def test_same_port_tcp_and_udp_where_the_offering_cannot_share_keeps_tcp() -> None:
    result = plan(translate(service([(53, "UDP"), (53, "TCP"), (54, "UDP")]), ()), NoSharedPorts("c"))
    assert sorted(port.key for port in result.spec.ports) == [PortKey(53, Protocol.TCP), PortKey(54, Protocol.UDP)]
    assert [x.port for x in result.problems] == [PortKey(53, Protocol.UDP)]


def without_node_ports(annotations: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    manifest = service([(80, "TCP"), (53, "UDP")], annotations)
    for port in manifest["spec"]["ports"]:
        del port["nodePort"]
    manifest["spec"].update(allocateLoadBalancerNodePorts=False, **fields)
    return manifest


def test_a_port_without_node_port_is_refused_by_an_offering_that_sends_to_node_ports() -> None:
    result = plan(translate(without_node_ports(), ()), ExampleProvider("c"))
    assert result.spec.ports == ()
    assert sorted((x.reason, x.port, x.fatal) for x in result.problems) == [
        (p.MISSING_NODE_PORT, PortKey(53, Protocol.UDP), False),
        (p.MISSING_NODE_PORT, PortKey(80, Protocol.TCP), False)]
    assert "the example external load balancer sends traffic to node ports" in result.problems[0].message


def test_a_port_without_node_port_is_served_by_an_offering_that_needs_none() -> None:
    result = plan(translate(without_node_ports({TARGETS_ANNOTATION: "pods"}), ()), ExampleProvider("c"))
    assert result.offering.name == "pods"
    assert [port.key for port in result.spec.ports] == [PortKey(80, Protocol.TCP), PortKey(53, Protocol.UDP)]
    assert result.problems == ()


def test_endpoints_are_kept_only_for_an_offering_that_targets_them() -> None:
    endpoints = ServiceEndpoints((Endpoint("10.1.0.5"),), (EndpointPort("", Protocol.TCP, 8080),))
    nodes = (Backend("n", "example://z/n"),)
    to_pods = plan(translate(service([(80, "TCP")], {TARGETS_ANNOTATION: "pods"}), nodes, endpoints),
                   ExampleProvider("c"))
    assert to_pods.spec.endpoints == endpoints.endpoints and to_pods.spec.backends == ()
    assert to_pods.spec.target_port(to_pods.spec.ports[0]) == 8080
    to_nodes = plan(translate(service([(80, "TCP")]), nodes, endpoints), ExampleProvider("c"))
    assert to_nodes.spec.endpoints == () and to_nodes.spec.backends == nodes


def test_an_ipv6_primary_family_the_offering_cannot_serve_is_fatal() -> None:
    manifest = service([(80, "TCP")])
    manifest["spec"]["ipFamilies"] = ["IPv6"]
    result = plan(translate(manifest, ()), ExampleProvider("c"))
    assert [(x.field, x.reason, x.fatal) for x in result.problems] == [
        ("spec.ipFamilies", p.IP_FAMILY_NOT_SUPPORTED, True)]
    assert result.problems[0].message == ("the example external load balancer serves IPv4 only; "
                                          "IPv6 cannot be served")


def test_prefer_dual_stack_is_served_on_the_family_the_offering_has() -> None:
    manifest = service([(80, "TCP")])
    manifest["spec"].update(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack")
    result = plan(translate(manifest, ()), ExampleProvider("c"))
    assert result.spec.ip_families == ("IPv4",)
    assert [(x.reason, x.fatal) for x in result.problems] == [(p.IP_FAMILY_NOT_SUPPORTED, False)]


def test_require_dual_stack_without_ipv6_is_fatal_and_with_it_served() -> None:
    manifest = service([(80, "TCP")])
    manifest["spec"].update(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="RequireDualStack")
    assert [x.fatal for x in plan(translate(manifest, ()), ExampleProvider("c")).problems] == [True]
    manifest["metadata"]["annotations"] = {TARGETS_ANNOTATION: "pods"}
    result = plan(translate(manifest, ()), ExampleProvider("c"))
    assert result.problems == () and result.spec.ip_families == ("IPv4", "IPv6")
