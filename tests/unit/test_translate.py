"""Translation of Services into LoadBalancerSpec: every field and every bad input."""

from __future__ import annotations

from typing import Any

import pytest

from cloudlb import problems as p
from cloudlb.model import KUBE_PROXY_HEALTH_CHECK, Backend, HealthCheck, Port, Protocol, ServiceRef
from cloudlb.translate import SOURCE_RANGES_ANNOTATION, translate

BACKENDS = (Backend("node-a", "aws:///us-east-1a/i-1", "10.0.0.1", "us-east-1a"),)


def service(ports: list[Any] | None = None, annotations: dict[str, str] | None = None,
            **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-1", "annotations": annotations or {}},
        "spec": {"type": "LoadBalancer",
                 "ports": ports if ports is not None else [{"port": 80, "protocol": "TCP", "nodePort": 30080}],
                 **spec},
    }


def test_ports_protocols_node_ports_and_identity() -> None:
    result = translate(service([
        {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
        {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
        {"name": "dns-tcp", "port": 53, "nodePort": 30054},  # protocol defaults to TCP
    ]), BACKENDS)
    assert result.problems == ()
    assert result.spec.service == ServiceRef("shop", "web")
    assert result.spec.uid == "uid-1"
    assert result.spec.ports == (Port(80, Protocol.TCP, 30080, "http"), Port(53, Protocol.UDP, 30053, "dns"),
                                 Port(53, Protocol.TCP, 30054, "dns-tcp"))
    assert result.spec.backends == BACKENDS
    assert result.spec.internal is False


def test_cluster_policy_probes_kube_proxy_and_local_probes_health_check_node_port() -> None:
    assert translate(service(), ()).spec.health_check == KUBE_PROXY_HEALTH_CHECK
    assert HealthCheck(10256, "/healthz", local=False) == KUBE_PROXY_HEALTH_CHECK
    local = translate(service(externalTrafficPolicy="Local", healthCheckNodePort=32001), ())
    assert local.spec.health_check == HealthCheck(32001, "/healthz", local=True)
    assert local.problems == ()


def test_local_policy_without_health_check_node_port_falls_back_and_says_so() -> None:
    result = translate(service(externalTrafficPolicy="Local"), ())
    assert result.spec.health_check == KUBE_PROXY_HEALTH_CHECK
    assert [(x.field, x.fatal) for x in result.problems] == [("spec.healthCheckNodePort", False)]


def test_sctp_is_kept_for_the_provider_to_judge() -> None:
    result = translate(service([{"port": 9999, "protocol": "SCTP", "nodePort": 31000}]), ())
    assert result.spec.ports == (Port(9999, Protocol.SCTP, 31000),)


@pytest.mark.parametrize(("port", "field", "reason"), [
    ({"port": 80, "protocol": "QUIC", "nodePort": 30080}, "spec.ports[0].protocol", p.PROTOCOL_NOT_SUPPORTED),
    ({"port": 0, "nodePort": 30080}, "spec.ports[0].port", p.INVALID_PORT),
    ({"port": 70000, "nodePort": 30080}, "spec.ports[0].port", p.INVALID_PORT),
    ({"port": "80", "nodePort": 30080}, "spec.ports[0].port", p.INVALID_PORT),
])
def test_bad_port_is_dropped_and_named(port: dict[str, Any], field: str, reason: str) -> None:
    result = translate(service([port, {"port": 443, "nodePort": 30443}]), ())
    assert [(x.field, x.reason, x.fatal) for x in result.problems] == [(field, reason, False)]
    assert result.spec.ports == (Port(443, Protocol.TCP, 30443),)


def test_a_port_without_node_port_is_kept_for_the_offering_to_judge() -> None:
    # allocateLoadBalancerNodePorts: false; whether that port can be served depends on the offering (see fit).
    result = translate(service([{"port": 80, "protocol": "UDP"}], allocateLoadBalancerNodePorts=False), ())
    assert result.problems == ()
    assert result.spec.ports == (Port(80, Protocol.UDP, None),)


def test_session_affinity_defaults_to_none() -> None:
    spec = translate(service(), ()).spec
    assert (spec.session_affinity, spec.session_affinity_timeout) == ("None", None)


def test_client_ip_affinity_carries_its_timeout_and_the_api_servers_default() -> None:
    spec = translate(service(sessionAffinity="ClientIP"), ()).spec
    assert (spec.session_affinity, spec.session_affinity_timeout) == ("ClientIP", 10800)
    spec = translate(service(sessionAffinity="ClientIP",
                             sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}}), ()).spec
    assert (spec.session_affinity, spec.session_affinity_timeout) == ("ClientIP", 600)


@pytest.mark.parametrize("config", [{"clientIP": {"timeoutSeconds": 0}}, {"clientIP": {"timeoutSeconds": "60"}},
                                    {"clientIP": {"timeoutSeconds": 86401}}])
