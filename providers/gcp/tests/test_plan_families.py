"""``plan`` for session affinity and IP families (issue 11), without any cloud. Pure."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cloudlb_gcp import gke_annotations
from cloudlb_gcp.planner import Lookup
from cloudlb_gcp.resources.common import NEW_ADDRESS_IP, NEW_ADDRESS_IP6
from cloudlb_gcp.resources.subnetwork import SubnetRecord

from cloudlb.model import (
    IPV4,
    IPV6,
    PREFER_DUAL_STACK,
    REQUIRE_DUAL_STACK,
    SESSION_AFFINITY_CLIENT_IP,
    LoadBalancerSpec,
)
from cloudlb.problems import UNSUPPORTED_OPTION
from cloudlb.provider import CloudStateError, PermanentError

from .conftest import SpecFactory
from .test_plan import FRESH, NAMES, SUBNET, built, planned, reasons, steps, view

EXTERNAL6 = SubnetRecord(SUBNET, "IPV4_IPV6", "EXTERNAL", "2600:1900:4000:1::/64")
INTERNAL6 = SubnetRecord(SUBNET, "IPV4_IPV6", "INTERNAL", "fd20:0:0:1::/64")
IPV4_ONLY = SubnetRecord(SUBNET, "IPV4_ONLY", "", "")


def with_subnet(record: SubnetRecord | None, observed: Any = FRESH) -> Any:
    return dataclasses.replace(observed, cluster=view(groups=dict(observed.cluster.groups),
                                                      group_users=dict(observed.cluster.group_users),
                                                      subnets={SUBNET: record}))


def families(spec: LoadBalancerSpec, *wanted: str, policy: str = "SingleStack") -> LoadBalancerSpec:
    return dataclasses.replace(spec, ip_families=wanted, ip_family_policy=policy)


def created(result: Any, resource: str) -> list[Any]:
    return [c.payload.record for c in result.changes if c.resource == resource and c.action == "create"]


def test_client_ip_affinity_is_set_on_the_backend_service_and_cleared_again(make_spec: SpecFactory) -> None:
    sticky = dataclasses.replace(make_spec(), session_affinity=SESSION_AFFINITY_CLIENT_IP,
                                 session_affinity_timeout=10800)
    [service] = created(planned(sticky), "backend-service")
    assert service.session_affinity == "CLIENT_IP"
    change = planned(sticky, built(make_spec()))
    assert steps(change) == [("update", "backend-service", NAMES.backend_service)]
    assert reasons(change)[f"update backend-service {NAMES.backend_service}"] == "session affinity: NONE -> CLIENT_IP"
    back = planned(make_spec(), built(sticky))
    assert reasons(back)[f"update backend-service {NAMES.backend_service}"] == "session affinity: CLIENT_IP -> NONE"


def test_a_client_ip_timeout_gcp_cannot_keep_is_reported_not_dropped_silently(make_spec: SpecFactory) -> None:
    spec = dataclasses.replace(make_spec(), session_affinity=SESSION_AFFINITY_CLIENT_IP, session_affinity_timeout=60)
    [problem] = gke_annotations.validate(spec)
    assert (problem.field, problem.reason, problem.fatal) == (
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds", UNSUPPORTED_OPTION, False)
    assert gke_annotations.validate(dataclasses.replace(spec, session_affinity_timeout=10800)) == []


def test_ipv6_first_reads_the_subnetwork_once(make_spec: SpecFactory) -> None:
    spec = families(make_spec(), IPV4, IPV6, policy=PREFER_DUAL_STACK)
    assert planned(spec).lookups == (Lookup("subnetwork", SUBNET),)
    assert planned(spec, with_subnet(EXTERNAL6)).lookups == ()


def test_dual_stack_external_gets_an_ipv6_address_rules_and_firewalls_of_its_own(make_spec: SpecFactory) -> None:
    spec = families(make_spec(ports=[(80, "TCP"), (53, "UDP")]), IPV4, IPV6, policy=REQUIRE_DUAL_STACK)
    result = planned(spec, with_subnet(EXTERNAL6))
    addresses = {a.name: (a.ip_version, a.subnetwork, a.network_tier) for a in created(result, "address")}
    assert addresses == {NAMES.address: ("IPV4", "", "PREMIUM"), NAMES.address6: ("IPV6", SUBNET, "PREMIUM")}
    rules = {r.name: (r.ip, r.ip_version, r.subnetwork) for r in created(result, "forwarding-rule")}
    assert rules == {
        NAMES.forwarding_rule("TCP"): (NEW_ADDRESS_IP, "IPV4", ""),
        NAMES.forwarding_rule("UDP"): (NEW_ADDRESS_IP, "IPV4", ""),
        NAMES.forwarding_rule("TCP", ipv6=True): (NEW_ADDRESS_IP6, "IPV6", SUBNET),
        NAMES.forwarding_rule("UDP", ipv6=True): (NEW_ADDRESS_IP6, "IPV6", SUBNET)}
    walls = {w.name: (w.source_ranges, w.destination_ranges) for w in created(result, "firewall")}
    assert walls[NAMES.traffic_firewall6] == (("::/0",), (NEW_ADDRESS_IP6,))
    assert walls[NAMES.health_check_firewall6][0] == ("2600:1901:8001::/48",)
    assert walls[NAMES.traffic_firewall] == (("0.0.0.0/0",), (NEW_ADDRESS_IP,))
    assert result.outcome is not None and result.outcome.ips == (NEW_ADDRESS_IP, NEW_ADDRESS_IP6)
    six_first = planned(families(spec, IPV6, IPV4, policy=REQUIRE_DUAL_STACK), with_subnet(EXTERNAL6))
    assert six_first.outcome is not None and six_first.outcome.ips == (NEW_ADDRESS_IP6, NEW_ADDRESS_IP)


def test_source_ranges_split_by_family_and_a_family_without_any_gets_no_traffic_rule(make_spec: SpecFactory) -> None:
    spec = families(make_spec(source_ranges=["192.0.2.0/24"]), IPV4, IPV6, policy=REQUIRE_DUAL_STACK)
    walls = {w.name: w.source_ranges for w in created(planned(spec, with_subnet(EXTERNAL6)), "firewall")}
    assert walls[NAMES.traffic_firewall] == ("192.0.2.0/24",) and NAMES.traffic_firewall6 not in walls
    both = families(make_spec(source_ranges=["192.0.2.0/24", "2001:db8::/32"]), IPV4, IPV6, policy=REQUIRE_DUAL_STACK)
    walls = {w.name: w.source_ranges for w in created(planned(both, with_subnet(EXTERNAL6)), "firewall")}
    assert (walls[NAMES.traffic_firewall], walls[NAMES.traffic_firewall6]) == (("192.0.2.0/24",), ("2001:db8::/32",))


def test_ipv6_only_internal_serves_one_l3_rule_on_an_internal_ipv6_address(make_spec: SpecFactory) -> None:
    spec = families(make_spec(ports=[(80, "TCP"), (53, "UDP")], internal=True), IPV6)
    result = planned(spec, with_subnet(INTERNAL6))
    [own] = created(result, "address")
    assert (own.name, own.address_type, own.ip_version, own.purpose) == (NAMES.address6, "INTERNAL", "IPV6", "")
    [rule] = created(result, "forwarding-rule")
    assert (rule.name, rule.protocol, rule.all_ports) == (NAMES.forwarding_rule("L3_DEFAULT", ipv6=True),
                                                         "L3_DEFAULT", True)
    assert result.outcome is not None and result.outcome.ips == (NEW_ADDRESS_IP6,)
    assert planned(spec, built(spec, with_subnet(INTERNAL6))).empty


def test_turning_ipv6_off_removes_only_the_ipv6_part(make_spec: SpecFactory) -> None:
    dual = families(make_spec(), IPV4, IPV6, policy=REQUIRE_DUAL_STACK)
    result = planned(make_spec(), built(dual, with_subnet(EXTERNAL6)))
    assert sorted((c.action.value, c.resource, c.name) for c in result.changes) == sorted([
        ("delete", "forwarding-rule", NAMES.forwarding_rule("TCP", ipv6=True)),
        ("delete", "firewall", NAMES.traffic_firewall6), ("delete", "firewall", NAMES.health_check_firewall6),
        ("delete", "address", NAMES.address6)])


@pytest.mark.parametrize("subnet", [IPV4_ONLY, INTERNAL6, None])
def test_ipv6_where_the_subnetwork_has_none_is_a_named_error_or_ipv4_alone(make_spec: SpecFactory,
                                                                        subnet: SubnetRecord | None) -> None:
    observed = with_subnet(subnet)
    with pytest.raises(CloudStateError, match=r"spec\.ipFamilies asks for IPv6 but subnetwork default") as refused:
        planned(families(make_spec(), IPV6), observed)
    assert refused.value.code == "IPv6NotAvailable"
    with pytest.raises(CloudStateError, match="IPv6"):
        planned(families(make_spec(), IPV4, IPV6, policy=REQUIRE_DUAL_STACK), observed)
    preferred = planned(families(make_spec(), IPV4, IPV6, policy=PREFER_DUAL_STACK), observed)
    assert preferred.outcome is not None and preferred.outcome.ips == (NEW_ADDRESS_IP,)
    assert preferred.outcome.warnings[-1].endswith("served on IPv4 only (spec.ipFamilyPolicy PreferDualStack)")
    assert not any(c.name.endswith("-6") for c in preferred.changes)


def test_ipv6_in_the_standard_tier_is_refused_naming_the_annotation(make_spec: SpecFactory) -> None:
    spec = families(make_spec(annotations={gke_annotations.NETWORK_TIER: "Standard"}), IPV6)
    with pytest.raises(PermanentError, match=r"Premium tier only; annotation cloud\.google\.com/network-tier"):
        planned(spec, with_subnet(EXTERNAL6))
