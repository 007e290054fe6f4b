"""What the provider knows of the cloud, kept in step with its own writes.

A sweep fills the inventory with list calls; every successful write updates
it; a failed write marks what it touched stale, to be read again before the
next plan. So a plan needs no read while the inventory is fresh, and a name
absent from a complete table is known absent (no 404 probes).

Per load balancer the inventory holds the address, health check, backend
service, forwarding rules and firewalls by name; for the whole cluster, the
zone instance groups with their members, the instances of the zones listed
(network and tags), and what is known of reserved addresses by name and IP
(including that none exists). Thread-safe: workers observe and write at once.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic

from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb_gcp.instances import InstanceNetwork, InstanceRef
from cloudlb_gcp.names import LoadBalancerNames
from cloudlb_gcp.resources import address, backend_service, firewalls, forwarding_rules, health_check
from cloudlb_gcp.resources.address import AddressRecord
from cloudlb_gcp.resources.backend_service import BackendServiceRecord
from cloudlb_gcp.resources.common import Kind, R
from cloudlb_gcp.resources.firewalls import FirewallRecord
from cloudlb_gcp.resources.forwarding_rules import RuleRecord
from cloudlb_gcp.resources.health_check import HealthCheckRecord
from cloudlb_gcp.resources.instance_groups import GroupRecord
from cloudlb_gcp.resources.subnetwork import SubnetRecord

LOAD_BALANCER_KINDS: tuple[Kind[Any], ...] = (
    address.KIND, health_check.KIND, backend_service.KIND, forwarding_rules.KIND, firewalls.KIND)
RULE_PROTOCOLS = ("TCP", "UDP", "L3_DEFAULT")


def names_by_kind(names: LoadBalancerNames, ipv6: bool = True) -> dict[Kind[Any], tuple[str, ...]]:
    """Every name a load balancer's resources may have, by kind (``ipv6``: with those of its IPv6 part)."""
    families = (False, True) if ipv6 else (False,)
    return {
        address.KIND: (names.address, names.address6) if ipv6 else (names.address,),
        health_check.KIND: (names.health_check,),
        backend_service.KIND: (names.backend_service,),
        forwarding_rules.KIND: tuple(names.forwarding_rule(protocol, ipv6=v6)
                                     for v6 in families for protocol in RULE_PROTOCOLS),
        firewalls.KIND: (names.traffic_firewall, names.health_check_firewall,
                         *((names.traffic_firewall6, names.health_check_firewall6) if ipv6 else ())),
    }


@dataclass
class Table(Generic[R]):
    """One kind's records by name; ``written``: when cloudlb last wrote each (a listing older than that is stale)."""

    records: dict[str, R] = field(default_factory=dict)
    written: dict[str, float] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    complete: bool = False


@dataclass(frozen=True)
class ClusterView:
    """What every plan may need beyond its own load balancer's resources, as one consistent snapshot."""

    groups: Mapping[str, GroupRecord]  # the cluster's groups by zone
    group_users: Mapping[str, frozenset[str]]  # by zone: the backend services that use the group
    instances: Mapping[InstanceRef, InstanceNetwork]
    missing: frozenset[InstanceRef]  # instances a listing made after they were needed did not show
    addresses: Mapping[str, AddressRecord | None]  # reserved addresses by name (None: known not to exist)
    addresses_by_ip: Mapping[str, AddressRecord | None]  # the same by IP (None: no address holds it)
    # Subnetworks by link, as read when a Service asked for IPv6 on one (None: it does not exist).
    subnets: Mapping[str, SubnetRecord | None] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class MemberObserved:
    """One member Service's own resources on a shared load balancer (everything but the shared address)."""

    health_check: HealthCheckRecord | None = None
    backend_service: BackendServiceRecord | None = None
    rules: Mapping[str, RuleRecord] = field(default_factory=lambda: MappingProxyType({}))
    firewalls: Mapping[str, FirewallRecord] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Observed:
    """One load balancer's resources as the inventory holds them, with the cluster's shared state.

    A Service's own load balancer fills the fields by name; a shared one has only its ``address`` and
    ``members``: each member Service's resources, found by the marks that name the load balancer and the
    member (so that a member that left, even one no Service names any more, is found and removed).
    """

    key: LoadBalancerKey
    address: AddressRecord | None
    health_check: HealthCheckRecord | None
    backend_service: BackendServiceRecord | None
    rules: Mapping[str, RuleRecord]
    firewalls: Mapping[str, FirewallRecord]
    cluster: ClusterView
    members: Mapping[ServiceRef, MemberObserved] = field(default_factory=lambda: MappingProxyType({}))
    address6: AddressRecord | None = None  # our IPv6 address, for Services with ipFamilies IPv6


