"""Fitting a Service to the provider's offering: unsupported protocols, limits, provider checks."""

from __future__ import annotations

from typing import Any

from cloudlb_example import IDLE_TIMEOUT_ANNOTATION, ExampleProvider

from cloudlb import problems as p
from cloudlb.model import PortKey, Protocol
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
