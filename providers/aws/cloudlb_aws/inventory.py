"""What the provider knows of AWS, kept in step with its own writes. Thread-safe.

A sweep fills it with list calls; every successful write updates it; a failed
write marks what it touched stale, to be read again (by name) before the next
plan. So a plan needs no read while the inventory is fresh, and a name absent
from a complete table is known absent: a create costs no probe.

Tables: load balancers, target groups and Classic ELBs whose names start with
cloudlb's prefix (with their tags: ownership is decided from them, never from
the name); the listeners of each load balancer and the targets of each target
group, both *unknown* until read (a fast sweep reads neither for what it
already knows); the cluster's own security groups and the nodes' groups; the
instances of the cluster's VPCs; the subnets tagged for load balancers; and
facts looked up on demand (annotated subnets, Elastic IPs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cloudlb.model import LoadBalancerKey
from cloudlb_aws.naming import is_cluster_owned
from cloudlb_aws.records import (
    ClassicRecord,
    InstanceRecord,
    ListenerRecord,
    LoadBalancerRecord,
    SecurityGroupRecord,
    Subnet,
    TargetGroupRecord,
)

V = TypeVar("V")
# The kinds a stale mark names (with the resource's name or id).
LB, TG, CLASSIC, GROUP, NODE_GROUP, LISTENERS, TARGETS = (
    "load-balancer", "target-group", "classic", "security-group", "node-group", "listeners", "targets")


@dataclass
class Table(Generic[V]):
    """Records by name; ``written``: when cloudlb last wrote each (a listing that began before is older)."""

    records: dict[str, V] = field(default_factory=dict)
    written: dict[str, float] = field(default_factory=dict)

    def put(self, name: str, record: V) -> None:
        self.records[name] = record
        self.written[name] = time.monotonic()

    def remove(self, name: str) -> None:
        self.records.pop(name, None)
        self.written[name] = time.monotonic()

    def merge(self, listed: Mapping[str, V], started: float) -> list[tuple[V | None, V | None]]:
        """Take a complete listing begun at ``started``; ``(before, after)`` of every record it changed."""
        changed: list[tuple[V | None, V | None]] = []
        for name in set(self.records) | set(listed):
            if self.written.get(name, 0.0) > started:
                continue  # cloudlb wrote it after the listing began: what we hold is newer
            old, new = self.records.get(name), listed.get(name)
            if old != new:
                changed.append((old, new))
            if new is None:
                self.records.pop(name, None)
                self.written.pop(name, None)
            else:
                self.records[name] = new
        return changed


@dataclass(frozen=True)
class ClusterView:
    """What every plan may need beyond its own load balancer, as one consistent snapshot."""

    groups: Mapping[str, SecurityGroupRecord]  # the cluster's own groups by name (frontend and backend)
    node_groups: Mapping[str, SecurityGroupRecord]  # the nodes' groups by id
    instances: Mapping[str, InstanceRecord]
    missing: frozenset[str]  # instance ids a lookup did not find
    subnets: tuple[Subnet, ...]  # every subnet tagged for internet-facing or internal load balancers
    requested_subnets: Mapping[str, Subnet | None]  # annotated subnets by id or Name tag (None: none such)
    addresses: Mapping[str, str]  # Elastic IP allocation id -> public IP
    load_balancer_count: int  # the cluster's load balancers (NLB and Classic) the inventory holds
    # Security groups the annotations name by Name tag: (group id, VPC id) of each that carries it.
    named_groups: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Observed:
    """One key's resources (by the names it may use, and target groups by their owner tag) and the cluster."""

    key: LoadBalancerKey
    load_balancers: Mapping[str, LoadBalancerRecord]
    listeners: Mapping[str, Mapping[int, ListenerRecord]]  # by load balancer name
    classics: Mapping[str, ClassicRecord]
    target_groups: Mapping[str, TargetGroupRecord]  # by name: those owned by the key's Service or named as desired
    targets: Mapping[str, frozenset[str]]  # by target-group name, where known
    cluster: ClusterView


