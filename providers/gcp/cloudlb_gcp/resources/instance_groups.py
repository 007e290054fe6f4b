"""The cluster's unmanaged instance groups, one per zone, holding the eligible nodes.

GCE lets an instance belong to only one load-balanced instance group, so (as
GKE does) the groups are shared by every load balancer of the cluster and are
marked with the cluster only. A node joining or leaving changes only their
membership; a group is deleted once no backend service uses it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from google.cloud import compute_v1

from cloudlb_gcp.compute import READ_RETRY, REQUEST_TIMEOUT, Compute
from cloudlb_gcp.instances import InstanceRef, relative_link
from cloudlb_gcp.ownership import OwnerMark, is_owned, require_owned
from cloudlb_gcp.resources.calls import delete, read, write


def by_zone(instances: Iterable[InstanceRef]) -> dict[str, set[str]]:
    zones: dict[str, set[str]] = defaultdict(set)
    for ref in instances:
        zones[ref.zone].add(ref.link)
    return dict(zones)


def group_link(compute: Compute, zone: str, name: str) -> str:
    return compute.link(f"zones/{zone}/instanceGroups/{name}")


def ensure(compute: Compute, name: str, mark: OwnerMark, members: Mapping[str, set[str]],
           network: str | None) -> list[str]:
    """Create the group of each zone that has nodes and make its membership exactly ``members``; their links."""
    links = []
    for zone, wanted in sorted(members.items()):
        _ensure_group(compute, zone, name, mark, network)
        _sync_members(compute, zone, name, wanted)
        links.append(group_link(compute, zone, name))
    return links


def _get(compute: Compute, zone: str, name: str) -> compute_v1.InstanceGroup | None:
    return read(f"reading instance group {zone}/{name}", lambda: compute.instance_groups.get(
        project=compute.project, zone=zone, instance_group=name, retry=READ_RETRY, timeout=REQUEST_TIMEOUT))


def _ensure_group(compute: Compute, zone: str, name: str, mark: OwnerMark, network: str | None) -> None:
    have = _get(compute, zone, name)
    if have is not None:
        require_owned(mark, f"instance group {zone}/{name}", have.description)
        return
    want = compute_v1.InstanceGroup(name=name, description=mark.description)
    if network:
        want.network = network
    write(compute, f"creating instance group {zone}/{name}", lambda: compute.instance_groups.insert_unary(
        project=compute.project, zone=zone, instance_group_resource=want, timeout=REQUEST_TIMEOUT))


def _sync_members(compute: Compute, zone: str, name: str, wanted: set[str]) -> None:
    where: dict[str, Any] = {"project": compute.project, "zone": zone, "instance_group": name}
    listed = read(f"listing instances of {zone}/{name}", lambda: list(compute.instance_groups.list_instances(
        instance_groups_list_instances_request_resource=compute_v1.InstanceGroupsListInstancesRequest(),
        retry=READ_RETRY, timeout=REQUEST_TIMEOUT, **where)))
    present = {relative_link(item.instance) for item in listed or ()}
    joining = sorted(wanted - present)
    leaving = sorted(present - wanted)
    if joining:
        add = compute_v1.InstanceGroupsAddInstancesRequest(
            instances=[compute_v1.InstanceReference(instance=link) for link in joining])
        write(compute, f"adding {len(joining)} instances to {zone}/{name}", lambda: (
            compute.instance_groups.add_instances_unary(
                instance_groups_add_instances_request_resource=add, timeout=REQUEST_TIMEOUT, **where)))
    if leaving:
        remove = compute_v1.InstanceGroupsRemoveInstancesRequest(
            instances=[compute_v1.InstanceReference(instance=link) for link in leaving])
        write(compute, f"removing {len(leaving)} instances from {zone}/{name}", lambda: (
            compute.instance_groups.remove_instances_unary(
                instance_groups_remove_instances_request_resource=remove, timeout=REQUEST_TIMEOUT, **where)))


def zones_of(group_links: Iterable[str]) -> set[str]:
    return {relative_link(link).split("/")[3] for link in group_links}


def remove_unused(compute: Compute, name: str, mark: OwnerMark, zones: Iterable[str]) -> None:
    """Delete the cluster's group in each zone unless a backend service in the region still uses it."""
    services = read("listing backend services", lambda: list(compute.backend_services.list(
        retry=READ_RETRY, timeout=REQUEST_TIMEOUT, **compute.in_region)))
    used = {relative_link(b.group) for s in services or () for b in s.backends}
    for zone in sorted(set(zones)):
        if group_link(compute, zone, name) in used:
            continue
        have = _get(compute, zone, name)
        if have is not None and is_owned(mark, have.description):
            delete(compute, f"deleting instance group {zone}/{name}", lambda: compute.instance_groups.delete_unary(
                project=compute.project, zone=zone, instance_group=name, timeout=REQUEST_TIMEOUT))  # noqa: B023


def cluster_zones(compute: Compute, name: str) -> set[str]:
    """Zones in which the cluster's group exists (one aggregated read), to collect groups nobody uses."""
    found = read("listing instance groups", lambda: compute.instance_groups.aggregated_list(
        project=compute.project, retry=READ_RETRY, timeout=REQUEST_TIMEOUT))
    zones = set()
    for scope, listed in found or ():
        for group in listed.instance_groups:
            zone = scope.rsplit("/", 1)[1]
            if group.name == name and zone.startswith(compute.region + "-"):
                zones.add(zone)
    return zones
