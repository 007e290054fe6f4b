"""The inventory on its own: listings merged without losing newer writes, stale marks, what plans see."""

from __future__ import annotations

import time

from cloudlb_gcp.inventory import Inventory
from cloudlb_gcp.names import names_for
from cloudlb_gcp.ownership import OwnerMark
from cloudlb_gcp.resources import backend_service, forwarding_rules, health_check
from cloudlb_gcp.resources.health_check import HealthCheckRecord
from cloudlb_gcp.resources.instance_groups import GroupRecord

from cloudlb.model import KUBE_PROXY_HEALTH_CHECK, HealthCheck, LoadBalancerKey, Port, Protocol, ServiceRef

WEB = ServiceRef("default", "web")
NAMES = names_for("c1", WEB)
MARK = OwnerMark("c1", WEB)


def check(port: int) -> HealthCheckRecord:
    return health_check.desired(NAMES.health_check, MARK, HealthCheck(port))


def test_a_listing_replaces_what_it_saw_and_reports_the_difference() -> None:
    inventory = Inventory("group")
    inventory.merge(health_check.KIND, {NAMES.health_check: check(10256)}, time.monotonic())
    changed = inventory.merge(health_check.KIND, {NAMES.health_check: check(31000)}, time.monotonic())
    assert changed == [(check(10256), check(31000))]
    assert inventory.record(health_check.KIND, NAMES.health_check) == check(31000)
    assert inventory.merge(health_check.KIND, {}, time.monotonic()) == [(check(31000), None)]
    assert inventory.observed(LoadBalancerKey.of(WEB), NAMES).health_check is None, "absent from a complete listing"


def test_a_write_newer_than_the_listing_is_kept() -> None:
    inventory = Inventory("group")
    started = time.monotonic()
    inventory.put(health_check.KIND, check(KUBE_PROXY_HEALTH_CHECK.port))
    assert inventory.merge(health_check.KIND, {}, started) == []
    assert inventory.record(health_check.KIND, NAMES.health_check) is not None
    inventory.remove(health_check.KIND, NAMES.health_check)
    assert inventory.merge(health_check.KIND, {NAMES.health_check: check(1)}, started) == []
    assert inventory.record(health_check.KIND, NAMES.health_check) is None


def test_what_a_failed_write_touched_is_read_again_before_the_next_plan() -> None:
    inventory = Inventory("group")
    inventory.put(health_check.KIND, check(10256))
    inventory.mark_stale(health_check.KIND, NAMES.health_check)
    inventory.put_group(GroupRecord("group", OwnerMark("c1"), "zone-a", "net", members=frozenset()))
    inventory.mark_group_stale("zone-a")
    stale = inventory.stale([NAMES])
    assert stale.resources == ((health_check.KIND, NAMES.health_check),) and stale.zones == ("zone-a",)
    inventory.put(health_check.KIND, check(10256))
    inventory.put_group(GroupRecord("group", OwnerMark("c1"), "zone-a", "net", members=frozenset()))
    assert not inventory.stale([NAMES])


def test_a_groups_members_listed_without_reading_them_are_kept_from_before() -> None:
    inventory = Inventory("group")
    known = GroupRecord("group", OwnerMark("c1"), "zone-a", "net", size=2, members=frozenset({"i-1", "i-2"}))
    inventory.merge_groups({"zone-a": known}, time.monotonic())
    listed = GroupRecord("group", OwnerMark("c1"), "zone-a", "net", size=2)
    assert inventory.merge_groups({"zone-a": listed}, time.monotonic()) == set()
    assert inventory.groups()["zone-a"].members == frozenset({"i-1", "i-2"})
    swapped = GroupRecord("group", OwnerMark("c1"), "zone-a", "net", size=2, members=frozenset({"i-1", "i-3"}))
    assert inventory.merge_groups({"zone-a": swapped}, time.monotonic()) == {"zone-a"}


def test_the_cluster_view_knows_a_users_address_from_the_rule_that_names_it() -> None:
    [rule] = forwarding_rules.desired(NAMES, MARK, (Port(80, Protocol.TCP, 30080),), forwarding_rules.Frontend(
        "203.0.113.200", "bs", internal=False, users_address="static-web"))
    inventory = Inventory("group")
    inventory.put(forwarding_rules.KIND, rule)
    view = inventory.cluster_view()
    known = view.addresses["static-web"]
    assert known is not None and (known.ip, known.address_type) == ("203.0.113.200", "EXTERNAL")
    assert view.addresses_by_ip["203.0.113.200"] == known
    # Known while a rule names it, whichever way the rule goes: a write, a listing, a deletion.
    inventory.merge(forwarding_rules.KIND, {}, time.monotonic() - 60)  # listed before our write: kept
    assert "static-web" in inventory.cluster_view().addresses
    inventory.remove(forwarding_rules.KIND, rule.name)
    assert "static-web" not in inventory.cluster_view().addresses
    inventory.merge(forwarding_rules.KIND, {rule.name: rule}, time.monotonic())
    assert "static-web" in inventory.cluster_view().addresses
    inventory.merge(forwarding_rules.KIND, {}, time.monotonic())
    assert "static-web" not in inventory.cluster_view().addresses


def test_the_users_of_each_zones_group_follow_writes_listings_and_deletions() -> None:
    group = "projects/p/zones/{}/instanceGroups/group"
    other = ServiceRef("default", "api")

    def service(ref: ServiceRef, *zones: str) -> backend_service.BackendServiceRecord:
        return backend_service.desired(names_for("c1", ref).backend_service, OwnerMark("c1", ref), "EXTERNAL", "TCP",
                                       "hc", [group.format(zone) for zone in zones] + ["projects/p/zones/a/x/y"])
    web, api = names_for("c1", WEB).backend_service, names_for("c1", other).backend_service
    inventory = Inventory("group")
    inventory.put(backend_service.KIND, service(WEB, "a", "b"))
    inventory.put(backend_service.KIND, service(other, "a"))
    assert inventory.group_users() == {"a": {web, api}, "b": {web}}
    inventory.put(backend_service.KIND, service(WEB, "b"))
    assert inventory.group_users() == {"a": {api}, "b": {web}}
    assert inventory.cluster_view().group_users == {"a": {api}, "b": {web}}
    inventory.remove(backend_service.KIND, api)
    assert inventory.group_users() == {"b": {web}}
    inventory.merge(backend_service.KIND, {api: service(other, "c")}, time.monotonic())
    assert inventory.group_users() == {"c": {api}}
