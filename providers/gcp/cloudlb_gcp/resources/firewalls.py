"""Two firewall rules per load balancer: client traffic to the nodes, and health-check probes to the nodes.

Passthrough load balancers keep the packet's destination, so clients reach the
nodes on the load balancer's IP and the Service ports (kube-proxy matches that
IP:port); the traffic rule therefore allows the Service ports to the load
balancer's IP only, from ``loadBalancerSourceRanges``. Probes come from
Google's health-check ranges, which differ between external and internal
passthrough load balancers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from google.cloud import compute_v1

from cloudlb.model import Port
from cloudlb_gcp.compute import READ_RETRY, REQUEST_TIMEOUT, Compute
from cloudlb_gcp.instances import relative_link
from cloudlb_gcp.ownership import OwnerMark, is_owned, require_owned
from cloudlb_gcp.resources.calls import delete, read, write

EXTERNAL_HEALTH_CHECK_RANGES = ("35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22")
INTERNAL_HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
EVERYWHERE = "0.0.0.0/0"


def health_check_ranges(internal: bool) -> tuple[str, ...]:
    return INTERNAL_HEALTH_CHECK_RANGES if internal else EXTERNAL_HEALTH_CHECK_RANGES


def traffic_rule(name: str, mark: OwnerMark, network: str, ports: Sequence[Port], ip: str,
                 source_ranges: Sequence[str], target_tags: Sequence[str]) -> compute_v1.Firewall:
    by_protocol: dict[str, set[int]] = defaultdict(set)
    for port in ports:
        by_protocol[port.protocol.lower()].add(port.port)
    allowed = [compute_v1.Allowed(I_p_protocol=protocol, ports=[str(p) for p in sorted(numbers)])
               for protocol, numbers in sorted(by_protocol.items())]
    return compute_v1.Firewall(
        name=name, description=mark.description, network=network, direction="INGRESS", allowed=allowed,
        source_ranges=sorted(source_ranges) or [EVERYWHERE], destination_ranges=[ip],
        target_tags=sorted(target_tags),
    )


def health_check_rule(name: str, mark: OwnerMark, network: str, port: int, internal: bool,
                      target_tags: Sequence[str]) -> compute_v1.Firewall:
    return compute_v1.Firewall(
        name=name, description=mark.description, network=network, direction="INGRESS",
        allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=[str(port)])],
        source_ranges=sorted(health_check_ranges(internal)), target_tags=sorted(target_tags),
    )


def _shape(rule: compute_v1.Firewall) -> tuple[object, ...]:
    allowed = sorted((a.I_p_protocol, tuple(sorted(a.ports))) for a in rule.allowed)
    return (relative_link(rule.network), rule.direction or "INGRESS", allowed, sorted(rule.source_ranges),
            sorted(rule.destination_ranges), sorted(rule.target_tags))


def ensure(compute: Compute, want: compute_v1.Firewall, mark: OwnerMark) -> None:
    name = want.name
    have = _get(compute, name)
    if have is None:
        write(compute, f"creating firewall {name}", lambda: compute.firewalls.insert_unary(
            project=compute.project, firewall_resource=want, timeout=REQUEST_TIMEOUT))
        return
    require_owned(mark, f"firewall {name}", have.description)
    if _shape(want) != _shape(have):
        write(compute, f"updating firewall {name}", lambda: compute.firewalls.patch_unary(
            project=compute.project, firewall=name, firewall_resource=want, timeout=REQUEST_TIMEOUT))


def remove(compute: Compute, name: str, mark: OwnerMark) -> None:
    have = _get(compute, name)
    if have is not None and is_owned(mark, have.description):
        delete(compute, f"deleting firewall {name}", lambda: compute.firewalls.delete_unary(
            project=compute.project, firewall=name, timeout=REQUEST_TIMEOUT))


def _get(compute: Compute, name: str) -> compute_v1.Firewall | None:
    return read(f"reading firewall {name}", lambda: compute.firewalls.get(
        project=compute.project, firewall=name, retry=READ_RETRY, timeout=REQUEST_TIMEOUT))
