"""The AWS annotations and the provider's pure checks: what is fatal, what only warns, what the offering is."""

from __future__ import annotations

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.capabilities import CAPABILITIES
from cloudlb_aws.provider import AWSProvider

from cloudlb import problems as p
from cloudlb.model import KUBE_PROXY_HEALTH_CHECK, LoadBalancerSpec, Port, Protocol, ServiceRef
from cloudlb.plan import plan
from cloudlb.provider import ProviderSettings
from cloudlb.translate import translate


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
    ("nlb-ip", None, "nlb-ip"),
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


@pytest.mark.parametrize(("annotations", "offering"), [
    ({a.TYPE: "external"}, "nlb"), ({a.TYPE: "nlb-ip"}, "nlb-ip"),
    ({a.TYPE: "external", "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}, "nlb-ip"),
    ({"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}, "nlb-ip"),
    ({"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "instance"}, "nlb"),
])
def test_the_controllers_types_are_served_as_it_serves_them_without_a_warning(
        annotations: dict[str, str], offering: str) -> None:
    assert provider().validate(spec(annotations)) == []
    chosen = provider().offering_for(spec(annotations))
    assert chosen.name == offering
    assert chosen.needs_node_ports is (offering == "nlb") and chosen.targets == (
        "endpoints" if offering == "nlb-ip" else "nodes")


def test_ssl_ports_without_a_certificate_only_warn() -> None:
    assert problems_of({a.SSL_PORTS: "443"}) == [(where(a.SSL_PORTS), p.INVALID_ANNOTATION, False)]


def test_nlb_only_annotations_on_a_classic_elb_only_warn() -> None:
    attributes = "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"
    found = problems_of({a.TYPE: "clb", a.CROSS_ZONE: "true", attributes: "stickiness.enabled=true"})
    # Cross-zone balancing is a Classic ELB attribute too (cloud-provider-aws sets it).
    assert found == [(where(attributes), p.UNSUPPORTED_OPTION, False)]


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


@pytest.mark.parametrize("value", ["\u00b2", "\u0663\u0660", "1\u0660", "\uff11\uff10", "ten", "", " ", "9" * 5000,
                                   "1e1", "0x10", "10.0"])
def test_a_number_that_is_not_ascii_digits_is_a_named_problem_not_an_exception(value: str) -> None:
    parsed = a.parse({a.HEALTHCHECK_INTERVAL: value}, internal=False)
    assert parsed.health_check.interval is None
    [problem] = parsed.problems
    assert problem.field == where(a.HEALTHCHECK_INTERVAL)
    assert problem.fatal is bool(value.strip()), "an empty value only warns: cloudlb's default applies"


@pytest.mark.parametrize(("value", "expected"), [("30", 30), (" 30\n", 30), ("+30", 30), ("030", 30)])
def test_numbers_are_read_as_upstreams_parse_int_reads_them(value: str, expected: int) -> None:
    parsed = a.parse({a.HEALTHCHECK_INTERVAL: value, a.HEALTHCHECK_TIMEOUT: "5"}, internal=False)
    assert (parsed.health_check.interval, parsed.problems) == (expected, ())


@pytest.mark.parametrize(("annotations", "kind", "field"), [
    ({a.HEALTHCHECK_TIMEOUT: "20"}, "nlb", a.HEALTHCHECK_TIMEOUT),  # above the default interval 10
    ({a.HEALTHCHECK_INTERVAL: "6", a.HEALTHCHECK_TIMEOUT: "7"}, "nlb", a.HEALTHCHECK_TIMEOUT),
    ({a.HEALTHCHECK_INTERVAL: "5"}, "nlb", a.HEALTHCHECK_INTERVAL),  # below the default timeout 10
    ({a.HEALTHCHECK_INTERVAL: "10", a.HEALTHCHECK_TIMEOUT: "10"}, "clb", a.HEALTHCHECK_TIMEOUT),
    ({a.HEALTHCHECK_INTERVAL: "5"}, "clb", a.HEALTHCHECK_INTERVAL),  # not above the default timeout 5
    ({a.HEALTHCHECK_INTERVAL: "300", a.HEALTHCHECK_TIMEOUT: "61"}, "clb", a.HEALTHCHECK_TIMEOUT),  # CLB max 60
])
def test_health_check_timing_aws_refuses_is_fatal_up_front(annotations: dict[str, str], kind: str,
                                                            field: str) -> None:
    parsed = a.parse(annotations, internal=False, kind=kind)
    assert [(x.field, x.fatal) for x in parsed.problems] == [(where(field), True)]


@pytest.mark.parametrize(("annotations", "kind"), [
    ({a.HEALTHCHECK_INTERVAL: "10", a.HEALTHCHECK_TIMEOUT: "10"}, "nlb"),  # an NLB takes timeout == interval
    ({a.HEALTHCHECK_INTERVAL: "300", a.HEALTHCHECK_TIMEOUT: "120"}, "nlb"),
    ({a.HEALTHCHECK_INTERVAL: "6"}, "clb"),
    ({a.HEALTHCHECK_TIMEOUT: "9"}, "clb"),
])
def test_health_check_timing_aws_accepts_passes(annotations: dict[str, str], kind: str) -> None:
    assert a.parse(annotations, internal=False, kind=kind).problems == ()


def test_without_a_kind_the_type_annotation_chooses_the_health_check_rules() -> None:
    timing = {a.HEALTHCHECK_INTERVAL: "10", a.HEALTHCHECK_TIMEOUT: "10"}
    assert a.parse(timing, internal=False).problems == ()
    assert [x.field for x in a.parse({**timing, a.TYPE: "clb"}, internal=False).problems] == [
        where(a.HEALTHCHECK_TIMEOUT)]


@pytest.mark.parametrize(("annotations", "field"), [
    ({a.HEALTHCHECK_SUCCESS_CODES: "200-600"}, a.HEALTHCHECK_SUCCESS_CODES),
    ({a.HEALTHCHECK_SUCCESS_CODES: "399-200"}, a.HEALTHCHECK_SUCCESS_CODES),
    ({a.HEALTHCHECK_SUCCESS_CODES: "\u0662\u0660\u0660"}, a.HEALTHCHECK_SUCCESS_CODES),
    ({a.HEALTHCHECK_SUCCESS_CODES: "200, 202"}, a.HEALTHCHECK_SUCCESS_CODES),
    ({a.HEALTHCHECK_PATH: "/ready now"}, a.HEALTHCHECK_PATH),
    ({a.HEALTHCHECK_PATH: "/caf\u00e9"}, a.HEALTHCHECK_PATH),
    ({a.HEALTHCHECK_PATH: "/" + "a" * 1024}, a.HEALTHCHECK_PATH),
    ({a.HEALTHCHECK_PORT: "\u0668\u0660"}, a.HEALTHCHECK_PORT),
    ({a.HEALTHCHECK_PORT: "Traffic-Port"}, a.HEALTHCHECK_PORT),
    ({a.HEALTHCHECK_PROTOCOL: "http\u017f"}, a.HEALTHCHECK_PROTOCOL),  # upper-cases to HTTPS in Python
    ({a.HEALTHCHECK_HEALTHY_THRESHOLD: "11"}, a.HEALTHCHECK_HEALTHY_THRESHOLD),
    ({a.SSL_CERT: "arn:aws:acm:us-east-1:\u0661\u0662\u0663456789012:certificate/abc"}, a.SSL_CERT),
    ({a.SSL_CERT: "arn:aws:acm:us-east-1:123456789012:certificate/abc\n"}, None),  # trimmed, valid
    ({a.SSL_CERT: "arn:aws:acm:us-east-1:123456789012:certificate/abc", a.SSL_PORTS: "443,\u0664\u0664\u0663"},
     a.SSL_PORTS),
    ({a.SSL_NEGOTIATION_POLICY: "ELBSecurityPolicy 2016"}, a.SSL_NEGOTIATION_POLICY),
    ({a.SUBNETS: "subnet-xyz"}, a.SUBNETS),
    ({a.EIP_ALLOCATIONS: "eipalloc-0123456789abcdef0\u0661"}, a.EIP_ALLOCATIONS),
    ({a.PRIVATE_IPV4_ADDRESSES: "10.0.0.\u0665"}, a.PRIVATE_IPV4_ADDRESSES),
    ({a.PRIVATE_IPV4_ADDRESSES: "10.0.0.5,10.0.0.5"}, a.PRIVATE_IPV4_ADDRESSES),
    ({a.ADDITIONAL_RESOURCE_TAGS: "AWS:created=x"}, a.ADDITIONAL_RESOURCE_TAGS),
    ({a.ADDITIONAL_RESOURCE_TAGS: "team=a;b"}, a.ADDITIONAL_RESOURCE_TAGS),
    ({a.ADDITIONAL_RESOURCE_TAGS: ",".join(f"k{i}=v" for i in range(46))}, a.ADDITIONAL_RESOURCE_TAGS),
    ({a.CROSS_ZONE: "tRuE"}, a.CROSS_ZONE),
])
def test_values_aws_would_refuse_or_misread_are_fatal(annotations: dict[str, str], field: str | None) -> None:
    internal = a.EIP_ALLOCATIONS not in annotations  # Elastic IPs are for internet-facing, private ones internal
    found = [(x.field, x.fatal) for x in a.parse(annotations, internal=internal).problems if x.fatal]
    assert found == ([] if field is None else [(where(field), True)])


def test_parsed_values_are_canonical() -> None:
    parsed = a.parse({
        a.SSL_CERT: "arn:aws:acm:us-east-1:123456789012:certificate/abc", a.SSL_PORTS: "+0443, https",
        a.HEALTHCHECK_PORT: "08080", a.HEALTHCHECK_PROTOCOL: "https", a.CROSS_ZONE: "1",
        a.ADDITIONAL_RESOURCE_TAGS: "\u00e9quipe=paiements, KeyNoValue", a.TYPE: " NLB ",
    }, internal=False)
    assert parsed.problems == ()
    assert parsed.ssl_ports == ("443", "https")
    assert parsed.uses_tls(Port(443, Protocol.TCP, 30443)) and parsed.uses_tls(Port(8443, Protocol.TCP, 1, "https"))
    assert (parsed.health_check.port, parsed.health_check.protocol) == ("8080", "HTTPS")
    assert parsed.cross_zone is True and parsed.lb_type == "nlb"
    assert dict(parsed.additional_tags) == {"\u00e9quipe": "paiements", "KeyNoValue": ""}


def test_an_empty_annotation_warns_and_keeps_the_default() -> None:
    parsed = a.parse({a.HEALTHCHECK_PROTOCOL: "", a.SSL_CERT: " "}, internal=False)
    assert [(x.field, x.fatal) for x in parsed.problems] == [(where(a.SSL_CERT), False),
                                                              (where(a.HEALTHCHECK_PROTOCOL), False)]
    assert parsed.health_check.protocol is None and parsed.ssl_cert is None


def test_path_and_success_codes_with_a_tcp_health_check_only_warn() -> None:
    parsed = a.parse({a.HEALTHCHECK_PROTOCOL: "TCP", a.HEALTHCHECK_PATH: "/ready",
                      a.HEALTHCHECK_SUCCESS_CODES: "200"}, internal=False)
    assert [(x.field, x.reason, x.fatal) for x in parsed.problems] == [
        (where(a.HEALTHCHECK_PATH), p.UNSUPPORTED_OPTION, False),
        (where(a.HEALTHCHECK_SUCCESS_CODES), p.UNSUPPORTED_OPTION, False)]


def test_every_annotation_declared_honoured_is_read() -> None:
    """A value nothing can accept, under each honoured name, is answered by the parser or the core."""
    for name in sorted(CAPABILITIES.annotations):
        manifest = {"metadata": {"name": "web", "namespace": "default", "annotations": {name: "%%"}},
                    "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}}
        reasons = {x.reason for x in plan(translate(manifest, ()), provider()).problems if x.field == where(name)}
        assert p.INVALID_ANNOTATION in reasons and p.UNSUPPORTED_ANNOTATION not in reasons, name


def test_every_aws_annotation_the_provider_knows_is_declared() -> None:
    known = {value for value in vars(a).values() if isinstance(value, str) and value.startswith(a.PREFIX)}
    assert known - {a.PREFIX} <= CAPABILITIES.annotations
    assert CAPABILITIES.annotation_prefixes == (a.PREFIX,)
