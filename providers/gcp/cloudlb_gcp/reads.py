"""Every read the provider makes: list calls for sweeps, and the few reads by name a plan may need.

Lists ask for the largest pages (500) and filter on the server by cloudlb's
name prefix (instance groups: by the cluster's group name). Labels are not
filtered on: anyone can change them, and a resource of ours whose labels
were removed must still be found (and its labels repaired). Reads by name are for
what the inventory marked stale after a failed write, and for facts outside
cloudlb's own resources (a user's reserved address, a zone's instances).
"""

from __future__ import annotations

from typing import Any

from cloudlb_gcp.compute import Compute
from cloudlb_gcp.errors import calling
from cloudlb_gcp.instances import InstanceNetwork, InstanceRef, parse_instance
from cloudlb_gcp.names import NAME_FILTER
from cloudlb_gcp.resources import address, instance_groups
from cloudlb_gcp.resources.common import Kind, R, relative_link
from cloudlb_gcp.resources.instance_groups import GroupRecord
from cloudlb_gcp.resources.subnetwork import SubnetRecord
from cloudlb_gcp.resources.subnetwork import parse as subnet_parse


def path_of(compute: Compute, kind: Kind[Any], name: str = "", zone: str = "") -> str:
    if kind.scope == "global":
        return compute.global_(kind.collection, name)
    if kind.scope == "zones":
        return compute.zonal(zone, kind.collection, name)
    return compute.regional(kind.collection, name)


def list_kind(compute: Compute, kind: Kind[R]) -> dict[str, R]:
    """Every resource of a kind named as cloudlb names them, by name; each one's mark says whose it is."""
    with calling(f"listing {kind.plural}"):
        items = compute.items(kind.method("list"), path_of(compute, kind), filter=NAME_FILTER)
        return {item["name"]: kind.parse(item) for item in items}


def get(compute: Compute, kind: Kind[R], name: str) -> R | None:
    with calling(f"reading {kind.noun} {name}"):
        item = compute.get(kind.method("get"), path_of(compute, kind, name))
    return kind.parse(item) if item is not None else None


def list_groups(compute: Compute, group_name: str) -> dict[str, GroupRecord]:
    """The cluster's group in each zone of the region (one aggregated call), without members."""
    prefix = f"zones/{compute.region}-"
    with calling("listing instance groups"):
        found = compute.aggregated(instance_groups.KIND.method("aggregatedList"), instance_groups.KIND.collection,
                                   filter=instance_groups.list_filter(group_name))
        return {group.zone: group for group in (instance_groups.parse_listed(scope, item) for scope, item in found
                                                if scope.startswith(prefix))}


def members(compute: Compute, zone: str, group_name: str) -> frozenset[str]:
    """The instances in a group, as relative links."""
    kind = instance_groups.KIND
    with calling(f"listing the instances of {zone}/{group_name}"):
        items = compute.items(kind.method("listInstances"), path_of(compute, kind, group_name, zone) + "/listInstances",
                              http_method="POST", body={"instanceState": "ALL"})
        return frozenset(relative_link(item["instance"]) for item in items)


def group(compute: Compute, zone: str, group_name: str) -> GroupRecord | None:
    """One zone's group with its members; None when it does not exist."""
    kind = instance_groups.KIND
    with calling(f"reading instance group {zone}/{group_name}"):
        item = compute.get(kind.method("get"), path_of(compute, kind, group_name, zone))
    if item is None:
        return None
    listed = instance_groups.parse_listed(f"zones/{zone}", item)
    return GroupRecord(listed.name, listed.mark, zone, listed.network, listed.size,
                       members(compute, zone, group_name))


def instances(compute: Compute, zone: str) -> dict[InstanceRef, InstanceNetwork]:
    """Every instance of a zone with its network and tags (one call per 500 instances)."""
    with calling(f"listing the instances of {zone}"):
        items = compute.items("instances.list", compute.zonal(zone, "instances"))
        return dict(found for item in items if (found := parse_instance(compute.project, zone, item)) is not None)


def address_holding(compute: Compute, ip: str) -> address.AddressRecord | None:
    """The reserved address in the region that holds ``ip``, found by a filtered list (not by listing them all)."""
    with calling(f"looking for the reserved address of {ip}"):
        found = list(compute.items(address.KIND.method("list"), path_of(compute, address.KIND),
                                   filter=address.ip_filter(ip)))
    return address.parse(found[0]) if found else None



def subnetwork(compute: Compute, link: str) -> SubnetRecord | None:
    """A subnetwork's stack type and IPv6 range, by its link (``projects/P/regions/R/subnetworks/S``)."""
    with calling(f"reading subnetwork {link.rsplit('/', 1)[-1]}"):
        item = compute.get("subnetworks.get", relative_link(link))
    return subnet_parse({**item, "selfLink": link}) if item is not None else None