@dataclass(frozen=True)
class Stale:
    """What must be read again before a plan: resources by kind and name, groups by zone."""

    resources: tuple[tuple[Kind[Any], str], ...]
    zones: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.resources or self.zones)


MemberIndex = dict[LoadBalancerKey, dict[tuple[Kind[Any], str], ServiceRef]]


class Inventory:
    def __init__(self, group_name: str, cluster: str = "") -> None:
        self.group_name = group_name
        self.cluster = cluster
        self._lock = threading.RLock()
        # The resources of each member of this cluster's shared load balancers, by their marks.
        self._members: MemberIndex = {}
        # Stale member resources, by the shared load balancer whose plan must read them again.
        self._stale_members: dict[tuple[Kind[Any], str], LoadBalancerKey] = {}
        self._tables: dict[Kind[Any], Table[Any]] = {kind: Table() for kind in LOAD_BALANCER_KINDS}
        self._groups: dict[str, GroupRecord] = {}
        self._groups_written: dict[str, float] = {}
        self._stale_zones: set[str] = set()
        self._groups_complete = False
        self._instances: dict[InstanceRef, InstanceNetwork] = {}
        self._listed_zones: set[str] = set()
        self._missing: set[InstanceRef] = set()
        # Reserved addresses that are not this cluster's (by name, by IP), as looked up; None: none there.
        self._foreign: dict[str, AddressRecord | None] = {}
        self._foreign_ips: dict[str, AddressRecord | None] = {}
        self._subnets: dict[str, SubnetRecord | None] = {}
        self._view: ClusterView | None = None
        # Kept in step with the tables, so that a plan's snapshot costs the same at 10 or 1,000 load balancers:
        # by zone, the backend services that use the cluster's group; the rules that name a user's address.
        self._users: dict[str, set[str]] = {}
        self._on_users_address: dict[str, RuleRecord] = {}

    # -- state ---------------------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        with self._lock:
            return self._groups_complete and all(table.complete for table in self._tables.values())

    def record(self, kind: Kind[R], name: str) -> R | None:
        with self._lock:
            return self._tables[kind].records.get(name)

    def group(self, zone: str) -> GroupRecord | None:
        with self._lock:
            return self._groups.get(zone)

    def groups(self) -> dict[str, GroupRecord]:
        with self._lock:
            return dict(self._groups)

    def zones(self) -> set[str]:
        """Zones where the cluster has a group or nodes were seen: where instances are listed."""
        with self._lock:
            return set(self._groups) | self._listed_zones

    def owned(self, cluster: str) -> dict[LoadBalancerKey, frozenset[ServiceRef]]:
        """Every load balancer of ``cluster`` that has resources, with the member Services their marks name."""
        with self._lock:
            owned: dict[LoadBalancerKey, set[ServiceRef]] = {}
            for table in self._tables.values():
                for record in table.records.values():
                    mark = record.mark
                    if mark is not None and mark.cluster == cluster and (key := mark.key) is not None:
                        owned.setdefault(key, set()).update([mark.service] if mark.service else [])
            return {key: frozenset(services) for key, services in owned.items()}

    def group_users(self) -> dict[str, frozenset[str]]:
        """By zone, the names of the backend services that use the cluster's group there."""
        with self._lock:
            return self._group_users()

    def _group_users(self) -> dict[str, frozenset[str]]:
        return {zone: frozenset(names) for zone, names in self._users.items() if names}

    def _follow(self, kind: Kind[Any], old: Any, new: Any) -> None:
        """Keep ``_users`` and ``_on_users_address`` in step with a record of ``kind`` going from ``old`` to ``new``."""
        if kind is backend_service.KIND:
            suffix = f"/instanceGroups/{self.group_name}"
            for record, adding in ((old, False), (new, True)):
                for group in record.groups if record is not None else ():
                    if group.endswith(suffix):
                        users = self._users.setdefault(group.split("/")[3], set())
                        if adding:
                            users.add(record.name)
                        else:
                            users.discard(record.name)
        elif kind is forwarding_rules.KIND and (old or new) is not None:
            if new is not None and new.address_name and new.ip:
                self._on_users_address[new.name] = new
            else:
                self._on_users_address.pop((old or new).name, None)

    # -- snapshots for plans -------------------------------------------------------------------------

    def observed(self, key: LoadBalancerKey, names: LoadBalancerNames) -> Observed:
        with self._lock:
            addresses = self._tables[address.KIND].records
            if key.shared:
                return Observed(key, addresses.get(names.address), None, None, {}, {}, self._cluster_view(),
                                MappingProxyType(self._observed_members(key)), addresses.get(names.address6))
            found = {kind: {name: record for name in named if (record := self._tables[kind].records.get(name))}
                     for kind, named in names_by_kind(names).items()}
            return Observed(key, found[address.KIND].get(names.address),
                            found[health_check.KIND].get(names.health_check),
                            found[backend_service.KIND].get(names.backend_service),
                            found[forwarding_rules.KIND], found[firewalls.KIND], self._cluster_view(),
                            address6=found[address.KIND].get(names.address6))

    def _observed_members(self, key: LoadBalancerKey) -> dict[ServiceRef, MemberObserved]:
        parts: dict[ServiceRef, dict[Kind[Any], dict[str, Any]]] = {}
        for (kind, name), service in self._members.get(key, {}).items():
            record = self._tables[kind].records.get(name)
            if record is not None:
                parts.setdefault(service, {}).setdefault(kind, {})[name] = record
        return {service: MemberObserved(
            next(iter(found.get(health_check.KIND, {}).values()), None),
            next(iter(found.get(backend_service.KIND, {}).values()), None),
            MappingProxyType(found.get(forwarding_rules.KIND, {})), MappingProxyType(found.get(firewalls.KIND, {})))
            for service, found in parts.items()}

    def _index(self, kind: Kind[Any], old: Any, new: Any) -> None:
        """Keep the member index in step when a record of ``kind`` changes from ``old`` to ``new``."""
        for record, adding in ((old, False), (new, True)):
            mark = getattr(record, "mark", None)
            if mark is None or mark.shared is None or mark.service is None or mark.cluster != self.cluster:
                continue
            entries = self._members.setdefault(mark.shared, {})
            if adding:
                entries[(kind, record.name)] = mark.service
            else:
                entries.pop((kind, record.name), None)
                if not entries:
                    del self._members[mark.shared]

    def cluster_view(self) -> ClusterView:
        with self._lock:
            return self._cluster_view()

    def _cluster_view(self) -> ClusterView:
        if self._view is None:
            by_name: dict[str, AddressRecord | None] = dict(self._foreign)
            by_name.update(self._tables[address.KIND].records)
            # A rule on a user's address names it in a label: its IP is the rule's, no read needed.
            for rule in self._on_users_address.values():
                name = rule.address_name
                if name and by_name.get(name) is None and rule.ip:
                    by_name[name] = AddressRecord(name, None, rule.ip, rule.scheme, "", "", (),
                                                  network_tier=rule.network_tier)
            by_ip = dict(self._foreign_ips)
            by_ip.update((record.ip, record) for record in by_name.values() if record is not None and record.ip)
            self._view = ClusterView(
                MappingProxyType(dict(self._groups)), MappingProxyType(self._group_users()),
                MappingProxyType(dict(self._instances)), frozenset(self._missing),
                MappingProxyType(by_name), MappingProxyType(by_ip), MappingProxyType(dict(self._subnets)))
        return self._view

    def stale(self, names: Iterable[LoadBalancerNames], shared: Iterable[LoadBalancerKey] = ()) -> Stale:
        """What must be read again before these load balancers (and the ``shared`` ones' members) are planned."""
        with self._lock:
            resources = [(kind, name) for each in names for kind, named in names_by_kind(each).items()
                         for name in named if name in self._tables[kind].stale]
            keys = set(shared)
            resources += sorted(((kind, name) for (kind, name), key in self._stale_members.items()
                                 if key in keys and name in self._tables[kind].stale), key=lambda x: x[1])
            unknown = {zone for zone, group in self._groups.items() if group.members is None}
            return Stale(tuple(resources), tuple(sorted(self._stale_zones | unknown)))

    # -- updates from cloudlb's own writes and reads -------------------------------------------------

    def put(self, kind: Kind[R], record: R) -> None:
        with self._lock:
            table = self._tables[kind]
            self._index(kind, table.records.get(record.name), record)
            self._follow(kind, table.records.get(record.name), record)
            self._stale_members.pop((kind, record.name), None)
            table.records[record.name] = record
            table.written[record.name] = time.monotonic()
            table.stale.discard(record.name)
            self._view = None

    def remove(self, kind: Kind[Any], name: str) -> None:
        with self._lock:
            table = self._tables[kind]
            old = table.records.pop(name, None)
            self._index(kind, old, None)
            self._follow(kind, old, None)
            self._stale_members.pop((kind, name), None)
            table.written[name] = time.monotonic()
            table.stale.discard(name)
            self._view = None

    def mark_stale(self, kind: Kind[Any], name: str, shared: LoadBalancerKey | None = None) -> None:
        """``shared``: the shared load balancer the resource is a member's part of (found by mark, not name)."""
        with self._lock:
            self._tables[kind].stale.add(name)
            if shared is not None:
                self._stale_members[(kind, name)] = shared

    def mark_load_balancer_stale(self, names: LoadBalancerNames, key: LoadBalancerKey | None = None) -> None:
        """Every resource of a load balancer is to be read again: the inventory was wrong about one of them."""
        with self._lock:
            # Its IPv6 names only when it has an IPv6 part: each stale name is one read.
            ipv6 = names.address6 in self._tables[address.KIND].records or any(
                name in self._tables[forwarding_rules.KIND].records
                for name in names_by_kind(names)[forwarding_rules.KIND][len(RULE_PROTOCOLS):])
            for kind, named in names_by_kind(names, ipv6).items():
                self._tables[kind].stale.update(named)
            if key is not None and key.shared:
                for (kind, name) in self._members.get(key, {}):
                    self._tables[kind].stale.add(name)
                    self._stale_members[(kind, name)] = key

    def put_group(self, record: GroupRecord) -> None:
        with self._lock:
            self._groups[record.zone] = record
            self._groups_written[record.zone] = time.monotonic()
            self._stale_zones.discard(record.zone)
            self._view = None

    def remove_group(self, zone: str) -> None:
        with self._lock:
            self._groups.pop(zone, None)
            self._groups_written[zone] = time.monotonic()
            self._stale_zones.discard(zone)
            self._view = None

    def mark_group_stale(self, zone: str) -> None:
        with self._lock:
            self._stale_zones.add(zone)

    def learned_instances(self, zone: str, found: Mapping[InstanceRef, InstanceNetwork],
                          wanted: Iterable[InstanceRef] = ()) -> set[InstanceRef]:
        """A whole zone's instances, as just listed; those of ``wanted`` it did not show are missing (until
        a listing shows them). Returns the instances that appeared, went or changed network or tags."""
        with self._lock:
            before = {ref: network for ref, network in self._instances.items() if ref.zone == zone}
            for ref in before:
                del self._instances[ref]
            self._instances.update(found)
            self._listed_zones.add(zone)
            self._missing = (self._missing | set(wanted)) - set(found)
            self._view = None
            return {ref for ref in set(before) | set(found) if before.get(ref) != found.get(ref)}

    def missing(self) -> set[InstanceRef]:
        with self._lock:
            return set(self._missing)

    def learned_address(self, name: str, record: AddressRecord | None) -> None:
        with self._lock:
            self._foreign[name] = record
            self._view = None

    def learned_ip(self, ip: str, record: AddressRecord | None) -> None:
        with self._lock:
            self._foreign_ips[ip] = record
            if record is not None:
                self._foreign[record.name] = record
            self._view = None

    def learned_subnet(self, link: str, record: SubnetRecord | None) -> None:
        with self._lock:
            self._subnets[link] = record
            self._view = None

    def forget_subnets(self) -> None:
        """A subnetwork refused IPv6: read them again before the next plan (its stack may have changed)."""
        with self._lock:
            self._subnets.clear()
            self._view = None

    def forget_ip(self, ip: str) -> None:
        """What was known about who holds ``ip`` turned out wrong (a reservation was refused): look again."""
        with self._lock:
            self._foreign_ips.pop(ip, None)
            self._view = None

    # -- sweeps --------------------------------------------------------------------------------------

    def merge(self, kind: Kind[R], listed: Mapping[str, R], started: float) -> list[tuple[R | None, R | None]]:
        """Take a complete listing that began at ``started``; ``(before, after)`` for each record it changed.

        A record cloudlb wrote after the listing began is newer than what the listing saw, and is kept.
        """
        with self._lock:
            table = self._tables[kind]
            changed = []
            for name in set(table.records) | set(listed):
                if table.written.get(name, 0.0) > started:
                    continue
                old, new = table.records.get(name), listed.get(name)
                if old != new:
                    changed.append((old, new))
                self._index(kind, old, new)
                self._follow(kind, old, new)
                self._stale_members.pop((kind, name), None)
                if new is None:
                    table.records.pop(name, None)
                    table.written.pop(name, None)  # gone before the listing: nothing newer to protect
                else:
                    table.records[name] = new
                table.stale.discard(name)
            table.complete = True
            self._view = None
            return changed

    def merge_groups(self, listed: Mapping[str, GroupRecord], started: float) -> set[str]:
        """Take a listing of the cluster's groups that began at ``started``; the zones whose group it changed.

        A group listed without its members (its size matched what was known) keeps the known members.
        """
        with self._lock:
            changed = set()
            for zone in set(self._groups) | set(listed):
                if self._groups_written.get(zone, 0.0) > started:
                    continue
                old, new = self._groups.get(zone), listed.get(zone)
                if new is not None and new.members is None and old is not None:
                    new = dataclasses.replace(new, members=old.members)
                if _group_state(old) != _group_state(new):
                    changed.add(zone)
                if new is None:
                    self._groups.pop(zone, None)
                    self._groups_written.pop(zone, None)
                else:
                    self._groups[zone] = new
                self._stale_zones.discard(zone)
            self._groups_complete = True
            self._view = None
            return changed


def _group_state(group: GroupRecord | None) -> object:
    return None if group is None else (group.mark, group.network, group.members)
