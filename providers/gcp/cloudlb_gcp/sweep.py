"""A sweep: the whole inventory refreshed with list calls, and the load balancers whose cloud state drifted.

Per sweep, whatever the number of Services: one list per load-balancer kind
(addresses, forwarding rules, backend services, health checks, firewalls), one
aggregated list of the cluster's instance groups, and per zone with nodes one
list of its instances, in pages of 500. A group's members are read
(``listInstances``) in a deep sweep, or when its size says they changed.
A load balancer drifted when a resource of it (by its mark) changed, appeared
or went, when a group it uses changed members or a member instance its network
or tags, or when a node's instance that plans had to leave out exists now.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from cloudlb.model import LoadBalancerKey
from cloudlb.provider import SweepResult
from cloudlb_gcp import reads
from cloudlb_gcp.compute import Compute
from cloudlb_gcp.inventory import LOAD_BALANCER_KINDS, Inventory
from cloudlb_gcp.resources import backend_service


def sweep(compute: Compute, inventory: Inventory, cluster: str, *, deep: bool) -> SweepResult:
    started = time.monotonic()
    listed = {kind: reads.list_kind(compute, kind) for kind in LOAD_BALANCER_KINDS}
    groups = reads.list_groups(compute, inventory.group_name)
    zones = sorted(set(groups) | inventory.zones())
    instances = {zone: reads.instances(compute, zone) for zone in zones}
    known = inventory.groups()
    for zone, group in groups.items():
        before = known.get(zone)
        if deep or before is None or before.members is None or len(before.members) != group.size:
            groups[zone] = dataclasses.replace(group, members=reads.members(compute, zone, inventory.group_name))

    drifted: set[LoadBalancerKey] = set()
    for kind, records in listed.items():
        for before_after in inventory.merge(kind, records, started):
            drifted |= {key for record in before_after if (key := _key(record, cluster)) is not None}
    changed_zones = inventory.merge_groups(groups, started)
    current = inventory.groups()
    missing = inventory.missing()
    appeared = False
    for zone, found in instances.items():
        moved = inventory.learned_instances(zone, found)
        members = current[zone].members if zone in current else None
        if members and any(ref.link in members for ref in moved):
            changed_zones.add(zone)  # a member's network or tags changed, or it went
        appeared |= bool(moved & missing)
    users = inventory.group_users()
    for zone in changed_zones:
        for name in users.get(zone, ()):
            service = inventory.record(backend_service.KIND, name)
            if (key := _key(service, cluster)) is not None:
                drifted.add(key)
    owned = inventory.owned(cluster)
    if appeared:
        # An instance that plans had to leave out exists now: every load balancer may take it.
        drifted |= set(owned)
    return SweepResult(frozenset(drifted), owned)


def _key(record: Any, cluster: str) -> LoadBalancerKey | None:
    mark = getattr(record, "mark", None)
    return mark.key if mark is not None and mark.cluster == cluster else None
