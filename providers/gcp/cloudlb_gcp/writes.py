"""Carrying out one planned change: the API write, its operation, and the inventory kept in step.

A write whose answer was lost may be retried by the next plan: "already
exists, and ours" after an insert and "not found" after a delete are then
success. Membership changes are applied against the inventory at that moment
under the zone's lock, so that of several plans that saw the same node join,
only the first writes. A group is deleted only while no backend service is
being written (the groups' readers-writer lock) and none uses it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from cloudlb.changes import Change
from cloudlb.provider import NotOwnedError, RetryLater
from cloudlb_gcp import reads
from cloudlb_gcp.compute import Compute, ComputeError
from cloudlb_gcp.errors import calling
from cloudlb_gcp.inventory import Inventory
from cloudlb_gcp.locks import SharedUse
from cloudlb_gcp.resources import address, backend_service, firewalls, forwarding_rules, instance_groups
from cloudlb_gcp.resources.backend_service import BackendServiceRecord
from cloudlb_gcp.resources.common import Kind, Record, Write
from cloudlb_gcp.resources.instance_groups import GroupRecord, Membership

logger = logging.getLogger(__name__)
# Records that name the IP of the address a plan creates; it is filled in when the write is sent.
WITH_IP: dict[Kind[Any], Callable[[Any, Callable[[str], str]], Any]] = {
    firewalls.KIND: firewalls.with_ip, forwarding_rules.KIND: forwarding_rules.with_ip}
# Another writer changed a group's membership between our look and our write.
MEMBER_RACES = frozenset({"memberAlreadyExists", "memberNotFound", "MEMBER_ALREADY_EXISTS", "MEMBER_NOT_FOUND"})
IN_USE = frozenset({"resourceInUseByAnotherResource", "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE"})
DOING = {"insert": "creating", "patch": "updating", "delete": "deleting", "setLabels": "labelling"}


class Writer:
    def __init__(self, compute: Compute, inventory: Inventory) -> None:
        self.compute = compute
        self.inventory = inventory
        self._groups_in_use = SharedUse()
        self._zone_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @contextmanager
    def _zone(self, zone: str) -> Iterator[None]:
        with self._locks_lock:
            lock = self._zone_locks.setdefault(zone, threading.Lock())
        with lock:
            yield

    def run(self, change: Change, own_addresses: Mapping[str, str]) -> frozenset[str]:
        """Carry out ``change``; ``own_addresses`` names the address whose IP each placeholder stands for.

        Returns the zones whose cluster group a backend service stopped using with this change.
        """
        payload = change.payload
        try:
            if isinstance(payload, Membership):
                self._membership(payload)
            elif payload.kind is instance_groups.KIND:
                self._group(payload)
            else:
                return self._write(payload, own_addresses)
            return frozenset()
        except Exception:
            if isinstance(payload, Membership) or payload.kind is instance_groups.KIND:
                self.inventory.mark_group_stale(payload.zone)
            else:
                mark = payload.record.mark
                shared = mark.shared if mark is not None and mark.service is not None else None
                self.inventory.mark_stale(payload.kind, payload.record.name, shared)
            raise

    # -- one resource --------------------------------------------------------------------------------

    def _write(self, write: Write[Any], own_addresses: Mapping[str, str]) -> frozenset[str]:
        kind, record = write.kind, write.record
        before = self.inventory.record(kind, record.name) if kind is backend_service.KIND else None
        if write.verb in ("insert", "patch") and kind in WITH_IP:
            record = WITH_IP[kind](record, lambda placeholder: self._ip_of(own_addresses[placeholder]))
        guard = self._groups_in_use.shared() if kind is backend_service.KIND else nullcontext()
        with guard, calling(f"{DOING[write.verb]} {kind.noun} {record.name}"):
            if write.verb == "insert":
                self._insert(kind, record)
            elif write.verb == "patch":
                self.compute.write(kind.method("patch"), "PATCH", reads.path_of(self.compute, kind, record.name),
                                   kind.body(record))
                self.inventory.put(kind, record)
            elif write.verb == "setLabels":
                self._set_labels(kind, record)
            else:
                self._delete(kind, record.name)
        after = self.inventory.record(kind, record.name) if before is not None else None
        return frozenset(_zones(before) - _zones(after))

    def _ip_of(self, own_address: str) -> str:
        ours = self.inventory.record(address.KIND, own_address)
        if ours is None or not ours.ip:
            raise RetryLater(f"address {own_address} is not known yet")
        return ours.ip

    def _insert(self, kind: Kind[Any], record: Record) -> None:
        try:
            self.compute.write(kind.method("insert"), "POST", reads.path_of(self.compute, kind), kind.body(record))
        except ComputeError as error:
            if error.status != 409:
                raise
            self._adopt(kind, record, error)
            return
        if kind is address.KIND:
            # GCE chooses the IP; no write answer carries it.
            created = reads.get(self.compute, kind, record.name)
            if created is None:
                raise RetryLater(f"address {record.name} was reserved but cannot be read back yet") from None
            record = created
        self.inventory.put(kind, record)

    def _adopt(self, kind: Kind[Any], record: Record, error: ComputeError) -> None:
        """After "already exists": a lost answer to our own insert, or someone else's resource (or IP)."""
        existing = reads.get(self.compute, kind, record.name)
        if existing is None:
            if kind is address.KIND:
                # Not the name but the IP is taken: look again who holds it before the next plan.
                self.inventory.forget_ip(getattr(record, "ip", ""))
            raise error
        if existing.mark != record.mark:
            self.inventory.put(kind, existing)
            raise NotOwnedError(f"{kind.noun} {record.name}")
        logger.info("%s %s already exists and is ours (an earlier answer was lost)", kind.noun, record.name)
        self.inventory.put(kind, existing)

    def _set_labels(self, kind: Kind[Any], record: Any) -> None:
        path = reads.path_of(self.compute, kind, record.name) + "/setLabels"
        fingerprint = record.label_fingerprint
        if fingerprint is None:
            current = reads.get(self.compute, kind, record.name)
            fingerprint = current.label_fingerprint if current is not None else ""
        try:
            self.compute.write(kind.method("setLabels"), "POST", path,
                               {"labels": dict(record.labels), "labelFingerprint": fingerprint})
        except ComputeError as error:
            current = reads.get(self.compute, kind, record.name) if error.status == 412 else None
            if current is None or current.labels != record.labels:
                raise
        self.inventory.put(kind, dataclasses.replace(record, label_fingerprint=None))

    def _delete(self, kind: Kind[Any], name: str, zone: str = "") -> None:
        try:
            self.compute.write(kind.method("delete"), "DELETE", reads.path_of(self.compute, kind, name, zone))
        except ComputeError as error:
            if error.status != 404:
                raise
        if zone:
            self.inventory.remove_group(zone)
        else:
            self.inventory.remove(kind, name)

    # -- the cluster's instance groups ---------------------------------------------------------------

    def _group(self, write: Write[GroupRecord]) -> None:
        zone, record = write.zone, write.record
        kind = instance_groups.KIND
        doing = f"{DOING[write.verb]} instance group {zone}/{record.name}"
        if write.verb == "insert":
            # Always the groups' lock before a zone's (as a deletion takes them): never the other way round.
            with self._groups_in_use.shared(), self._zone(zone), calling(doing):
                if self.inventory.group(zone) is not None:
                    logger.info("instance group %s/%s: created by another plan meanwhile", zone, record.name)
                    return
                try:
                    self.compute.write(kind.method("insert"), "POST", reads.path_of(self.compute, kind, zone=zone),
                                       kind.body(record))
                except ComputeError as error:
                    if error.status != 409:
                        raise
                    existing = reads.group(self.compute, zone, record.name)
                    if existing is None or existing.mark != record.mark:
                        raise NotOwnedError(f"instance group {zone}/{record.name}") from None
                    self.inventory.put_group(existing)
                    return
                self.inventory.put_group(dataclasses.replace(record, members=frozenset()))
            return
        with self._groups_in_use.exclusive(), self._zone(zone), calling(doing):
            if self.inventory.group(zone) is None:
                logger.info("instance group %s/%s: deleted by another plan meanwhile", zone, record.name)
                return
            if self.inventory.group_users().get(zone):
                logger.info("instance group %s/%s is used by a load balancer again; kept", zone, record.name)
                return
            try:
                self._delete(kind, record.name, zone)
            except ComputeError as error:
                if error.reason not in IN_USE:
                    raise
                # A load balancer this inventory does not know of uses it: not ours to take away.
                logger.warning("instance group %s/%s is still in use; kept: %s", zone, record.name, error.message)
                self.inventory.mark_group_stale(zone)

    def _membership(self, change: Membership) -> None:
        with self._zone(change.zone), calling(f"changing the members of {change.zone}/{change.group}"):
            group = self.inventory.group(change.zone)
            if group is None or group.members is None:
                raise RetryLater(f"instance group {change.zone}/{change.group} is not known; reading it again")
            members = set(group.members)
            add, remove = change.add - members, change.remove & members
            if not add and not remove:
                logger.info("instance group %s/%s: its members were changed by another plan meanwhile",
                            change.zone, change.group)
            for verb, links in (("addInstances", add), ("removeInstances", remove)):
                if links:
                    members = self._members_write(verb, group, links, members)
            self.inventory.put_group(dataclasses.replace(group, members=frozenset(members)))

    def _members_write(self, verb: str, group: GroupRecord, links: frozenset[str], members: set[str]) -> set[str]:
        """Add or remove ``links``; when another writer got there first, read the members once and do the rest."""
        kind = instance_groups.KIND
        path = reads.path_of(self.compute, kind, group.name, group.zone) + "/" + verb
        adding = verb == "addInstances"
        for attempt in (1, 2):
            try:
                self.compute.write(kind.method(verb), "POST", path,
                                   {"instances": [{"instance": link} for link in sorted(links)]})
            except ComputeError as error:
                if error.reason not in MEMBER_RACES or attempt == 2:
                    raise
                members = set(reads.members(self.compute, group.zone, group.name))
                links = links - members if adding else links & members
                if not links:
                    return members
                continue
            break
        return members | links if adding else members - links


def _zones(service: BackendServiceRecord | None) -> set[str]:
    """The zones of the instance groups a backend service uses (links ``projects/P/zones/Z/instanceGroups/G``)."""
    return {group.split("/")[3] for group in service.groups} if service is not None else set()