class Inventory:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self._lock = threading.RLock()
        self.load_balancers: Table[LoadBalancerRecord] = Table()
        self.target_groups: Table[TargetGroupRecord] = Table()
        self.classics: Table[ClassicRecord] = Table()
        self.groups: Table[SecurityGroupRecord] = Table()  # ours, by name
        self.node_groups: Table[SecurityGroupRecord] = Table()  # by id
        self.listeners: dict[str, dict[int, ListenerRecord]] = {}  # by load balancer ARN; absent: unknown
        self.targets: dict[str, frozenset[str]] = {}  # by target group ARN; absent: unknown
        # When cloudlb last changed each load balancer's listeners and each group's targets (by ARN).
        self.listeners_written: dict[str, float] = {}
        self.targets_written: dict[str, float] = {}
        self.instances: dict[str, InstanceRecord] = {}
        self.missing: set[str] = set()
        self.subnets: tuple[Subnet, ...] = ()
        self.requested_subnets: dict[str, Subnet | None] = {}
        self.addresses: dict[str, str] = {}
        self.named_groups: dict[str, tuple[tuple[str, str], ...]] = {}
        # The instances each load balancer's last plan wanted as targets: a sweep that sees one of them
        # change state or groups re-plans just those load balancers.
        self.wanted_instances: dict[LoadBalancerKey, frozenset[str]] = {}
        self.stale: set[tuple[str, str]] = set()
        self.complete = False
        self._view: ClusterView | None = None

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def changed(self) -> None:
        """Drop the cached cluster view (call with the lock held after any change)."""
        self._view = None

    # -- snapshots -----------------------------------------------------------------------------------

    def cluster_view(self) -> ClusterView:
        with self._lock:
            if self._view is None:
                count = sum(1 for table in (self.load_balancers, self.classics) for record in table.records.values()
                            if is_cluster_owned(record.tag_map, self.cluster))
                self._view = ClusterView(
                    dict(self.groups.records), dict(self.node_groups.records), dict(self.instances),
                    frozenset(self.missing), self.subnets, dict(self.requested_subnets), dict(self.addresses), count,
                    dict(self.named_groups))
            return self._view

    def observed(self, key: LoadBalancerKey, load_balancer_names: Iterable[str], target_group_names: Iterable[str],
                 owns: Callable[[TargetGroupRecord], bool]) -> Observed:
        """``owns(record)``: whether a target group belongs to the key (by its tags)."""
        with self._lock:
            names = list(load_balancer_names)
            balancers = {n: lb for n in names if (lb := self.load_balancers.records.get(n)) is not None}
            classics = {n: clb for n in names if (clb := self.classics.records.get(n)) is not None}
            listeners = {n: dict(self.listeners[r.arn]) for n, r in balancers.items() if r.arn in self.listeners}
            wanted = set(target_group_names)
            groups = {n: g for n, g in self.target_groups.records.items()
                      if n in wanted or owns(g)}
            targets = {n: self.targets[g.arn] for n, g in groups.items() if g.arn in self.targets}
            return Observed(key, balancers, listeners, classics, groups, targets, self.cluster_view())

    def unknown_listeners(self, load_balancer_names: Iterable[str]) -> list[LoadBalancerRecord]:
        with self._lock:
            return [r for n in load_balancer_names if (r := self.load_balancers.records.get(n)) is not None
                    and r.arn not in self.listeners]

    def unknown_targets(self, groups: Iterable[TargetGroupRecord]) -> list[TargetGroupRecord]:
        with self._lock:
            return [g for g in groups if g.arn not in self.targets]

    def load_balancer_by_arn(self, arn: str) -> LoadBalancerRecord | None:
        with self._lock:
            return next((r for r in self.load_balancers.records.values() if r.arn == arn), None)

    def target_group_by_arn(self, arn: str) -> TargetGroupRecord | None:
        with self._lock:
            return next((r for r in self.target_groups.records.values() if r.arn == arn), None)

    # -- updates from writes and reads ---------------------------------------------------------------

    def mark_stale(self, kind: str, name: str) -> None:
        with self._lock:
            self.stale.add((kind, name))

    def take_stale(self) -> set[tuple[str, str]]:
        with self._lock:
            stale, self.stale = self.stale, set()
            return stale

    def put_load_balancer(self, record: LoadBalancerRecord) -> None:
        with self._lock:
            self.load_balancers.put(record.name, record)
            self.changed()

    def remove_load_balancer(self, name: str) -> None:
        with self._lock:
            record = self.load_balancers.records.get(name)
            self.load_balancers.remove(name)
            if record is not None:
                self.listeners.pop(record.arn, None)
            self.changed()

    def put_listeners(self, load_balancer_arn: str, listeners: Mapping[int, ListenerRecord]) -> None:
        with self._lock:
            self.listeners[load_balancer_arn] = dict(listeners)
            self.listeners_written[load_balancer_arn] = time.monotonic()

    def put_listener(self, record: ListenerRecord) -> None:
        with self._lock:
            if record.load_balancer_arn in self.listeners:
                self.listeners[record.load_balancer_arn][record.port] = record
            self.listeners_written[record.load_balancer_arn] = time.monotonic()

    def remove_listener(self, load_balancer_arn: str, port: int) -> None:
        with self._lock:
            self.listeners.get(load_balancer_arn, {}).pop(port, None)
            self.listeners_written[load_balancer_arn] = time.monotonic()

    def forget_listeners(self, load_balancer_arn: str) -> None:
        with self._lock:
            self.listeners.pop(load_balancer_arn, None)

    def put_target_group(self, record: TargetGroupRecord) -> None:
        with self._lock:
            self.target_groups.put(record.name, record)

    def remove_target_group(self, name: str) -> None:
        with self._lock:
            record = self.target_groups.records.get(name)
            self.target_groups.remove(name)
            if record is not None:
                self.targets.pop(record.arn, None)

    def put_targets(self, group_arn: str, targets: Iterable[str]) -> None:
        with self._lock:
            self.targets[group_arn] = frozenset(targets)
            self.targets_written[group_arn] = time.monotonic()

    def change_targets(self, group_arn: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        with self._lock:
            if group_arn in self.targets:
                self.targets[group_arn] = (self.targets[group_arn] | set(add)) - set(remove)
            self.targets_written[group_arn] = time.monotonic()

    def forget_targets(self, group_arn: str) -> None:
        with self._lock:
            self.targets.pop(group_arn, None)

    def put_classic(self, record: ClassicRecord) -> None:
        with self._lock:
            self.classics.put(record.name, record)
            self.changed()

    def remove_classic(self, name: str) -> None:
        with self._lock:
            self.classics.remove(name)
            self.changed()

    def put_group(self, record: SecurityGroupRecord) -> None:
        with self._lock:
            self.groups.put(record.name, record)
            self.changed()

    def remove_group(self, name: str) -> None:
        with self._lock:
            self.groups.remove(name)
            self.changed()

    def group_by_id(self, group_id: str) -> SecurityGroupRecord | None:
        with self._lock:
            found = next((g for g in self.groups.records.values() if g.group_id == group_id), None)
            return found or self.node_groups.records.get(group_id)

    def put_any_group(self, record: SecurityGroupRecord) -> None:
        """A group just changed by a write: ours by name, a node group by id."""
        with self._lock:
            if record.name in self.groups.records and self.groups.records[record.name].group_id == record.group_id:
                self.groups.put(record.name, record)
            else:
                self.node_groups.put(record.group_id, record)
            self.changed()

    def put_node_group(self, record: SecurityGroupRecord) -> None:
        with self._lock:
            self.node_groups.put(record.group_id, record)
            self.changed()

    def learned_instances(self, found: Mapping[str, InstanceRecord], asked: Iterable[str]) -> None:
        with self._lock:
            self.instances.update(found)
            self.missing = (self.missing | set(asked)) - set(found)
            self.changed()

    def learned_subnets(self, requested: Mapping[str, Subnet | None]) -> None:
        with self._lock:
            self.requested_subnets.update(requested)
            self.changed()

    def learned_group_names(self, found: Mapping[str, tuple[tuple[str, str], ...]]) -> None:
        with self._lock:
            self.named_groups.update(found)
            self.changed()

    def forget_group_names(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self.named_groups.pop(name, None)
            self.changed()

    def learned_addresses(self, found: Mapping[str, str]) -> None:
        with self._lock:
            self.addresses.update(found)
            self.changed()

    def plan_wanted(self, key: LoadBalancerKey, instances: frozenset[str]) -> None:
        with self._lock:
            self.wanted_instances[key] = instances

    def keys_wanting(self, instance_ids: Iterable[str]) -> set[LoadBalancerKey]:
        changed = set(instance_ids)
        with self._lock:
            return {key for key, wanted in self.wanted_instances.items() if wanted & changed}
