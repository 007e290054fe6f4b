"""Security-group rules, decided without I/O: a load balancer's own (frontend) rules and the nodes' rules.

Every load balancer of the cluster carries two groups: its own *frontend*
group, whose inbound rules are ``loadBalancerSourceRanges`` on the listener
ports, and the cluster's one shared *backend* group, which has no rules of its
own. The nodes' groups admit the backend group, one rule per port range (the
nodePort range, and each health-check port outside it), so their rule count
stays the same however many Services there are: the 60-rule quota of a group
no longer caps the cluster at ~60 load balancers (aws-load-balancer-controller#2252).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from cloudlb.provider import CloudStateError, PermanentError
from cloudlb_aws.naming import CLUSTER_TAG_PREFIX
from cloudlb_aws.records import CidrRule, GroupRule, InstanceRecord, SecurityGroupRecord

# AWS allows 60 inbound rules per group; each (port range, CIDR or group) pair is one rule.
RULE_QUOTA = 60
# Above this many rules, the listener ports of one protocol are merged into one range: harmless,
# because the group is attached only to the load balancer, which forwards nothing but its listener ports.
RULE_BUDGET = 30
OPEN_TO_ALL = "0.0.0.0/0"
# Kubernetes' default --service-node-port-range: every nodePort in it is admitted by one rule per protocol.
NODE_PORT_RANGE = (30000, 32767)
# The backend group's rules stand in for the group itself (its id is known only once it exists).
BACKEND = "<backend>"
IngressRule = CidrRule


def backend_rule_description(cluster: str) -> str:
    return f"cloudlb {cluster}: the cluster's load balancers"


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


def ingress_rules(listener_ports: Mapping[str, Iterable[int]], source_ranges: Sequence[str]) -> frozenset[CidrRule]:
    """The frontend rules for ``{"tcp": ports, "udp": ports}`` from the allowed CIDRs, kept well under the quota."""
    cidrs = _collapsed(source_ranges) if source_ranges else [OPEN_TO_ALL]
    ranges = {proto: _port_ranges(ports) for proto, ports in listener_ports.items() if ports}
    if sum(len(r) for r in ranges.values()) * len(cidrs) > RULE_BUDGET:
        ranges = {proto: [(r[0][0], r[-1][1])] for proto, r in ranges.items()}
    rules = frozenset(CidrRule(proto, low, high, cidr)
                      for proto, spans in ranges.items() for low, high in spans for cidr in cidrs)
    if len(rules) > RULE_QUOTA:
        raise PermanentError(f"{len(cidrs)} source ranges need {len(rules)} security group rules, more than "
                             f"AWS's {RULE_QUOTA}; use fewer or wider loadBalancerSourceRanges")
    return rules


def backend_rules(target_ports: Iterable[tuple[str, int]], cluster: str,
                  backend_id: str = BACKEND) -> frozenset[GroupRule]:
    """The node-group rules admitting the backend group on ``(protocol, port)`` pairs ("tcp"/"udp")."""
    low, high = NODE_PORT_RANGE
    description = backend_rule_description(cluster)
    return frozenset(GroupRule(protocol, *((low, high) if low <= port <= high else (port, port)), backend_id,
                               description) for protocol, port in target_ports)


def _shape(rule: GroupRule) -> tuple[str, int, int]:
    return rule.protocol, rule.from_port, rule.to_port


def missing_backend_rules(node_group: SecurityGroupRecord, wanted: frozenset[GroupRule],
                          backend_id: str | None) -> frozenset[GroupRule]:
    """The wanted rules the node group lacks (by protocol and ports; the description is not compared)."""
    present = {_shape(rule) for rule in node_group.rules_from(backend_id)} if backend_id else set()
    return frozenset(rule for rule in wanted if _shape(rule) not in present)


def check_quota(node_group: SecurityGroupRecord, adding: int) -> None:
    """Refuse before anything is created when the node group cannot take the rules the load balancer needs."""
    if node_group.rule_count + adding > RULE_QUOTA:
        raise CloudStateError(
            f"security group {node_group.group_id} ({node_group.name}) of the nodes holds {node_group.rule_count} "
            f"inbound rules and needs {adding} more to admit the cluster's load balancers, above AWS's default "
            f"quota of {RULE_QUOTA}: remove rules from it or raise the quota",
            code="RulesPerSecurityGroupLimitExceeded")


def node_groups_for(instances: Mapping[str, InstanceRecord],
                    groups: Mapping[str, SecurityGroupRecord], cluster: str) -> tuple[set[str], list[str]]:
    """Per instance, its groups tagged for this cluster, else its only group (as upstream chooses).

    Returns the chosen group ids and the instances for which none could be chosen.
    """
    cluster_tag = CLUSTER_TAG_PREFIX + cluster
    chosen: set[str] = set()
    undecided: list[str] = []
    for instance_id, instance in sorted(instances.items()):
        ids = instance.security_groups
        tagged = [g for g in ids if g in groups and cluster_tag in groups[g].tag_map]
        if tagged:
            chosen.update(tagged)
        elif len(ids) == 1:
            chosen.add(ids[0])
        else:
            undecided.append(instance_id)
    return chosen, undecided
