"""The security group a load balancer owns, and the one rule each node group gets for it.

``loadBalancerSourceRanges`` becomes ingress rules on a group that belongs to
the load balancer alone. Nodes admit the load balancer by one rule that names
that group as its source, so adding a port or a CIDR never touches the node
groups, and removing the Service removes exactly one rule from each.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloudlb.model import ServiceRef
from cloudlb.provider import NotOwnedError, PermanentError
from cloudlb_aws.calls import Clients, describe_in_batches, ignoring, translated_errors
from cloudlb_aws.naming import (
    CLUSTER_TAG_PREFIX,
    as_tag_list,
    from_tag_list,
    is_owned,
    security_group_name,
)

# AWS allows 60 inbound rules per group; each (port range, CIDR) pair is one rule.
RULE_QUOTA = 60
# Above this many rules, the listener ports of one protocol are merged into one
# range: harmless, because the group is attached only to the load balancer,
# which forwards nothing but its listener ports.
RULE_BUDGET = 30
OPEN_TO_ALL = "0.0.0.0/0"


@dataclass(frozen=True, order=True)
class IngressRule:
    """One inbound rule as AWS counts them: a protocol, a port range and one CIDR."""

    protocol: str  # "tcp" or "udp"
    from_port: int
    to_port: int
    cidr: str


def _port_ranges(ports: Iterable[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for port in sorted(set(ports)):
        if ranges and ranges[-1][1] == port - 1:
            ranges[-1] = (ranges[-1][0], port)
        else:
            ranges.append((port, port))
    return ranges


def _collapsed(cidrs: Sequence[str]) -> list[str]:
    """Adjacent and nested CIDRs merged exactly (10.0.0.0/25 + 10.0.0.128/25 = 10.0.0.0/24)."""
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    v4 = list(ipaddress.collapse_addresses(n for n in networks if n.version == 4))
    v6 = list(ipaddress.collapse_addresses(n for n in networks if n.version == 6))
    return [str(n) for n in (*v4, *v6)]


def ingress_rules(listener_ports: Mapping[str, Iterable[int]], source_ranges: Sequence[str]) -> frozenset[IngressRule]:
    """The inbound rules for ``{"tcp": ports, "udp": ports}`` from the allowed CIDRs, kept well under the quota."""
    cidrs = _collapsed(source_ranges) if source_ranges else [OPEN_TO_ALL]
    ranges = {proto: _port_ranges(ports) for proto, ports in listener_ports.items() if ports}
    if sum(len(r) for r in ranges.values()) * len(cidrs) > RULE_BUDGET:
        ranges = {proto: [(r[0][0], r[-1][1])] for proto, r in ranges.items()}
    rules = frozenset(IngressRule(proto, low, high, cidr)
                      for proto, spans in ranges.items() for low, high in spans for cidr in cidrs)
    if len(rules) > RULE_QUOTA:
        raise PermanentError(f"{len(cidrs)} source ranges need {len(rules)} security group rules, more than "
                             f"AWS's {RULE_QUOTA}; use fewer or wider loadBalancerSourceRanges")
    return rules


def observed_rules(group: Mapping[str, Any]) -> frozenset[IngressRule]:
    rules: set[IngressRule] = set()
    for permission in group.get("IpPermissions", []):
        protocol = str(permission.get("IpProtocol"))
        if protocol not in ("tcp", "udp"):
            continue
        low, high = int(permission.get("FromPort", 0)), int(permission.get("ToPort", 0))
        for entry in permission.get("IpRanges", []):
            rules.add(IngressRule(protocol, low, high, str(entry["CidrIp"])))
        for entry in permission.get("Ipv6Ranges", []):
            rules.add(IngressRule(protocol, low, high, str(entry["CidrIpv6"])))
    return frozenset(rules)


def _permissions(rules: Iterable[IngressRule]) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, int, int], list[str]] = {}
    for rule in sorted(rules):
        grouped.setdefault((rule.protocol, rule.from_port, rule.to_port), []).append(rule.cidr)
    permissions: list[dict[str, Any]] = []
    for (protocol, low, high), cidrs in grouped.items():
        permission: dict[str, Any] = {"IpProtocol": protocol, "FromPort": low, "ToPort": high}
        v4 = [{"CidrIp": c} for c in cidrs if ":" not in c]
        v6 = [{"CidrIpv6": c} for c in cidrs if ":" in c]
        if v4:
            permission["IpRanges"] = v4
        if v6:
            permission["Ipv6Ranges"] = v6
        permissions.append(permission)
    return permissions


def _references(group: Mapping[str, Any], source_group_id: str) -> list[dict[str, Any]]:
    """Our rule(s) in a node group, exactly as observed (revoking must repeat the pair as it is stored)."""
    return [{"IpProtocol": "-1", "UserIdGroupPairs": [dict(pair)]}
            for permission in group.get("IpPermissions", []) if permission.get("IpProtocol") == "-1"
            for pair in permission.get("UserIdGroupPairs", []) if pair.get("GroupId") == source_group_id]


def _node_permission(source_group_id: str, description: str) -> list[dict[str, Any]]:
    return [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": source_group_id, "Description": description}]}]


@dataclass
class ObservedGroups:
    own: dict[str, Any] | None
    nodes: dict[str, dict[str, Any]]


class SecurityGroups:
    def __init__(self, clients: Clients, cluster: str) -> None:
        self._ec2 = clients.ec2
        self._cluster = cluster

    def observe(self, service: ServiceRef, *, vpc_id: str | None, own_id: str | None,
                node_group_ids: Sequence[str]) -> ObservedGroups:
        """The Service's own group and the nodes' groups, in one call when the own group's id is known."""
        name = security_group_name(self._cluster, service)
        with translated_errors("describing security groups"):
            if own_id is not None:
                groups = self._describe_ids([own_id, *node_group_ids])
                own = next((g for g in groups if g["GroupId"] == own_id and g.get("GroupName") == name), None)
                nodes = {g["GroupId"]: g for g in groups if g["GroupId"] in node_group_ids}
                if own is not None:
                    self._check_owned(own, service)
                    return ObservedGroups(own, nodes)
            own = self.find(service, vpc_id=vpc_id)
            nodes = {g["GroupId"]: g for g in self._describe_ids(node_group_ids)} if node_group_ids else {}
        return ObservedGroups(own, nodes)

    def find(self, service: ServiceRef, *, vpc_id: str | None) -> dict[str, Any] | None:
        filters = [{"Name": "group-name", "Values": [security_group_name(self._cluster, service)]}]
        if vpc_id is not None:
            filters.append({"Name": "vpc-id", "Values": [vpc_id]})
        with translated_errors("looking up the load balancer's security group"):
            found = self._ec2.describe_security_groups(Filters=filters)["SecurityGroups"]  # type: ignore[arg-type]
        if not found:
            return None
        # Without a VPC (on delete) the name may match groups in several VPCs: ours wins over a
        # foreign one, which would otherwise hide ours and leak it.
        ours = [g for g in found if is_owned(from_tag_list(g.get("Tags")), self._cluster, service)]
        group: dict[str, Any] = dict(ours[0] if ours else found[0])
        self._check_owned(group, service)
        return group

    def _describe_ids(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        def describe(batch: list[str]) -> list[dict[str, Any]]:
            # A filter, not GroupIds=: a group deleted meanwhile must not fail the whole call.
            response = self._ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": batch}])
            return [dict(g) for g in response["SecurityGroups"]]
        return describe_in_batches(list(ids), describe)

    def _check_owned(self, group: Mapping[str, Any], service: ServiceRef) -> None:
        if not is_owned(from_tag_list(group.get("Tags")), self._cluster, service):
            raise NotOwnedError(f"security group {group['GroupId']} ({group.get('GroupName')})")

    def create(self, service: ServiceRef, *, vpc_id: str, tags: Mapping[str, str]) -> dict[str, Any]:
        name = security_group_name(self._cluster, service)
        with translated_errors("creating the load balancer's security group"):
            created = self._ec2.create_security_group(
                GroupName=name, VpcId=vpc_id,
                Description=f"cloudlb: load balancer of Service {service} in cluster {self._cluster}",
                TagSpecifications=[{"ResourceType": "security-group", "Tags": as_tag_list(tags)}],
            )
        return {"GroupId": created["GroupId"], "GroupName": name, "IpPermissions": [],
                "Tags": as_tag_list(tags)}

    def set_tags(self, group_id: str, tags: Mapping[str, str]) -> None:
        with translated_errors("tagging the load balancer's security group"):
            self._ec2.create_tags(Resources=[group_id], Tags=as_tag_list(tags))

    def converge_ingress(self, group: Mapping[str, Any], desired: frozenset[IngressRule]) -> None:
        observed = observed_rules(group)
        group_id = str(group["GroupId"])
        # Authorize first: during a change the group admits the union, never less than either side.
        if desired - observed:
            with translated_errors("authorizing source ranges"):
                self._ec2.authorize_security_group_ingress(
                    GroupId=group_id, IpPermissions=_permissions(desired - observed))  # type: ignore[arg-type]
        if observed - desired:
            with translated_errors("revoking source ranges"):
                self._ec2.revoke_security_group_ingress(
                    GroupId=group_id, IpPermissions=_permissions(observed - desired))  # type: ignore[arg-type]

    def node_groups_for(self, groups: Mapping[str, Mapping[str, Any]],
                        by_instance: Mapping[str, Sequence[str]]) -> tuple[set[str], list[str]]:
        """Per instance, its groups tagged for this cluster, else its only group (as upstream chooses).

        Returns the chosen group ids and the instances for which none could be chosen.
        """
        cluster_tag = CLUSTER_TAG_PREFIX + self._cluster
        chosen: set[str] = set()
        undecided: list[str] = []
        for instance, ids in sorted(by_instance.items()):
            tagged = [g for g in ids if cluster_tag in from_tag_list(groups.get(g, {}).get("Tags"))]
            if tagged:
                chosen.update(tagged)
            elif len(ids) == 1:
                chosen.add(ids[0])
            else:
                undecided.append(instance)
        return chosen, undecided

    def converge_node_rules(self, service: ServiceRef, own_id: str, nodes: Mapping[str, Mapping[str, Any]],
                            wanted: set[str]) -> None:
        """Exactly the groups in ``wanted`` admit traffic from the load balancer's group."""
        description = f"cloudlb {self._cluster} {service}"
        for group_id in sorted(wanted):
            group = nodes.get(group_id)
            if group is not None and not _references(group, own_id):
                with (translated_errors(f"admitting the load balancer in node group {group_id}"),
                      ignoring("InvalidPermission.Duplicate")):
                    self._ec2.authorize_security_group_ingress(
                        GroupId=group_id, IpPermissions=_node_permission(own_id, description))  # type: ignore[arg-type]
        for group_id, group in sorted(nodes.items()):
            if group_id not in wanted and (ours := _references(group, own_id)):
                self._revoke_node_rule(group_id, ours)

    def remove_node_rules(self, own_id: str, vpc_id: str) -> None:
        """Remove the rule naming the load balancer's group from every group of the VPC that has one.

        Every group of the VPC is read, not just today's node groups: a node
        removed since may have left its group with our rule.
        """
        with translated_errors("finding node groups that admit the load balancer"):
            paginator = self._ec2.get_paginator("describe_security_groups")
            pages = paginator.paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
            referencing = [g for page in pages for g in page["SecurityGroups"]]
        for group in referencing:
            if group["GroupId"] != own_id and (ours := _references(group, own_id)):
                self._revoke_node_rule(str(group["GroupId"]), ours)

    def _revoke_node_rule(self, group_id: str, permissions: list[dict[str, Any]]) -> None:
        with (translated_errors(f"removing the load balancer's rule from node group {group_id}"),
              ignoring("InvalidPermission.NotFound")):
            self._ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=permissions)  # type: ignore[arg-type]

    def delete(self, group_id: str) -> None:
        with translated_errors(f"deleting security group {group_id}"), ignoring("InvalidGroup.NotFound"):
            self._ec2.delete_security_group(GroupId=group_id)

