"""The cluster's unmanaged instance groups, one per zone, holding the eligible nodes.

GCE lets an instance belong to only one load-balanced instance group, so (as
GKE does) the groups are shared by every load balancer of the cluster and are
marked with the cluster only. A node joining or leaving changes only their
membership, one write per affected zone whatever the number of Services; a
group is deleted once no backend service uses it and its zone has no nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cloudlb.changes import Action, Change
from cloudlb_gcp.instances import InstanceRef
from cloudlb_gcp.ownership import OwnerMark, read_mark
from cloudlb_gcp.resources.common import Json, Kind, check_ours, create, delete, relative_link


@dataclass(frozen=True)
class GroupRecord:
    name: str
    mark: OwnerMark | None
    zone: str
    network: str
    # What a listing says about membership; the members themselves are read per group (listInstances).
    size: int = field(default=0, compare=False)
    members: frozenset[str] | None = field(default=None, compare=False)


def parse_listed(scope: str, item: Json) -> GroupRecord:
    """A group from an aggregated list: ``scope`` is ``zones/Z``."""
    return GroupRecord(item["name"], read_mark(item.get("description", "")), scope.rsplit("/", 1)[1],
                       relative_link(item.get("network", "")), int(item.get("size") or 0))


def _parse(item: Json) -> GroupRecord:
    """A group read on its own: its ``zone`` field names the zone."""
    return parse_listed(relative_link(item.get("zone", "zones/")), item)


def body(record: GroupRecord) -> Json:
    assert record.mark is not None
    sent: Json = {"name": record.name, "description": record.mark.description}
    if record.network:
        sent["network"] = record.network
    return sent


KIND: Kind[GroupRecord] = Kind("instance-group", "instanceGroups", "instanceGroups", "zones", _parse, body)


def list_filter(name: str) -> str:
    return f'name = "{name}"'


def group_link(project: str, zone: str, name: str) -> str:
    return f"projects/{project}/zones/{zone}/instanceGroups/{name}"


def by_zone(instances: Iterable[InstanceRef]) -> dict[str, frozenset[str]]:
    zones: dict[str, set[str]] = {}
    for ref in instances:
        zones.setdefault(ref.zone, set()).add(ref.link)
    return {zone: frozenset(links) for zone, links in zones.items()}


@dataclass(frozen=True)
class Membership:
    """The private payload of a membership change; it is applied against the inventory at that moment,
    so that of several plans that saw the same node join, only the first writes."""

    zone: str
    group: str
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()


def _names(links: Iterable[str]) -> str:
    return ", ".join(sorted(link.rsplit("/", 1)[1] for link in links))


def membership(zone: str, group: str, add: frozenset[str], remove: frozenset[str]) -> list[Change]:
    changes = []
    if add:
        changes.append(Change(Action.UPDATE, "instance-group-members", f"{zone}/{group}", f"add {_names(add)}",
                              Membership(zone, group, add=add)))
    if remove:
        changes.append(Change(Action.UPDATE, "instance-group-members", f"{zone}/{group}", f"remove {_names(remove)}",
                              Membership(zone, group, remove=remove)))
    return changes


@dataclass(frozen=True)
class GroupChanges:
    """Groups and members come before the backend service that references them; unused groups go after it."""

    before: list[Change]
    after: list[Change]


def changes(name: str, mark: OwnerMark, wanted: Mapping[str, frozenset[str]], networks: Mapping[str, str],
            groups: Mapping[str, GroupRecord], used_elsewhere: frozenset[str]) -> GroupChanges:
    """``wanted``: member links by zone; ``networks``: each zone's nodes' network; ``groups``: the cluster's
    groups by zone as observed (members known); ``used_elsewhere``: zones whose group another load balancer uses."""
    result = GroupChanges([], [])
    for zone, members in sorted(wanted.items()):
        have = groups.get(zone)
        if have is None:
            want = GroupRecord(name, mark, zone, networks.get(zone, ""))
            result.before.append(create(KIND, want, zone=zone))
            result.before.extend(membership(zone, name, members, frozenset()))
            continue
        check_ours(KIND, have, mark)
        present = have.members or frozenset()
        result.before.extend(membership(zone, name, members - present, present - members))
    for zone, have in sorted(groups.items()):
        if zone in wanted or have.mark != mark:
            continue
        if zone in used_elsewhere:
            result.before.extend(membership(zone, name, frozenset(), have.members or frozenset()))
        else:
            result.after.append(delete(KIND, have, "no nodes in its zone and no load balancer uses it", zone=zone))
    return result
