"""``plan`` without any cloud: every kind of change, its reason and its order, from hand-made observations.

``converged`` applies a plan in memory (as a successful apply would leave the inventory), so each test
starts from the state a first plan builds and checks what a changed Service then needs.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

import pytest
from cloudlb_gcp.instances import InstanceNetwork, InstanceRef
from cloudlb_gcp.inventory import ClusterView, Observed
from cloudlb_gcp.names import instance_group_name, names_for
from cloudlb_gcp.ownership import OwnerMark, read_mark
from cloudlb_gcp.planner import LoadBalancerPlan, Lookup, Replan, Setting, plan
from cloudlb_gcp.resources import address, backend_service, firewalls, forwarding_rules, health_check
from cloudlb_gcp.resources.address import AddressRecord
from cloudlb_gcp.resources.common import NEW_ADDRESS_IP, NEW_ADDRESS_IP6, Kind, Write
from cloudlb_gcp.resources.instance_groups import Membership

from cloudlb.model import DesiredLoadBalancer, HealthCheck, LoadBalancerKey, LoadBalancerSpec, ServiceRef
from cloudlb.provider import NotOwnedError, PermanentError

from .conftest import NODE_4, NODES, PROJECT, REGION, SpecFactory

CLUSTER = "c1"
SETTING = Setting(CLUSTER, PROJECT, REGION, instance_group_name(CLUSTER))
NETWORK = f"projects/{PROJECT}/global/networks/default"
SUBNET = f"projects/{PROJECT}/regions/{REGION}/subnetworks/default"
WEB = ServiceRef("default", "web")
KEY = LoadBalancerKey.of(WEB)
NAMES = names_for(CLUSTER, WEB)
MARK = OwnerMark(CLUSTER, WEB)
EXTERNAL_IP, INTERNAL_IP = "203.0.113.10", "10.128.0.50"
EXTERNAL_IP6, INTERNAL_IP6 = "2600:1900:4000:1:0:1::", "fd20:0:0:1:0:1::"
INSTANCES = {InstanceRef(PROJECT, zone, name): InstanceNetwork(NETWORK, SUBNET, ("k8s-node",))
             for zone, name, _ in (*NODES, NODE_4)}


def view(**changes: Any) -> ClusterView:
    fields: dict[str, Any] = {"groups": {}, "group_users": {}, "instances": INSTANCES, "missing": frozenset(),
                              "addresses": {}, "addresses_by_ip": {}, **changes}
    frozen: dict[str, Any] = {k: MappingProxyType(v) if isinstance(v, dict) else v for k, v in fields.items()}
    return ClusterView(**frozen)


FRESH = Observed(KEY, None, None, None, {}, {}, view())


def planned(spec: LoadBalancerSpec, observed: Observed = FRESH) -> LoadBalancerPlan:
    return plan(SETTING, KEY, DesiredLoadBalancer.single(spec), observed)


def steps(result: LoadBalancerPlan) -> list[tuple[str, str, str]]:
    return [(c.action.value, c.resource, c.name) for c in result.changes]


def reasons(result: LoadBalancerPlan) -> dict[str, str]:
    """``"delete address NAME"``: the reason (the address, health check and backend service share a name)."""
    return {f"{c.action} {c.resource} {c.name}": c.reason for c in result.changes}


def converged(observed: Observed, result: LoadBalancerPlan) -> Observed:
    """The observation after ``result`` was applied with success, as the inventory would hold it."""
    records: dict[str, dict[str, Any]] = {"address": {}, "health-check": {}, "backend-service": {},
                                          "forwarding-rule": dict(observed.rules), "firewall": dict(observed.firewalls)}
    for kind, existing in (("address", observed.address), ("address", observed.address6),
                           ("health-check", observed.health_check),
                           ("backend-service", observed.backend_service)):
        if existing is not None:
            records[kind][existing.name] = existing
    groups = dict(observed.cluster.groups)
    internal = any(isinstance(c.payload, Write) and c.payload.kind is address.KIND and c.payload.verb == "insert"
                   and c.payload.record.internal for c in result.changes)
    new_ip = INTERNAL_IP if internal else EXTERNAL_IP
    new_ip6 = INTERNAL_IP6 if internal else EXTERNAL_IP6

    def placed(placeholder: str) -> str:
        return new_ip6 if placeholder == NEW_ADDRESS_IP6 else new_ip
    for change in result.changes:
        payload = change.payload
        if isinstance(payload, Membership):
            group = groups[payload.zone]
            members = ((group.members or frozenset()) | payload.add) - payload.remove
            groups[payload.zone] = dataclasses.replace(group, members=members)
            continue
        assert isinstance(payload, Write)
        record: Any = payload.record
        if payload.kind.resource == "instance-group":
            if payload.verb == "delete":
                del groups[payload.zone]
            else:
                groups[payload.zone] = dataclasses.replace(record, members=frozenset())
            continue
        table = records[payload.kind.resource]
        if payload.verb == "delete":
            del table[record.name]
            continue
        if payload.kind is address.KIND and payload.verb == "insert":
            record = dataclasses.replace(record, ip=record.ip or (new_ip6 if record.ipv6 else new_ip))
        if payload.kind is firewalls.KIND:
            record = firewalls.with_ip(record, placed)
        if payload.kind is forwarding_rules.KIND:
            record = forwarding_rules.with_ip(record, placed)
        table[record.name] = record
    users: dict[str, frozenset[str]] = {}
    for service in records["backend-service"].values():
        for group in service.groups:
            users[group.split("/")[3]] = users.get(group.split("/")[3], frozenset()) | {service.name}
    for zone, others in observed.cluster.group_users.items():
        users[zone] = users.get(zone, frozenset()) | (others - {NAMES.backend_service})
    return Observed(KEY, records["address"].get(NAMES.address), records["health-check"].get(NAMES.health_check),
                    records["backend-service"].get(NAMES.backend_service), records["forwarding-rule"],
                    records["firewall"], view(groups=groups, group_users=users, subnets=dict(observed.cluster.subnets),
                                              addresses={**observed.cluster.addresses, **records["address"]}),
                    address6=records["address"].get(NAMES.address6))


def built(spec: LoadBalancerSpec, observed: Observed = FRESH) -> Observed:
    return converged(observed, planned(spec, observed))


def test_a_new_load_balancer_is_built_in_dependency_order(make_spec: SpecFactory) -> None:
    result = planned(make_spec(ports=[(80, "TCP"), (443, "TCP")]))
    group = SETTING.group_name
    assert steps(result) == [
        ("create", "address", NAMES.address),
        ("create", "health-check", NAMES.health_check),
        ("create", "instance-group", f"us-central1-a/{group}"),
        ("update", "instance-group-members", f"us-central1-a/{group}"),
        ("create", "instance-group", f"us-central1-b/{group}"),
        ("update", "instance-group-members", f"us-central1-b/{group}"),
        ("create", "firewall", NAMES.traffic_firewall),
        ("create", "firewall", NAMES.health_check_firewall),
        ("create", "backend-service", NAMES.backend_service),
        ("create", "forwarding-rule", NAMES.forwarding_rule("TCP")),
    ]
    assert {c.reason for c in result.changes} == {"missing", "add node-1, node-3", "add node-2"}
    assert result.outcome is not None and result.outcome.ip == NEW_ADDRESS_IP
    rule = result.changes[-1].payload.record
    assert (rule.ip, rule.ports, rule.scheme) == (NEW_ADDRESS_IP, ("80", "443"), "EXTERNAL")


def test_what_a_plan_built_needs_nothing_more(make_spec: SpecFactory) -> None:
    for spec in (make_spec(ports=[(80, "TCP"), (53, "UDP")], source_ranges=["10.0.0.0/8"]),
                 make_spec(ports=[(80, "TCP"), (3868, "SCTP")], internal=True),
                 make_spec(health_check=HealthCheck(31999, local=True))):
        assert planned(spec, built(spec)).empty, spec


@pytest.mark.parametrize("before,after,replaced", [
    ([(80, "TCP")], [(80, "TCP"), (443, "TCP")], "ports: [80] -> [80, 443]"),
    ([(80, "TCP"), (443, "TCP")], [(443, "TCP")], "ports: [80, 443] -> [443]"),
    ([(80, "TCP")], [(8080, "TCP")], "ports: [80] -> [8080]"),
    ([(9000 + i, "TCP") for i in range(5)], [(9000 + i, "TCP") for i in range(6)],
     "ports: [9000, 9001, 9002, 9003, 9004] -> []; port range:  -> 9000-9005"),
])
def test_a_port_change_replaces_the_rule_and_updates_the_traffic_firewall(
        make_spec: SpecFactory, before: list[tuple[int, str]], after: list[tuple[int, str]], replaced: str) -> None:
    result = planned(make_spec(ports=after), built(make_spec(ports=before)))
    rule = NAMES.forwarding_rule("TCP")
    assert steps(result) == [("delete", "forwarding-rule", rule), ("update", "firewall", NAMES.traffic_firewall),
                             ("create", "forwarding-rule", rule)]
    assert reasons(result)[f"delete forwarding-rule {rule}"] == f"replaced: {replaced}"
    assert reasons(result)[f"update firewall {NAMES.traffic_firewall}"].startswith("allowed: ")
    assert result.outcome is not None and result.outcome.ip == EXTERNAL_IP, "the address keeps the IP"


def test_a_protocol_change_deletes_the_rule_before_the_backend_service_changes(make_spec: SpecFactory) -> None:
    result = planned(make_spec(ports=[(53, "UDP")]), built(make_spec(ports=[(53, "TCP")])))
    assert steps(result) == [
        ("delete", "forwarding-rule", NAMES.forwarding_rule("TCP")),
        ("update", "firewall", NAMES.traffic_firewall),
        ("update", "backend-service", NAMES.backend_service),
        ("create", "forwarding-rule", NAMES.forwarding_rule("UDP")),
    ]
    assert reasons(result)[f"update backend-service {NAMES.backend_service}"] == "protocol: TCP -> UDP"


def test_a_second_protocol_opens_the_backend_service_before_its_rule(make_spec: SpecFactory) -> None:
    result = planned(make_spec(ports=[(53, "TCP"), (53, "UDP")]), built(make_spec(ports=[(53, "TCP")])))
    assert steps(result) == [
        ("update", "firewall", NAMES.traffic_firewall),
        ("update", "backend-service", NAMES.backend_service),
        ("create", "forwarding-rule", NAMES.forwarding_rule("UDP")),
    ]
    assert reasons(result)[f"update backend-service {NAMES.backend_service}"] == "protocol: TCP -> UNSPECIFIED"


def test_a_scheme_change_replaces_what_cannot_change_in_place(make_spec: SpecFactory) -> None:
    result = planned(make_spec(internal=True), built(make_spec()))
    assert steps(result) == [
        ("delete", "forwarding-rule", NAMES.forwarding_rule("TCP")),
        ("delete", "address", NAMES.address),
        ("create", "address", NAMES.address),
        ("update", "firewall", NAMES.traffic_firewall),
        ("update", "firewall", NAMES.health_check_firewall),
        ("delete", "backend-service", NAMES.backend_service),
        ("create", "backend-service", NAMES.backend_service),
        ("create", "forwarding-rule", NAMES.forwarding_rule("TCP")),
    ]
    why = reasons(result)
    assert why[f"delete address {NAMES.address}"].startswith("no longer fits: address type: EXTERNAL -> INTERNAL")
    assert why[f"delete backend-service {NAMES.backend_service}"] == (
        "scheme EXTERNAL -> INTERNAL cannot change in place")
    assert result.retire == (), "the old and new cannot live side by side: same names"


def test_internal_sctp_is_one_l3_default_rule(make_spec: SpecFactory) -> None:
    result = planned(make_spec(ports=[(80, "TCP"), (3868, "SCTP")], internal=True))
    [rule] = [c.payload.record for c in result.changes if c.resource == "forwarding-rule"]
    assert (rule.protocol, rule.all_ports, rule.subnetwork) == ("L3_DEFAULT", True, SUBNET)
    service = next(c.payload.record for c in result.changes if c.resource == "backend-service")
    assert service.protocol == "UNSPECIFIED"


def test_source_ranges_change_only_the_traffic_firewall(make_spec: SpecFactory) -> None:
    result = planned(make_spec(source_ranges=["192.0.2.0/24"]), built(make_spec()))
    assert steps(result) == [("update", "firewall", NAMES.traffic_firewall)]
    assert result.changes[0].reason == "source ranges: [0.0.0.0/0] -> [192.0.2.0/24]"


def test_a_local_health_check_patches_the_check_and_its_firewall(make_spec: SpecFactory) -> None:
    result = planned(make_spec(health_check=HealthCheck(31999, local=True)), built(make_spec()))
    assert steps(result) == [("update", "health-check", NAMES.health_check),
                             ("update", "firewall", NAMES.health_check_firewall)]
    assert result.changes[0].reason == ("port: 10256 -> 31999; interval: 8 -> 3; unhealthy threshold: 3 -> 2")


def test_labels_changed_behind_our_back_are_set_again(make_spec: SpecFactory) -> None:
    before = built(make_spec())
    assert before.address is not None
    rule = before.rules[NAMES.forwarding_rule("TCP")]
    unlabelled = dataclasses.replace(before.address, labels=(), label_fingerprint="f1")
    relabelled = dataclasses.replace(before, address=unlabelled,
                                     rules={rule.name: dataclasses.replace(rule, labels=(("team", "x"),))})
    result = planned(make_spec(), relabelled)
    assert steps(result) == [("update", "address", NAMES.address), ("update", "forwarding-rule", rule.name)]
    assert [c.payload.verb for c in result.changes] == ["setLabels", "setLabels"]
    assert result.changes[0].payload.record.label_fingerprint == "f1", "setLabels needs the current fingerprint"
    assert result.changes[1].reason.startswith("labels: [[team, x]] -> [[cloudlb-cluster, c1], ")


def test_nodes_joining_and_leaving_change_only_membership(make_spec: SpecFactory) -> None:
    before = built(make_spec())
    joined = planned(make_spec(nodes=[*NODES, NODE_4]), before)
    assert [(c.resource, c.name, c.reason) for c in joined.changes] == [
        ("instance-group-members", f"us-central1-b/{SETTING.group_name}", "add node-4")]
    left = planned(make_spec(nodes=NODES[1:]), before)
    assert [(c.resource, c.reason) for c in left.changes] == [("instance-group-members", "remove node-1")]


def test_a_zone_without_nodes_leaves_the_backend_service_and_its_unused_group_goes(make_spec: SpecFactory) -> None:
    only_a = [n for n in NODES if n[0] == "us-central1-a"]
    result = planned(make_spec(nodes=only_a), built(make_spec()))
    assert steps(result) == [("update", "backend-service", NAMES.backend_service),
                             ("delete", "instance-group", f"us-central1-b/{SETTING.group_name}")]
    assert result.changes[0].reason.startswith("groups: [")


def test_a_group_another_load_balancer_uses_is_emptied_not_deleted(make_spec: SpecFactory) -> None:
    before = built(make_spec())
    shared = dataclasses.replace(before, cluster=dataclasses.replace(before.cluster, group_users=MappingProxyType({
        "us-central1-a": frozenset({NAMES.backend_service, "clb-default-api-0123456789"}),
        "us-central1-b": frozenset({NAMES.backend_service, "clb-default-api-0123456789"})})))
    result = planned(make_spec(nodes=[n for n in NODES if n[0] == "us-central1-a"]), shared)
    assert [(c.action.value, c.resource, c.reason) for c in result.changes] == [
        ("update", "instance-group-members", "remove node-2"), ("update", "backend-service", result.changes[1].reason)]


def test_unknown_instances_and_addresses_are_read_before_planning(make_spec: SpecFactory) -> None:
    known = {ref: network for ref, network in INSTANCES.items() if ref.zone == "us-central1-a"}
    unlisted = dataclasses.replace(FRESH, cluster=view(instances=known))
    spec = make_spec(annotations={"networking.gke.io/load-balancer-ip-addresses": "static-web"})
    result = planned(spec, unlisted)
    [change] = result.changes
    node_2 = f"projects/{PROJECT}/zones/us-central1-b/instances/node-2"
    assert result.lookups == (Lookup("address", "static-web"), Lookup("instance", node_2))
    assert (change.resource, change.reason) == (
        "load-balancer", "to be planned after reading reserved address static-web, instance node-2 of zone "
                         "us-central1-b")
    assert isinstance(change.payload, Replan) and change.payload.desired.first == spec
    assert result.outcome is None


def test_a_node_whose_instance_a_listing_did_not_show_is_left_out(make_spec: SpecFactory) -> None:
    ghost = ("us-central1-b", "ghost", "10.128.0.9")
    assert planned(make_spec(nodes=[*NODES, ghost])).lookups == (
        Lookup("instance", f"projects/{PROJECT}/zones/us-central1-b/instances/ghost"),)
    looked_up = dataclasses.replace(FRESH, cluster=view(missing=frozenset({InstanceRef(PROJECT, *ghost[:2])})))
    result = planned(make_spec(nodes=[*NODES, ghost]), looked_up)
    assert result.lookups == ()
    assert result.outcome is not None and result.outcome.warnings == (
        f"node ghost: its instance projects/{PROJECT}/zones/us-central1-b/instances/ghost does not exist; "
        "left out of the load balancer",)


def users_address(name: str = "static-web", ip: str = "203.0.113.200", mark: OwnerMark | None = None,
                  address_type: str = "EXTERNAL") -> AddressRecord:
    return AddressRecord(name, mark, ip, address_type, "", "", ())


def with_addresses(observed: Observed, *records: AddressRecord) -> Observed:
    known = {**observed.cluster.addresses, **{r.name: r for r in records}}
    by_ip = {r.ip: r for r in known.values() if r is not None}
    return dataclasses.replace(observed, cluster=dataclasses.replace(
        observed.cluster, addresses=MappingProxyType(known), addresses_by_ip=MappingProxyType(by_ip)))


def test_moving_to_a_users_address_moves_the_rules_then_releases_ours(make_spec: SpecFactory) -> None:
    spec = make_spec(annotations={"networking.gke.io/load-balancer-ip-addresses": "static-web"})
    result = planned(spec, with_addresses(built(make_spec()), users_address()))
    assert steps(result) == [("delete", "forwarding-rule", NAMES.forwarding_rule("TCP")),
                             ("update", "firewall", NAMES.traffic_firewall),
                             ("create", "forwarding-rule", NAMES.forwarding_rule("TCP")),
                             ("delete", "address", NAMES.address)]
    rule = result.changes[2].payload.record
    assert (rule.ip, rule.address_name) == ("203.0.113.200", "static-web")
    assert result.outcome is not None and result.outcome.ip == "203.0.113.200"


def test_naming_the_address_cloudlb_made_for_the_service_keeps_it_ours(make_spec: SpecFactory) -> None:
    before = built(make_spec())
    pinned = make_spec(annotations={"networking.gke.io/load-balancer-ip-addresses": NAMES.address})
    assert planned(pinned, before).empty
    assert planned(pinned, FRESH).changes[0].resource == "address", "and it is reserved when missing"


def test_load_balancer_ip_of_a_users_address_is_used_and_of_another_services_refused(make_spec: SpecFactory) -> None:
    spec = make_spec(requested_ips=["203.0.113.200"])
    assert planned(spec).lookups == (Lookup("ip", "203.0.113.200"),)
    used = planned(spec, with_addresses(FRESH, users_address(name="users-ip")))
    assert not any(c.resource == "address" for c in used.changes)
    assert used.outcome is not None and used.outcome.ip == "203.0.113.200"
    theirs = users_address(name="clb-default-api-0123456789", mark=OwnerMark(CLUSTER, ServiceRef("default", "api")))
    with pytest.raises(PermanentError, match="cloudlb's address for Service default/api of cluster c1"):
        planned(spec, with_addresses(FRESH, theirs))
    with pytest.raises(PermanentError, match="is INTERNAL; this load balancer needs EXTERNAL"):
        planned(spec, with_addresses(FRESH, users_address(name="users-ip", address_type="INTERNAL")))


def test_an_ip_nobody_holds_is_reserved_as_ours(make_spec: SpecFactory) -> None:
    spec = make_spec(internal=True, requested_ips=["10.128.0.77"])
    nobody = dataclasses.replace(FRESH, cluster=view(addresses_by_ip={"10.128.0.77": None}))
    reserve = planned(spec, nobody).changes[0]
    assert (reserve.resource, reserve.payload.record.ip) == ("address", "10.128.0.77")


def test_a_resource_with_our_name_but_not_our_mark_stops_the_plan(make_spec: SpecFactory) -> None:
    foreign = health_check.HealthCheckRecord(NAMES.health_check, None, "TCP", 22, "", 5, 5, 2, 2)
    observed = dataclasses.replace(FRESH, health_check=foreign)
    with pytest.raises(NotOwnedError, match=NAMES.health_check):
        planned(make_spec(), observed)
    assert plan(SETTING, KEY, None, observed).empty, "and removing the load balancer leaves it alone"


def test_removal_deletes_dependants_first_and_groups_nobody_else_uses(make_spec: SpecFactory) -> None:
    before = built(make_spec(ports=[(80, "TCP"), (53, "UDP")]))
    result = plan(SETTING, KEY, None, before)
    assert [(c.action.value, c.resource) for c in result.changes] == [
        ("delete", "forwarding-rule"), ("delete", "forwarding-rule"), ("delete", "backend-service"),
        ("delete", "health-check"), ("delete", "firewall"), ("delete", "firewall"), ("delete", "address"),
        ("delete", "instance-group"), ("delete", "instance-group")]
    assert result.outcome is None
    assert plan(SETTING, KEY, None, converged(before, result)).empty


def test_marks_name_the_cluster_and_the_load_balancer() -> None:
    mark = OwnerMark(CLUSTER, WEB)
    assert read_mark(mark.description) == mark and mark.key == KEY
    shared_key = LoadBalancerKey("team-a", "front", shared=True)
    shared = OwnerMark.of(CLUSTER, shared_key)
    assert read_mark(shared.description) == shared and shared.key == shared_key
    member = OwnerMark(CLUSTER, ServiceRef("team-a", "web"), shared=shared_key)
    assert read_mark(member.description) == member and member.key == shared_key
    for foreign in ("", "made by hand", '{"cloudlb.io/cluster": 5}', "[1]", '{"cloudlb.io/cluster": "c", '
                    '"cloudlb.io/service": "no-slash"}'):
        assert read_mark(foreign) is None


def test_a_record_read_back_equals_the_record_written(make_spec: SpecFactory) -> None:
    """What the API answers (full links, fields it adds) parses to what was sent, so a sweep sees no drift."""
    first = built(make_spec(ports=[(80, "TCP"), (443, "TCP"), (53, "UDP")], internal=True))
    assert first.address is not None and first.backend_service is not None and first.health_check is not None
    answered = {"selfLink": "https://www.googleapis.com/compute/v1/x", "kind": "compute#x", "id": "7"}
    written: list[tuple[Kind[Any], Any]] = [
        (backend_service.KIND, first.backend_service), (health_check.KIND, first.health_check),
        (address.KIND, first.address), *((firewalls.KIND, w) for w in first.firewalls.values()),
        *((forwarding_rules.KIND, r) for r in first.rules.values())]
    for kind, record in written:
        full = {key: "https://www.googleapis.com/compute/v1/" + value if key in LINKS else value
                for key, value in kind.body(record).items()}
        assert kind.parse({**full, **answered}) == record, kind
    rule = next(iter(first.rules.values()))
    assert dataclasses.replace(rule, label_fingerprint="changed") == rule, "a fingerprint is not a difference"


LINKS = ("network", "subnetwork", "backendService")
