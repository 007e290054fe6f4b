"""The desired NLB and Classic ELB built from a spec, before any AWS call. Pure."""

from __future__ import annotations

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.classic_attributes import BACKEND_PROTOCOL
from cloudlb_aws.clb import build_clb_model
from cloudlb_aws.nlb_model import TLS_SHARING_ERROR, build_nlb_model
from cloudlb_aws.placement import instance_id

from cloudlb.model import (
    KUBE_PROXY_HEALTH_CHECK,
    Backend,
    HealthCheck,
    LoadBalancerSpec,
    Port,
    PortKey,
    Protocol,
    ServiceRef,
)

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


def spec(ports: list[Port], annotations: dict[str, str] | None = None, *,
         health_check: HealthCheck = KUBE_PROXY_HEALTH_CHECK, backends: tuple[Backend, ...] = ()) -> LoadBalancerSpec:
    return LoadBalancerSpec(service=ServiceRef("default", "web"), uid="u", ports=tuple(ports), backends=backends,
                            health_check=health_check, annotations=annotations or {})


def nlb(the_spec: LoadBalancerSpec) -> dict[int, tuple[str, str, int]]:
    model = build_nlb_model(the_spec, "c", a.parse(the_spec.annotations, internal=False))
    return {listener.port: (listener.protocol, listener.target_group.protocol, listener.target_group.node_port)
            for listener in model.listeners}


def test_ssl_ports_name_ports_by_number_or_by_name() -> None:
    ports = [Port(443, Protocol.TCP, 30443, "https"), Port(8443, Protocol.TCP, 30843, "admin"),
             Port(80, Protocol.TCP, 30080, "http")]
    found = nlb(spec(ports, {a.SSL_CERT: CERT, a.SSL_PORTS: "https,8443"}))
    assert found == {443: ("TLS", "TCP", 30443), 8443: ("TLS", "TCP", 30843), 80: ("TCP", "TCP", 30080)}


def test_a_tls_port_cannot_also_carry_udp_so_the_udp_port_is_reported() -> None:
    the_spec = spec([Port(443, Protocol.TCP, 30443), Port(443, Protocol.UDP, 30443)], {a.SSL_CERT: CERT})
    model = build_nlb_model(the_spec, "c", a.parse(the_spec.annotations, internal=False))
    assert [(listener.port, listener.protocol) for listener in model.listeners] == [(443, "TLS")]
    assert model.port_errors == {PortKey(443, Protocol.UDP): TLS_SHARING_ERROR}


def test_a_tcp_health_check_override_drops_path_and_success_codes() -> None:
    the_spec = spec([Port(53, Protocol.UDP, 30053)], {a.HEALTHCHECK_PROTOCOL: "TCP", a.HEALTHCHECK_PORT: "10256"})
    model = build_nlb_model(the_spec, "c", a.parse(the_spec.annotations, internal=False))
    health = model.listeners[0].target_group.health
    assert (health.protocol, health.port, health.path, health.success_codes) == ("TCP", "10256", None, None)


def test_nodes_without_an_aws_instance_id_are_left_out_with_a_warning() -> None:
    backends = (Backend("good", "aws:///us-east-1a/i-0123456789abcdef0"), Backend("bad", "gce://p/z/vm"))
    model = build_nlb_model(spec([Port(80, Protocol.TCP, 30080)], backends=backends), "c", a.parse({}, internal=False))
    assert model.instance_ids == {"i-0123456789abcdef0"}
    assert any("bad" in warning for warning in model.warnings)


def test_instance_ids_come_from_both_provider_id_spellings() -> None:
    assert instance_id("aws:///us-east-1a/i-0abc") == "i-0abc"
    assert instance_id("aws://us-east-1a/i-0abc") == "i-0abc"
    assert instance_id("aws:///us-east-1a/") is None
    assert instance_id("gce://project/zone/i-0abc") is None


def test_classic_elb_probes_the_first_ports_node_port_or_the_local_health_port() -> None:
    """As cloud-provider-aws: the first listener's instance port (the Service's first port), not the lowest."""
    ports = [Port(443, Protocol.TCP, 30443), Port(80, Protocol.TCP, 30080)]
    cluster = build_clb_model(spec(ports), "c", a.parse({}, internal=False))
    local = build_clb_model(spec(ports, health_check=HealthCheck(32000, local=True)), "c", a.parse({}, internal=False))
    assert cluster.health.target == "TCP:30443"
    assert local.health.target == "HTTP:32000/healthz"


@pytest.mark.parametrize(("annotations", "target"), [
    ({BACKEND_PROTOCOL: "https"}, "SSL:30443"),
    ({BACKEND_PROTOCOL: "ssl"}, "SSL:30443"),
    ({BACKEND_PROTOCOL: "http"}, "TCP:30443"),
    ({BACKEND_PROTOCOL: "tcp"}, "TCP:30443"),
    ({BACKEND_PROTOCOL: "https", a.HEALTHCHECK_PROTOCOL: "HTTP"}, "HTTP:30443/"),
    ({a.HEALTHCHECK_PROTOCOL: "HTTPS", a.HEALTHCHECK_PATH: "/ready"}, "HTTPS:30443/ready"),
    ({a.HEALTHCHECK_PORT: "31000"}, "TCP:31000"),
])
def test_classic_elb_health_check_follows_the_backend_protocol_and_the_annotations(
        annotations: dict[str, str], target: str) -> None:
    """cloud-provider-aws: SSL for an https or ssl backend; the healthcheck annotations override; no path on TCP/SSL."""
    ports = [Port(443, Protocol.TCP, 30443), Port(80, Protocol.TCP, 30080)]
    model = build_clb_model(spec(ports, annotations=annotations), "c", a.parse(annotations, internal=False))
    assert model.health.target == target


def test_classic_elb_local_health_check_on_the_traffic_port_uses_the_first_ports_node_port() -> None:
    annotations = {a.HEALTHCHECK_PORT: "traffic-port"}
    ports = [Port(443, Protocol.TCP, 30443)]
    model = build_clb_model(spec(ports, health_check=HealthCheck(32000, local=True), annotations=annotations), "c",
                            a.parse(annotations, internal=False))
    assert model.health.target == "HTTP:30443/healthz"