def test_a_bad_affinity_timeout_falls_back_to_the_default_and_says_so(config: dict[str, Any]) -> None:
    result = translate(service(sessionAffinity="ClientIP", sessionAffinityConfig=config), ())
    assert result.spec.session_affinity_timeout == 10800
    assert [(x.field, x.fatal) for x in result.problems] == [
        ("spec.sessionAffinityConfig.clientIP.timeoutSeconds", False)]


def test_an_unknown_affinity_is_named_and_not_used() -> None:
    result = translate(service(sessionAffinity="Cookie"), ())
    assert result.spec.session_affinity == "None"
    assert [(x.field, x.reason) for x in result.problems] == [("spec.sessionAffinity", p.INVALID_FIELD)]


def test_ip_families_and_policy_default_to_single_stack_ipv4() -> None:
    spec = translate(service(), ()).spec
    assert (spec.ip_families, spec.ip_family_policy) == (("IPv4",), "SingleStack")


def test_ip_families_keep_their_order_primary_first() -> None:
    spec = translate(service(ipFamilies=["IPv6", "IPv4"], ipFamilyPolicy="RequireDualStack"), ()).spec
    assert (spec.ip_families, spec.ip_family_policy) == (("IPv6", "IPv4"), "RequireDualStack")


@pytest.mark.parametrize(("fields", "field"), [
    ({"ipFamilies": ["IPv5"]}, "spec.ipFamilies"),
    ({"ipFamilies": ["IPv4", "IPv4"]}, "spec.ipFamilies"),
    ({"ipFamilies": "IPv4"}, "spec.ipFamilies"),
    ({"ipFamilyPolicy": "DualStack"}, "spec.ipFamilyPolicy"),
])
def test_unreadable_ip_families_are_fatal(fields: dict[str, Any], field: str) -> None:
    result = translate(service(**fields), ())
    assert [(x.field, x.reason, x.fatal) for x in result.problems] == [(field, p.INVALID_FIELD, True)]


def test_duplicate_port_keeps_the_first() -> None:
    result = translate(service([{"port": 80, "nodePort": 30080}, {"port": 80, "nodePort": 30081}]), ())
    assert result.spec.ports == (Port(80, Protocol.TCP, 30080),)
    assert [x.reason for x in result.problems] == [p.DUPLICATE_PORT]


def test_source_ranges_from_field_normalized_sorted_and_deduplicated() -> None:
    result = translate(service(loadBalancerSourceRanges=["203.0.113.7/24", "10.0.0.0/8", "10.0.0.0/8",
                                                         "2001:db8::/32"]), ())
    assert result.spec.source_ranges == ("10.0.0.0/8", "2001:db8::/32", "203.0.113.0/24")
    assert result.problems == ()


def test_source_ranges_field_wins_over_annotation() -> None:
    result = translate(service(annotations={SOURCE_RANGES_ANNOTATION: "192.0.2.0/24"},
                               loadBalancerSourceRanges=["198.51.100.0/24"]), ())
    assert result.spec.source_ranges == ("198.51.100.0/24",)


def test_source_ranges_annotation_is_the_fallback() -> None:
    result = translate(service(annotations={SOURCE_RANGES_ANNOTATION: " 192.0.2.0/24 , 198.51.100.0/25"}), ())
    assert result.spec.source_ranges == ("192.0.2.0/24", "198.51.100.0/25")


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-a-cidr", "10.0.0.1", "300.1.1.1/8", "fe80::1%eth0/64",
                                 "10.0.0.0/255.0.0.0", "10.0.0.0/\u0668", "", "2001:db8::1"])
def test_invalid_source_range_is_fatal(bad: str) -> None:
    result = translate(service(loadBalancerSourceRanges=["10.0.0.0/8", bad]), ())
    assert [(x.field, x.reason, x.fatal) for x in result.problems] == [
        ("spec.loadBalancerSourceRanges", p.INVALID_SOURCE_RANGE, True)]
    assert result.fatal and bad in result.fatal[0].message


def test_invalid_source_range_in_annotation_names_the_annotation() -> None:
    result = translate(service(annotations={SOURCE_RANGES_ANNOTATION: "10.0.0.0/8,bogus"}), ())
    assert result.fatal[0].field == f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"


