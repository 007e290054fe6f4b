"""``cloudlb plan``: what ``cloudlb run`` would change, from the cluster and the cloud, without writing anything.

It groups the Services exactly as the reconciler does, sweeps the cloud once
(batched list calls), observes every load balancer from that inventory and
asks the provider for each plan; load balancers no Service wants are planned
for deletion as garbage collection would. Like ``terraform plan
-detailed-exitcode``, the exit code is 0 when nothing would change and 2 when
something would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloudlb import sharing
from cloudlb.changes import Change
from cloudlb.config import ControllerConfig
from cloudlb.desired import desired_state, label_keys
from cloudlb.endpoints import EndpointCache
from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb.nodes import eligible_backends, slim
from cloudlb.problems import Problem
from cloudlb.provider import Provider, ProviderError
from cloudlb.reconciler import class_matches, has_finalizer, is_leaving, is_load_balancer
from cloudlb.translate import service_ref

NOTHING_TO_DO = 0
CHANGES_PENDING = 2


@dataclass(frozen=True)
class PlannedLoadBalancer:
    """One load balancer's pending changes, for the Services it serves (none for an orphan)."""

    key: LoadBalancerKey
    services: tuple[ServiceRef, ...]
    changes: tuple[Change, ...]
    problems: tuple[tuple[ServiceRef, Problem], ...] = ()
    orphan: bool = False
    note: str = ""


def plan_cluster(services: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]],
                 provider: Provider[Any], config: ControllerConfig,
                 endpoint_slices: Sequence[Mapping[str, Any]] = ()) -> list[PlannedLoadBalancer]:
    """Every load balancer's plan (blocking: the provider's sweep and observe read the cloud)."""
    policy = sharing.parse_policy(config.share_namespaces)
    slimmed = [slim(node) for node in nodes]
    endpoints = EndpointCache()
    for endpoint_slice in endpoint_slices:
        endpoints.update("ADDED", endpoint_slice)
    wanted: dict[LoadBalancerKey, list[Mapping[str, Any]]] = {}
    leaving: dict[LoadBalancerKey, list[ServiceRef]] = {}
    for service in services:
        if not class_matches(service, config) or not (is_load_balancer(service) or has_finalizer(service)):
            continue
        key = sharing.key_for(service, policy)
        if is_leaving(service):
            leaving.setdefault(key, []).append(service_ref(service))
        else:
            wanted.setdefault(key, []).append(service)
    owned = provider.sweep().owned
    keys = sorted(set(wanted) | set(leaving) | set(owned))
    observed = provider.observe(keys)
    planned = []
    for key in keys:
        members = wanted.get(key, [])
        backends = eligible_backends(slimmed, label_keys(members, provider))
        state = desired_state(key, members, backends, provider, previous={}, endpoints=endpoints.of)
        refs = tuple(sorted({service_ref(s) for s in members} | set(leaving.get(key, ()))))
        problems = tuple((ref, problem) for ref, outcome in sorted(state.outcomes.items())
                         for problem in outcome.problems)
        orphan = key not in wanted and key not in leaving
        if state.unknown and key in owned:
            planned.append(PlannedLoadBalancer(key, refs, (), problems, note=(
                f"left as it is: {', '.join(map(str, state.unknown))} cannot be read")))
            continue
        try:
            plan = provider.resolve(provider.plan(key, state.desired, observed[key]))
        except ProviderError as error:
            planned.append(PlannedLoadBalancer(key, refs, (), problems, orphan, note=f"cannot plan: {error}"))
            continue
        planned.append(PlannedLoadBalancer(key, refs or tuple(sorted(owned.get(key, ()))), plan.all_changes(),
                                           problems, orphan))
    return planned


def exit_code(planned: Sequence[PlannedLoadBalancer]) -> int:
    return CHANGES_PENDING if any(item.changes for item in planned) else NOTHING_TO_DO


def as_json(planned: Sequence[PlannedLoadBalancer]) -> str:
    return json.dumps([{
        "loadBalancer": str(item.key),
        "services": [str(ref) for ref in item.services],
        "orphan": item.orphan,
        "changes": [{"action": str(c.action), "resource": c.resource, "name": c.name, "reason": c.reason}
                    for c in item.changes],
        "problems": [{"service": str(ref), "field": p.field, "reason": p.reason, "message": p.message,
                      "fatal": p.fatal} for ref, p in item.problems],
        "note": item.note,
    } for item in planned], indent=2)


def as_table(planned: Sequence[PlannedLoadBalancer]) -> str:
    """One row per change (or one per load balancer with nothing to change), then a summary line."""
    rows = [("LOAD BALANCER", "SERVICES", "ACTION", "RESOURCE", "NAME", "REASON")]
    for item in planned:
        services = ",".join(map(str, item.services)) or "-"
        label = f"{item.key} (orphan)" if item.orphan else str(item.key)
        if not item.changes:
            rows.append((label, services, "-", "-", "-", item.note or "up to date"))
        for change in item.changes:
            rows.append((label, services, str(change.action), change.resource, change.name, change.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
             for row in rows]
    changes = sum(len(item.changes) for item in planned)
    pending = sum(1 for item in planned if item.changes)
    lines.append("")
    lines.append(f"{changes} changes to {pending} of {len(planned)} load balancers" if changes
                 else f"nothing to change: {len(planned)} load balancers up to date")
    for item in planned:
        for ref, problem in item.problems:
            lines.append(f"{ref}: {problem.reason}: {problem}")
    return "\n".join(lines)
