"""A sweep: the inventory refreshed with list calls, and the load balancers whose AWS state drifted.

Fast tier, whatever the number of Services: DescribeLoadBalancers and
DescribeTargetGroups in pages of 400 (names without cloudlb's prefix are
skipped), the Classic ELBs likewise, DescribeTags (20 ARNs a call) only for
what the inventory has not seen yet, the cluster's security groups by tag,
the nodes' groups and instances (pages of 1,000), the load-balancer subnets,
and the listeners the inventory knows by ARN (20 a call). The deep tier
also reads every tag again, every load balancer's listeners and every target
group's targets (one call each), on a slower cadence.

A load balancer drifted when a resource of it (by its owner tag) changed,
appeared or went; when the shared backend group, a node group or the subnets
changed (every load balancer then); or when an instance it wants as a target
changed state or groups.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from typing import Any

from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb.provider import SweepResult
from cloudlb_aws import reads, records
from cloudlb_aws.calls import Clients
from cloudlb_aws.inventory import Inventory
from cloudlb_aws.records import ListenerRecord, Owned


def _owner_key(record: Any, cluster: str) -> LoadBalancerKey | None:
    return record.owner_key(cluster) if isinstance(record, Owned) else None


def _keys(pairs: Iterable[tuple[Any, Any]], cluster: str) -> set[LoadBalancerKey]:
    return {key for pair in pairs for record in pair if (key := _owner_key(record, cluster)) is not None}


def sweep(clients: Clients, inventory: Inventory, cluster: str, *, deep: bool) -> SweepResult:
    started = time.monotonic()
    with inventory.lock:
        known_lbs = {r.arn: r for r in inventory.load_balancers.records.values()}
        known_tgs = {r.arn: r for r in inventory.target_groups.records.values()}
        known_classics = dict(inventory.classics.records)

    raw_lbs = reads.list_load_balancers(clients)
    raw_tgs = reads.list_target_groups(clients)
    raw_classics = reads.list_classics(clients)
    unseen = [str(x["LoadBalancerArn"]) for x in raw_lbs if deep or str(x["LoadBalancerArn"]) not in known_lbs]
    unseen += [str(x["TargetGroupArn"]) for x in raw_tgs if deep or str(x["TargetGroupArn"]) not in known_tgs]
    tags = reads.elbv2_tags(clients, unseen)
    classic_tags = reads.classic_tags(clients, [str(x["LoadBalancerName"]) for x in raw_classics
                                                if deep or str(x["LoadBalancerName"]) not in known_classics])

    def tags_of(arn: str, known: dict[str, Any]) -> dict[str, str]:
        return tags[arn] if arn in tags else (known[arn].tag_map if arn in known else {})

    lbs = {}
    for item in raw_lbs:
        arn = str(item["LoadBalancerArn"])
        before = known_lbs.get(arn)
        lbs[str(item["LoadBalancerName"])] = dataclasses.replace(
            records.load_balancer(item, tags_of(arn, known_lbs), before.cross_zone if before else None),
            attributes=before.attributes if before else None)  # attributes are in no listing: keep what was read
    tgs = {}
    for item in raw_tgs:
        arn = str(item["TargetGroupArn"])
        known_tg = known_tgs.get(arn)
        tgs[str(item["TargetGroupName"])] = dataclasses.replace(
            records.target_group(item, tags_of(arn, known_tgs)), attributes=known_tg.attributes if known_tg else None)
    classics = {}
    for item in raw_classics:
        name = str(item["LoadBalancerName"])
        found = classic_tags.get(name) or (known_classics[name].tag_map if name in known_classics else {})
        classics[name] = dataclasses.replace(records.classic(item, found), attributes=(
            known_classics[name].attributes if name in known_classics else None))  # in no listing: keep what was read

    own_groups = reads.list_own_groups(clients, cluster)
    subnets = reads.list_subnets(clients)
    with inventory.lock:
        vpcs = {s.vpc_id for s in subnets} | {i.vpc_id for i in inventory.instances.values() if i.vpc_id}
    instances = reads.instances(clients, vpc_ids=vpcs)
    own_ids = {g.group_id for g in own_groups.values()}
    node_groups = reads.groups_by_id(clients, {g for i in instances.values() for g in i.security_groups} - own_ids)

    drifted: set[LoadBalancerKey] = set()
    with inventory.lock:
        drifted |= _keys(inventory.load_balancers.merge(lbs, started), cluster)
        drifted |= _keys(inventory.target_groups.merge(tgs, started), cluster)
        drifted |= _keys(inventory.classics.merge(classics, started), cluster)
        group_changes = inventory.groups.merge(own_groups, started)
        drifted |= _keys(group_changes, cluster)
        node_changes = inventory.node_groups.merge(node_groups, started)
        inventory.changed()
    everything = bool(node_changes) or any(_owner_key(r, cluster) is None for pair in group_changes for r in pair
                                           if r is not None)
    with inventory.lock:
        if subnets != inventory.subnets and inventory.complete:
            everything = True
        inventory.subnets = subnets
        before_instances = dict(inventory.instances)
        inventory.instances = dict(instances)
        inventory.missing -= set(instances)
        inventory.changed()
    moved = {i for i in set(before_instances) | set(instances) if before_instances.get(i) != instances.get(i)}
    drifted |= inventory.keys_wanting(moved)
    drifted |= _sweep_listeners(clients, inventory, started, deep)
    if deep:
        drifted |= _sweep_targets(clients, inventory, started)
    with inventory.lock:
        was_complete = inventory.complete
        inventory.complete = True
        owned = _owned(inventory, cluster)
    if everything and was_complete:
        drifted |= set(owned)
    # The first sweep only fills the inventory: the controller plans every Service after it anyway.
    return SweepResult(frozenset(drifted) if was_complete else frozenset(), owned)


def _owned(inventory: Inventory, cluster: str) -> dict[LoadBalancerKey, frozenset[ServiceRef]]:
    """Every load balancer of the cluster with its members: a Service's own, or a shared one's (from the
    member named on each of its target groups)."""
    owned: dict[LoadBalancerKey, set[ServiceRef]] = {}
    for table in (inventory.load_balancers, inventory.target_groups, inventory.classics, inventory.groups):
        for record in table.records.values():
            key = record.owner_key(cluster)
            if key is not None:
                members = owned.setdefault(key, set())
                member = key.service or record.owner(cluster)
                if member is not None:
                    members.add(member)
    return {key: frozenset(members) for key, members in owned.items()}


def _sweep_listeners(clients: Clients, inventory: Inventory, started: float, deep: bool) -> set[LoadBalancerKey]:
    """Listeners the inventory knows, by ARN (deep: every load balancer's, per load balancer)."""
    with inventory.lock:
        balancers = {r.arn: r for r in inventory.load_balancers.records.values()}
        known = {arn: dict(found) for arn, found in inventory.listeners.items() if arn in balancers}
    listed: dict[str, dict[int, ListenerRecord]] = {}
    arns = [x.arn for found in known.values() for x in found.values()]
    by_arn = None if deep else reads.listeners_by_arn(clients, arns)
    if by_arn is None:
        for arn in (balancers if deep else known):
            found = reads.listeners_of(clients, arn)
            if found is not None:
                listed[arn] = found
    else:
        for arn in known:
            listed[arn] = {x.port: x for x in by_arn.values() if x.load_balancer_arn == arn}
    drifted: set[LoadBalancerKey] = set()
    with inventory.lock:
        for arn, found in listed.items():
            if inventory.listeners_written.get(arn, 0.0) > started:
                continue
            changed = arn in inventory.listeners and inventory.listeners[arn] != found
            if changed and (key := _owner_key(balancers[arn], inventory.cluster)) is not None:
                drifted.add(key)
            inventory.listeners[arn] = found
    return drifted


def _sweep_targets(clients: Clients, inventory: Inventory, started: float) -> set[LoadBalancerKey]:
    with inventory.lock:
        groups = [g for g in inventory.target_groups.records.values() if g.owner_key(inventory.cluster) is not None]
    drifted: set[LoadBalancerKey] = set()
    for group in groups:
        found = reads.targets_of(clients, group.arn)
        with inventory.lock:
            if found is None or inventory.targets_written.get(group.arn, 0.0) > started:
                continue
            if inventory.targets.get(group.arn) != found and (key := _owner_key(group, inventory.cluster)):
                drifted.add(key)
            inventory.targets[group.arn] = found
    return drifted