@pytest.mark.parametrize(("annotations", "internal"), [
    ({"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}, True),
    ({"service.beta.kubernetes.io/aws-load-balancer-internal": "0.0.0.0/0"}, True),
    ({"service.beta.kubernetes.io/aws-load-balancer-internal": "false"}, False),
    ({"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}, True),
    ({"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}, False),
    ({"networking.gke.io/load-balancer-type": "Internal"}, True),
    ({"cloud.google.com/load-balancer-type": "internal"}, True),
    ({"networking.gke.io/load-balancer-type": "External"}, False),
])
def test_internal_from_upstream_annotations(annotations: dict[str, str], internal: bool) -> None:
    result = translate(service(annotations=annotations), ())
    assert result.problems == ()
    assert result.spec.internal is internal


@pytest.mark.parametrize("annotations", [
    {"service.beta.kubernetes.io/aws-load-balancer-internal": "yes please"},
    {"service.beta.kubernetes.io/aws-load-balancer-scheme": "private"},
    {"networking.gke.io/load-balancer-type": "Intern"},
])
def test_malformed_internal_annotation_is_fatal(annotations: dict[str, str]) -> None:
    result = translate(service(annotations=annotations), ())
    name = next(iter(annotations))
    assert [(x.field, x.reason, x.fatal) for x in result.problems] == [
        (f"metadata.annotations[{name}]", p.INVALID_ANNOTATION, True)]


def test_conflicting_internal_annotations_are_fatal() -> None:
    result = translate(service(annotations={
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}), ())
    assert result.fatal and "disagree" in result.fatal[0].message


def test_scoped_ipv6_in_the_source_ranges_annotation_is_fatal_as_the_api_server_refuses_it() -> None:
    result = translate(service(annotations={SOURCE_RANGES_ANNOTATION: "10.0.0.0/8, fe80::1%eth0/64"}), ())
    assert [(x.reason, x.fatal) for x in result.problems] == [(p.INVALID_SOURCE_RANGE, True)]
    assert "fe80::1%eth0/64" in result.problems[0].message and "zone" in result.problems[0].message


def test_source_ranges_keep_the_api_servers_leading_zeros_and_trimming() -> None:
    result = translate(service(loadBalancerSourceRanges=[" 010.0.0.0/08 ", "\u00a0192.0.2.0/24"]), ())
    assert result.problems == () and result.spec.source_ranges == ("10.0.0.0/8", "192.0.2.0/24")


def test_requested_ip() -> None:
    assert translate(service(loadBalancerIP="203.0.113.10"), ()).spec.requested_ips == ("203.0.113.10",)
    assert translate(service(loadBalancerIP="2001:DB8::A"), ()).spec.requested_ips == ("2001:db8::a",)
    for bad in ("203.0.113.300", "fe80::1%eth0", " 203.0.113.10", "\u0661.2.3.4", "203.0.113.0/24"):
        result = translate(service(loadBalancerIP=bad), ())
        assert [(x.field, x.reason, x.fatal) for x in result.problems] == [
            ("spec.loadBalancerIP", p.INVALID_LOAD_BALANCER_IP, True)], bad
        assert result.spec.requested_ips == ()


@pytest.mark.parametrize(("where", "value", "field"), [
    ("metadata", ["not", "an", "object"], "metadata"),
    ("spec", "LoadBalancer", "spec"),
    ("annotations", ["a=b"], "metadata.annotations"),
    ("annotations", {"service.beta.kubernetes.io/aws-load-balancer-internal": True},
     "metadata.annotations[service.beta.kubernetes.io/aws-load-balancer-internal]"),
    ("ports", "80", "spec.ports"),
    ("loadBalancerSourceRanges", "10.0.0.0/8", "spec.loadBalancerSourceRanges"),
    ("loadBalancerSourceRanges", [10], "spec.loadBalancerSourceRanges"),
    ("loadBalancerIP", 167772161, "spec.loadBalancerIP"),
])
def test_a_field_of_the_wrong_type_is_a_fatal_named_problem(where: str, value: Any, field: str) -> None:
    manifest = service()
    if where in ("metadata", "spec"):
        manifest[where] = value
    elif where == "annotations":
        manifest["metadata"]["annotations"] = value
    else:
        manifest["spec"][where] = value
    result = translate(manifest, ())
    assert [(x.field, x.fatal) for x in result.fatal] == [(field, True)]


def test_a_port_entry_of_the_wrong_type_is_dropped_and_named() -> None:
    result = translate(service([{"port": 443, "nodePort": 30443}, "80", {"port": 80, "protocol": 6, "nodePort": 1}]),
                       ())
    assert [(x.field, x.reason, x.fatal) for x in result.problems] == [
        ("spec.ports[1]", p.INVALID_PORT, False), ("spec.ports[2].protocol", p.PROTOCOL_NOT_SUPPORTED, False)]
    assert result.spec.ports == (Port(443, Protocol.TCP, 30443),)


def test_long_values_are_quoted_short_in_messages() -> None:
    result = translate(service(loadBalancerIP="x" * 10_000), ())
    assert len(result.problems[0].message) < 200


def test_annotations_are_carried_and_specs_compare_by_value() -> None:
    annotations = {"b": "2", "a": "1"}
    first = translate(service(annotations=annotations), BACKENDS).spec
    second = translate(service(annotations=dict(reversed(annotations.items()))), BACKENDS).spec
    assert first.annotations["a"] == "1"
    assert first == second and hash(first) == hash(second)
    assert first != translate(service(annotations={"a": "1"}), BACKENDS).spec
