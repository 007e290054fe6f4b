"""``plan`` for a load balancer several Services share (``cloudlb.io/share-key``), without any cloud. Pure.

``applied`` carries a plan out in memory, as a successful apply leaves the inventory: records are
grouped back into members by their marks, as the inventory's member index does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import pytest
from cloudlb_gcp.inventory import MemberObserved, Observed
from cloudlb_gcp.names import MAX_NAME_LENGTH, member_names, names_for_key
from cloudlb_gcp.ownership import MAX_MEMBER_LABELS, MORE_MEMBERS_LABEL, OwnerMark, member_labels
from cloudlb_gcp.planner import L3_TAKEN, LoadBalancerPlan, plan
from cloudlb_gcp.resources import address
from cloudlb_gcp.resources.common import NEW_ADDRESS_IP, Write
from cloudlb_gcp.resources.instance_groups import Membership

from cloudlb.model import DesiredLoadBalancer, LoadBalancerKey, LoadBalancerSpec, PortKey, Protocol, ServiceRef

from .conftest import SpecFactory
from .test_plan import CLUSTER, EXTERNAL_IP, INTERNAL_IP, SETTING, view

KEY = LoadBalancerKey("default", "edge", shared=True)
GROUP = names_for_key(CLUSTER, KEY)
WEB, DNS = ServiceRef("default", "web"), ServiceRef("default", "dns")
FRESH = Observed(KEY, None, None, None, {}, {}, view())


def names(service: ServiceRef) -> Any:
    return member_names(CLUSTER, KEY, service)


def planned(members: Sequence[LoadBalancerSpec] | None, observed: Observed = FRESH) -> LoadBalancerPlan:
    desired = DesiredLoadBalancer(KEY, tuple(members)) if members else None
    return plan(SETTING, KEY, desired, observed)


def applied(observed: Observed, result: LoadBalancerPlan) -> Observed:
    """The observation after ``result`` was applied with success."""
    records: dict[tuple[str, str], Any] = {}
    for known in observed.members.values():
        for record in (known.health_check, known.backend_service, *known.rules.values(), *known.firewalls.values()):
            if record is not None:
                records[(type(record).__name__, record.name)] = record
    own = observed.address
    groups = dict(observed.cluster.groups)
    internal = any(isinstance(c.payload, Write) and c.payload.kind is address.KIND and c.payload.record.internal
                   for c in result.changes)
    new_ip = INTERNAL_IP if internal else EXTERNAL_IP
    for change in result.changes:
        payload = change.payload
        if isinstance(payload, Membership):
            group = groups[payload.zone]
            groups[payload.zone] = dataclasses.replace(
                group, members=((group.members or frozenset()) | payload.add) - payload.remove)
            continue
        record = payload.record
        if payload.kind.resource == "instance-group":
            if payload.verb == "delete":
                del groups[payload.zone]
            else:
                groups[payload.zone] = dataclasses.replace(record, members=frozenset())
        elif payload.kind is address.KIND:
            own = None if payload.verb == "delete" else dataclasses.replace(record, ip=record.ip or new_ip)
        elif payload.verb == "delete":
            del records[(type(record).__name__, record.name)]
        else:
            for field in ("ip",):
                if getattr(record, field, None) == NEW_ADDRESS_IP:
                    record = dataclasses.replace(record, ip=new_ip)
            if hasattr(record, "destination_ranges") and NEW_ADDRESS_IP in record.destination_ranges:
                record = dataclasses.replace(record, destination_ranges=(new_ip,))
            records[(type(record).__name__, record.name)] = record
    members: dict[ServiceRef, dict[str, Any]] = {}
    for (kind, name), record in records.items():
        assert record.mark.shared == KEY and record.mark.service is not None
        members.setdefault(record.mark.service, {}).setdefault(kind, {})[name] = record
    users: dict[str, frozenset[str]] = {}
    for part in members.values():
        for service in part.get("BackendServiceRecord", {}).values():
            for link in service.groups:
                users[link.split("/")[3]] = users.get(link.split("/")[3], frozenset()) | {service.name}
    observed_members = {service: MemberObserved(
        next(iter(part.get("HealthCheckRecord", {}).values()), None),
        next(iter(part.get("BackendServiceRecord", {}).values()), None),
        MappingProxyType(part.get("RuleRecord", {})), MappingProxyType(part.get("FirewallRecord", {})))
        for service, part in members.items()}
    return Observed(KEY, own, None, None, {}, {}, view(groups=groups, group_users=users),
                    MappingProxyType(observed_members))


def created(result: LoadBalancerPlan, resource: str) -> list[Any]:
    return [c.payload.record for c in result.changes if c.resource == resource and c.action == "create"]


def two(make_spec: SpecFactory, internal: bool = False) -> list[LoadBalancerSpec]:
    return [make_spec("web", ports=[(80, "TCP"), (443, "TCP")], internal=internal),
            make_spec("dns", ports=[(53, "UDP"), (53, "TCP")], internal=internal)]


def test_two_members_get_one_address_and_each_its_own_rules_and_backend_service(make_spec: SpecFactory) -> None:
    result = planned(two(make_spec))
    [own] = created(result, "address")
    assert own.name == GROUP.address and own.mark == OwnerMark(CLUSTER, shared=KEY)
    assert dict(own.labels) == {**OwnerMark(CLUSTER, shared=KEY).labels, **member_labels(CLUSTER, [WEB, DNS])}
    rules = created(result, "forwarding-rule")
    assert sorted((r.name, r.protocol, r.ports, r.ip) for r in rules) == sorted([
        (names(WEB).forwarding_rule("TCP"), "TCP", ("80", "443"), NEW_ADDRESS_IP),
        (names(DNS).forwarding_rule("TCP"), "TCP", ("53",), NEW_ADDRESS_IP),
        (names(DNS).forwarding_rule("UDP"), "UDP", ("53",), NEW_ADDRESS_IP)])
    assert {r.mark for r in rules} == {OwnerMark(CLUSTER, WEB, shared=KEY), OwnerMark(CLUSTER, DNS, shared=KEY)}
    services = {s.name: s for s in created(result, "backend-service")}
    assert set(services) == {names(WEB).backend_service, names(DNS).backend_service}
    assert services[names(DNS).backend_service].protocol == "UNSPECIFIED"
    assert result.changes[0].resource == "address", "the address comes before what uses its IP"
    assert result.outcome is not None and result.outcome.services == (WEB, DNS)
    assert planned(two(make_spec), applied(FRESH, result)).empty


def test_a_member_leaving_takes_only_its_own_resources(make_spec: SpecFactory) -> None:
    both = applied(FRESH, planned(two(make_spec)))
    result = planned(two(make_spec)[:1], both)
    deleted = [(c.resource, c.name) for c in result.changes if c.action == "delete"]
    dns = names(DNS)
    assert sorted(deleted) == sorted([
        ("forwarding-rule", dns.forwarding_rule("TCP")), ("forwarding-rule", dns.forwarding_rule("UDP")),
        ("backend-service", dns.backend_service), ("health-check", dns.health_check),
        ("firewall", dns.traffic_firewall), ("firewall", dns.health_check_firewall)])
    assert [c.resource for c in result.changes if c.action == "delete"][:2] == ["forwarding-rule"] * 2
    [relabel] = [c for c in result.changes if c.action == "update"]
    assert (relabel.resource, relabel.payload.verb) == ("address", "setLabels")
    assert dict(relabel.payload.record.labels) == {**OwnerMark(CLUSTER, shared=KEY).labels,
                                                   **member_labels(CLUSTER, [WEB])}
    left = applied(both, result)
    assert set(left.members) == {WEB} and left.members[WEB] == both.members[WEB]
    assert left.address is not None and both.address is not None and left.address.ip == both.address.ip


def test_the_last_member_leaving_removes_everything(make_spec: SpecFactory) -> None:
    both = applied(FRESH, planned(two(make_spec)))
    result = planned(None, both)
    kinds = [c.resource for c in result.changes]
    assert kinds[:3] == ["forwarding-rule"] * 3 and "address" in kinds
    assert kinds.index("address") > max(i for i, k in enumerate(kinds) if k == "backend-service")
    gone = applied(both, result)
    assert (gone.address, dict(gone.members), dict(gone.cluster.groups)) == (None, {}, {})


def test_a_member_with_many_ports_lists_them_in_rules_of_five_not_a_range(make_spec: SpecFactory) -> None:
    many = make_spec("web", ports=[(8000 + i, "TCP") for i in range(7)])
    other = make_spec("dns", ports=[(8003, "UDP"), (9000, "TCP")])
    rules = sorted(created(planned([many, other]), "forwarding-rule"), key=lambda r: r.name)
    web = names(WEB)
    assert [(r.name, r.ports, r.port_range, r.all_ports) for r in rules if r.mark.service == WEB] == [
        (web.forwarding_rule("TCP"), ("8000", "8001", "8002", "8003", "8004"), "", False),
        (web.forwarding_rule("TCP", 2), ("8005", "8006"), "", False)]


def test_on_an_internal_shared_vip_only_the_first_member_with_sctp_gets_the_l3_rule(make_spec: SpecFactory) -> None:
    first = make_spec("web", ports=[(80, "TCP"), (3868, "SCTP")], internal=True)
    second = make_spec("dns", ports=[(53, "UDP"), (2905, "SCTP")], internal=True)
    result = planned([first, second])
    [own] = created(result, "address")
    assert (own.address_type, own.purpose) == ("INTERNAL", "SHARED_LOADBALANCER_VIP")
    rules = {r.mark.service: (r.protocol, r.all_ports) for r in created(result, "forwarding-rule")}
    assert rules == {WEB: ("L3_DEFAULT", True), DNS: ("UDP", False)}
    assert result.outcome is not None
    assert result.outcome.port_errors == {DNS: {PortKey(2905, Protocol.SCTP): L3_TAKEN}}


def test_member_names_fit_gce_and_members_past_fifty_are_counted() -> None:
    long = ServiceRef("n" * 63, "s" * 63)
    base = member_names(CLUSTER, LoadBalancerKey("k" * 63, "e" * 63, shared=True), long)
    assert len(base.forwarding_rule("UDP", 20)) <= MAX_NAME_LENGTH and len(base.health_check_firewall) <= 63
    assert base != member_names(CLUSTER, KEY, long) != member_names("other", KEY, long)
    many = [ServiceRef("default", f"svc-{i}") for i in range(MAX_MEMBER_LABELS + 7)]
    labels = member_labels(CLUSTER, many)
    assert len(labels) == MAX_MEMBER_LABELS + 1 and labels[MORE_MEMBERS_LABEL] == "7"


@pytest.mark.parametrize("internal", [False, True])
def test_what_a_shared_plan_built_needs_nothing_more(make_spec: SpecFactory, internal: bool) -> None:
    members = two(make_spec, internal=internal)
    assert planned(members, applied(FRESH, planned(members))).empty
