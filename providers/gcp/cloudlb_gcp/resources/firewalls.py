"""Two firewall rules per load balancer: client traffic to the nodes, and health-check probes to the nodes.

Passthrough load balancers keep the packet's destination, so clients reach the
nodes on the load balancer's IP and the Service ports (kube-proxy matches that
IP:port); the traffic rule therefore allows the Service ports to the load
balancer's IP only, from ``loadBalancerSourceRanges``. Probes come from
Google's health-check ranges, which differ between external and internal
passthrough load balancers. Upstream targets each node's first network tag; a
rule without tags still only admits traffic to the load balancer's IP or the
health-check port.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cloudlb.changes import Change
from cloudlb.model import Port
from cloudlb_gcp.ownership import OwnerMark, read_mark
from cloudlb_gcp.resources.common import NEW_ADDRESS_IPS, Json, Kind, converge, relative_link

EXTERNAL_HEALTH_CHECK_RANGES = ("35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22")
INTERNAL_HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
# Where IPv6 probes come from (GKE's L4NetLBIPv6HCRange and L4ILBIPv6HCRange).
EXTERNAL_HEALTH_CHECK_RANGES6 = ("2600:1901:8001::/48",)
INTERNAL_HEALTH_CHECK_RANGES6 = ("2600:2d00:1:b029::/64",)
EVERYWHERE = "0.0.0.0/0"
EVERYWHERE6 = "::/0"

Allowed = tuple[tuple[str, tuple[str, ...]], ...]  # (protocol, ports) sorted


@dataclass(frozen=True)
class FirewallRecord:
    name: str
    mark: OwnerMark | None
    network: str
    allowed: Allowed
    source_ranges: tuple[str, ...]
    destination_ranges: tuple[str, ...]
    target_tags: tuple[str, ...]
    direction: str = "INGRESS"


def _by_number(port: str) -> int:
    """Ports ("80", "443", "1000-2000": the API accepts nothing else) in numeric order, as desired records are."""
    return int(port.split("-", 1)[0])


def parse(item: Json) -> FirewallRecord:
    allowed = tuple(sorted((a.get("IPProtocol", ""), tuple(sorted(a.get("ports") or (), key=_by_number)))
                           for a in item.get("allowed") or ()))
    return FirewallRecord(
        name=item["name"], mark=read_mark(item.get("description", "")), network=relative_link(item.get("network", "")),
        allowed=allowed, source_ranges=tuple(sorted(item.get("sourceRanges") or ())),
        destination_ranges=tuple(sorted(item.get("destinationRanges") or ())),
        target_tags=tuple(sorted(item.get("targetTags") or ())), direction=item.get("direction", "INGRESS"),
    )


def body(record: FirewallRecord) -> Json:
    assert record.mark is not None
    return {
        "name": record.name, "description": record.mark.description, "network": record.network,
        "direction": record.direction,
        "allowed": [{"IPProtocol": protocol, **({"ports": list(ports)} if ports else {})}
                    for protocol, ports in record.allowed],
        "sourceRanges": list(record.source_ranges), "destinationRanges": list(record.destination_ranges),
        "targetTags": list(record.target_tags),
    }


KIND: Kind[FirewallRecord] = Kind("firewall", "firewalls", "firewalls", "global", parse, body)


def health_check_ranges(internal: bool, ipv6: bool = False) -> tuple[str, ...]:
    if ipv6:
        return INTERNAL_HEALTH_CHECK_RANGES6 if internal else EXTERNAL_HEALTH_CHECK_RANGES6
    return INTERNAL_HEALTH_CHECK_RANGES if internal else EXTERNAL_HEALTH_CHECK_RANGES


def sources_of_family(source_ranges: Sequence[str], ipv6: bool) -> tuple[str, ...] | None:
    """The ``loadBalancerSourceRanges`` of one IP family (a firewall takes one family): everywhere when none
    are given; None when ranges are given but none of this family (no client of it may connect)."""
    if not source_ranges:
        return (EVERYWHERE6 if ipv6 else EVERYWHERE,)
    of_family = tuple(sorted(r for r in source_ranges if (":" in r) == ipv6))
    return of_family or None


def family_traffic_rule(name: str, mark: OwnerMark, network: str, ports: Sequence[Port], ip: str,
                        source_ranges: Sequence[str], target_tags: Sequence[str],
                        ipv6: bool = False) -> FirewallRecord | None:
    """Clients of one IP family to the load balancer's address of that family; None: none may connect."""
    sources = sources_of_family(source_ranges, ipv6)
    return None if sources is None else traffic_rule(name, mark, network, ports, ip, sources, target_tags)


def traffic_rule(name: str, mark: OwnerMark, network: str, ports: Sequence[Port], ip: str,
                 source_ranges: Sequence[str], target_tags: Sequence[str]) -> FirewallRecord:
    by_protocol: dict[str, set[int]] = defaultdict(set)
    for port in ports:
        by_protocol[port.protocol.lower()].add(port.port)
    allowed = tuple((protocol, tuple(str(p) for p in sorted(numbers)))
                    for protocol, numbers in sorted(by_protocol.items()))
    return FirewallRecord(name, mark, network, allowed, tuple(sorted(source_ranges)) or (EVERYWHERE,), (ip,),
                          tuple(sorted(target_tags)))


def health_check_rule(name: str, mark: OwnerMark, network: str, port: int, internal: bool,
                      target_tags: Sequence[str], ipv6: bool = False) -> FirewallRecord:
    return FirewallRecord(name, mark, network, (("tcp", (str(port),)),),
                          tuple(sorted(health_check_ranges(internal, ipv6))), (), tuple(sorted(target_tags)))


def with_ip(record: FirewallRecord, new_ip: Callable[[str], str]) -> FirewallRecord:
    """The record with the IP of the address created earlier in the plan in place of its placeholder."""
    if not set(NEW_ADDRESS_IPS) & set(record.destination_ranges):
        return record
    ranges = tuple(sorted(new_ip(r) if r in NEW_ADDRESS_IPS else r for r in record.destination_ranges))
    return dataclasses.replace(record, destination_ranges=ranges)


def changes(want: FirewallRecord | None, have: FirewallRecord | None, mark: OwnerMark) -> list[Change]:
    return converge(KIND, want, have, mark)
