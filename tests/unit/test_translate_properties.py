"""Translation as a whole, fuzzed: whatever a Service holds, a spec and named problems come out, never an exception."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudlb import problems as p
from cloudlb.model import Backend
from cloudlb.strategies import annotation_values, ip_networks, services
from cloudlb.translate import INTERNAL_ANNOTATIONS, SOURCE_RANGES_ANNOTATION, translate

KNOWN_REASONS = {value for name, value in vars(p).items() if name.isupper() and isinstance(value, str)}
NAMES = (*INTERNAL_ANNOTATIONS, SOURCE_RANGES_ANNOTATION)
BACKENDS = (Backend("node-a", "aws:///us-east-1a/i-1", "10.0.0.1", "us-east-1a"),)


def manifest(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default", "annotations": annotations or {}},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}], **spec}}


@settings(max_examples=400)
@given(services(NAMES))
def test_any_service_translates_to_a_spec_and_named_problems(service: dict[str, Any]) -> None:
    result = translate(service, BACKENDS)
    hash(result.spec)  # specs are compared and kept in sets by the controller
    assert all(isinstance(value, str) for value in result.spec.annotations.values())
    for problem in result.problems:
        assert problem.reason in KNOWN_REASONS
        assert problem.field and problem.message
        assert len(str(problem)) < 1000, "a user's value is quoted short"


@given(st.lists(ip_networks(), min_size=1, max_size=5), st.booleans())
def test_every_valid_source_range_is_read_exactly(networks: list[Any], as_annotation: bool) -> None:
    texts = [str(network) for network in networks]
    if as_annotation:
        result = translate(manifest({SOURCE_RANGES_ANNOTATION: ", ".join(texts)}), ())
    else:
        result = translate(manifest(loadBalancerSourceRanges=texts), ())
    assert result.problems == ()
    assert result.spec.source_ranges == tuple(sorted({str(network) for network in networks}))


@given(st.lists(st.one_of(annotation_values(), ip_networks().map(str)), min_size=1, max_size=4))
def test_a_source_range_is_either_stored_as_a_canonical_network_or_fatal(entries: list[str]) -> None:
    result = translate(manifest(loadBalancerSourceRanges=entries), ())
    if result.fatal:
        assert {x.reason for x in result.fatal} == {p.INVALID_SOURCE_RANGE}
        assert result.spec.source_ranges == tuple(sorted(set(result.spec.source_ranges)))
    else:
        assert 1 <= len(result.spec.source_ranges) <= len(entries)
        for stored in result.spec.source_ranges:
            assert str(ipaddress.ip_network(stored)) == stored  # strict: no host bits, no zone, canonical


@given(st.ip_addresses(v=6), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8),
       st.integers(0, 128))
def test_a_scoped_ipv6_address_is_refused_everywhere(address: ipaddress.IPv6Address, zone: str, length: int) -> None:
    scoped = f"{address}%{zone}"
    for result in (translate(manifest(loadBalancerSourceRanges=[f"{scoped}/{length}"]), ()),
                   translate(manifest({SOURCE_RANGES_ANNOTATION: f"{scoped}/{length}"}), ()),
                   translate(manifest(loadBalancerIP=scoped), ())):
        assert len(result.fatal) == 1
        assert result.fatal[0].reason in (p.INVALID_SOURCE_RANGE, p.INVALID_LOAD_BALANCER_IP)


@given(st.one_of(st.ip_addresses().map(str), annotation_values()))
def test_load_balancer_ip_is_read_exactly_or_fatal(value: str) -> None:
    result = translate(manifest(loadBalancerIP=value), ())
    if not value:
        assert result.problems == () and result.spec.requested_ips == ()
        return
    try:
        expected: str | None = str(ipaddress.ip_address(value))
    except ValueError:
        expected = None
    if expected is not None and "%" not in expected:
        assert result.spec.requested_ips == (expected,) and result.problems == ()
    else:
        assert result.spec.requested_ips == ()
        assert [(x.field, x.fatal) for x in result.problems] == [("spec.loadBalancerIP", True)]


@given(st.sampled_from(sorted(INTERNAL_ANNOTATIONS)), annotation_values())
def test_an_internal_annotation_is_read_as_one_of_its_values_or_fatal(name: str, value: str) -> None:
    result = translate(manifest({name: value}), ())
    meanings, _ = INTERNAL_ANNOTATIONS[name]
    key = value.strip(" \t\n\r\x0b\x0c")
    if key.isascii() and key.lower() in meanings:
        assert result.problems == () and result.spec.internal is meanings[key.lower()]
    else:
        assert [(x.field, x.reason, x.fatal) for x in result.problems] == [
            (f"metadata.annotations[{name}]", p.INVALID_ANNOTATION, True)]
