"""The AWS annotations and the provider's pure checks: what is fatal, what only warns, what the offering is."""

from __future__ import annotations

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.provider import AWSProvider

from cloudlb import problems as p
from cloudlb.model import KUBE_PROXY_HEALTH_CHECK, LoadBalancerSpec, Port, Protocol, ServiceRef
from cloudlb.provider import ProviderSettings


def spec(annotations: dict[str, str] | None = None, *, internal: bool = False,
         requested_ips: tuple[str, ...] = ()) -> LoadBalancerSpec:
    return LoadBalancerSpec(service=ServiceRef("default", "web"), uid="u", ports=(Port(80, Protocol.TCP, 30080),),
                            backends=(), health_check=KUBE_PROXY_HEALTH_CHECK, internal=internal,
                            requested_ips=requested_ips, annotations=annotations or {})


def provider(default_type: str | None = None) -> AWSProvider:
    options = {} if default_type is None else {"aws-default-type": default_type}
    return AWSProvider(ProviderSettings("test", options))


@pytest.mark.parametrize(("annotation", "default_type", "offering"), [
    (None, None, "nlb"),
    (None, "clb", "clb"),
    ("nlb", "clb", "nlb"),
    ("clb", None, "clb"),
    ("external", "clb", "nlb"),
    ("nlb-ip", None, "nlb"),
])
def test_offering_follows_the_type_annotation_then_the_default_type(
        annotation: str | None, default_type: str | None, offering: str) -> None:
    annotations = {} if annotation is None else {a.TYPE: annotation}
    assert provider(default_type).offering_for(spec(annotations)).name == offering


def test_an_unknown_default_type_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="nlb or clb"):
        provider("alb")


def test_classic_elb_offering_serves_only_tcp_and_nlb_serves_tcp_and_udp() -> None:
    nlb = provider().offering_for(spec())
    clb = provider().offering_for(spec({a.TYPE: "clb"}))
    assert nlb.protocols == frozenset({Protocol.TCP, Protocol.UDP})
    assert clb.protocols == frozenset({Protocol.TCP}) and not clb.same_port_tcp_udp
    assert Protocol.SCTP not in nlb.protocols | clb.protocols


def problems_of(annotations: dict[str, str], *, internal: bool = False) -> list[tuple[str, str, bool]]:
    return [(problem.field, problem.reason, problem.fatal)
            for problem in provider().validate(spec(annotations, internal=internal))]


def where(name: str) -> str:
    return f"metadata.annotations[{name}]"


def test_well_formed_annotations_have_no_problems() -> None:
    assert problems_of({
        a.TYPE: "nlb", a.SUBNETS: "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        a.EIP_ALLOCATIONS: "eipalloc-0123456789abcdef0,eipalloc-0123456789abcdef1",
        a.SSL_CERT: "arn:aws:acm:us-east-1:123456789012:certificate/abc", a.SSL_PORTS: "443,https",
        a.ADDITIONAL_RESOURCE_TAGS: "team=payments,env=prod", a.CROSS_ZONE: "true",
        a.HEALTHCHECK_PROTOCOL: "HTTP", a.HEALTHCHECK_PORT: "8080", a.HEALTHCHECK_PATH: "/ready",
        a.HEALTHCHECK_INTERVAL: "10", a.HEALTHCHECK_TIMEOUT: "6", a.HEALTHCHECK_SUCCESS_CODES: "200-299",
    }) == []


@pytest.mark.parametrize(("annotations", "field"), [
    ({a.TYPE: "alb"}, a.TYPE),
    ({a.SUBNETS: "subnet-0123456789abcdef0,subnet-0123456789abcdef0"}, a.SUBNETS),
    ({a.EIP_ALLOCATIONS: "1.2.3.4"}, a.EIP_ALLOCATIONS),
    ({a.SUBNETS: "subnet-0123456789abcdef0",
      a.EIP_ALLOCATIONS: "eipalloc-0123456789abcdef0,eipalloc-0123456789abcdef1"}, a.EIP_ALLOCATIONS),
    ({a.PRIVATE_IPV4_ADDRESSES: "10.0.0.300"}, a.PRIVATE_IPV4_ADDRESSES),
    ({a.SSL_CERT: "not-an-arn"}, a.SSL_CERT),
    ({a.ADDITIONAL_RESOURCE_TAGS: "kubernetes.io/cluster/x=owned"}, a.ADDITIONAL_RESOURCE_TAGS),
    ({a.ADDITIONAL_RESOURCE_TAGS: "=nokey"}, a.ADDITIONAL_RESOURCE_TAGS),
    ({a.CROSS_ZONE: "yes"}, a.CROSS_ZONE),
    ({a.HEALTHCHECK_INTERVAL: "1"}, a.HEALTHCHECK_INTERVAL),
    ({a.HEALTHCHECK_PROTOCOL: "UDP"}, a.HEALTHCHECK_PROTOCOL),
    ({a.HEALTHCHECK_PORT: "99999"}, a.HEALTHCHECK_PORT),
    ({a.HEALTHCHECK_PATH: "ready"}, a.HEALTHCHECK_PATH),
    ({a.HEALTHCHECK_SUCCESS_CODES: "ok"}, a.HEALTHCHECK_SUCCESS_CODES),
])
def test_malformed_annotations_are_fatal_and_named(annotations: dict[str, str], field: str) -> None:
    assert (where(field), p.INVALID_ANNOTATION, True) in problems_of(annotations)


def test_elastic_ips_on_an_internal_load_balancer_are_fatal() -> None:
    found = problems_of({a.EIP_ALLOCATIONS: "eipalloc-0123456789abcdef0"}, internal=True)
    assert found == [(where(a.EIP_ALLOCATIONS), p.INVALID_ANNOTATION, True)]


def test_private_addresses_on_an_internet_facing_load_balancer_are_fatal() -> None:
    found = problems_of({a.PRIVATE_IPV4_ADDRESSES: "10.0.0.5"})
    assert found == [(where(a.PRIVATE_IPV4_ADDRESSES), p.INVALID_ANNOTATION, True)]


@pytest.mark.parametrize("value", ["external", "nlb-ip"])
def test_types_upstream_delegates_get_a_warning_naming_what_cloudlb_builds(value: str) -> None:
    (problem,) = provider().validate(spec({a.TYPE: value}))
    assert (problem.reason, problem.fatal) == (p.UNSUPPORTED_OPTION, False)
    assert "instance targets" in problem.message


def test_ssl_ports_without_a_certificate_only_warn() -> None:
    assert problems_of({a.SSL_PORTS: "443"}) == [(where(a.SSL_PORTS), p.INVALID_ANNOTATION, False)]


def test_nlb_only_annotations_on_a_classic_elb_only_warn() -> None:
    found = problems_of({a.TYPE: "clb", a.CROSS_ZONE: "true"})
    assert found == [(where(a.CROSS_ZONE), p.UNSUPPORTED_OPTION, False)]


def test_load_balancer_ip_is_refused_with_a_pointer_to_elastic_ips() -> None:
    (problem,) = provider().validate(spec(requested_ips=("203.0.113.9",)))
    assert problem.fatal and problem.field == "spec.loadBalancerIP" and a.EIP_ALLOCATIONS in problem.message


def test_parsed_values_are_what_the_annotations_say() -> None:
    parsed = a.parse({a.SUBNETS: " subnet-0123456789abcdef0 , public-a ", a.SSL_PORTS: "*",
                      a.ADDITIONAL_RESOURCE_TAGS: "a=1, b = 2", a.CROSS_ZONE: "False"}, internal=False)
    assert parsed.subnets == ("subnet-0123456789abcdef0", "public-a")
    assert parsed.ssl_ports is None
    assert dict(parsed.additional_tags) == {"a": "1", "b": "2"}
    assert parsed.cross_zone is False
