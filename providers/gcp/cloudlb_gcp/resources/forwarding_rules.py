"""Forwarding rules: one per IP protocol, all on the load balancer's one address.

Upstream GCE rejects a Service that mixes protocols on one rule; one rule per
protocol on a shared address serves TCP and UDP ports on one IP. On internal
load balancers an SCTP port is served by a single ``L3_DEFAULT`` rule (all
ports, every protocol). Rules are immutable here: a rule that differs is
deleted and created again, and the reserved address keeps the IP meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from google.cloud import compute_v1

from cloudlb.model import Port, Protocol
from cloudlb_gcp.compute import READ_RETRY, REQUEST_TIMEOUT, Compute
from cloudlb_gcp.instances import relative_link
from cloudlb_gcp.names import LoadBalancerNames
from cloudlb_gcp.ownership import OwnerMark, is_owned, require_owned
from cloudlb_gcp.resources.calls import delete, read, write

# A rule lists at most five ports; beyond that GKE uses a port range (external) or all ports (internal).
MAX_LISTED_PORTS = 5
RULE_PROTOCOLS = ("TCP", "UDP", "L3_DEFAULT")


@dataclass(frozen=True)
class Frontend:
    """What every rule of one load balancer shares."""

    ip: str
    backend_service: str
    internal: bool
    network: str | None = None
    subnetwork: str | None = None
    global_access: bool = False


def plan(names: LoadBalancerNames, mark: OwnerMark, ports: Sequence[Port],
         frontend: Frontend) -> list[compute_v1.ForwardingRule]:
    """The rules this spec needs, in a stable order."""
    if frontend.internal and any(p.protocol == Protocol.SCTP for p in ports):
        return [_rule(names.forwarding_rule("L3_DEFAULT"), mark, "L3_DEFAULT", set(), frontend)]
    by_protocol: dict[str, set[int]] = defaultdict(set)
    for port in ports:
        by_protocol[str(port.protocol)].add(port.port)
    return [_rule(names.forwarding_rule(protocol), mark, protocol, numbers, frontend)
            for protocol, numbers in sorted(by_protocol.items())]


def _rule(name: str, mark: OwnerMark, protocol: str, numbers: set[int],
          frontend: Frontend) -> compute_v1.ForwardingRule:
    rule = compute_v1.ForwardingRule(
        name=name, description=mark.description, labels=mark.labels, I_p_address=frontend.ip,
        I_p_protocol=protocol, backend_service=frontend.backend_service,
        load_balancing_scheme="INTERNAL" if frontend.internal else "EXTERNAL",
    )
    if protocol == "L3_DEFAULT" or (frontend.internal and len(numbers) > MAX_LISTED_PORTS):
        rule.all_ports = True
    elif len(numbers) > MAX_LISTED_PORTS:
        rule.port_range = f"{min(numbers)}-{max(numbers)}"
    else:
        rule.ports = [str(n) for n in sorted(numbers)]
    if frontend.internal:
        rule.network = frontend.network or ""
        rule.subnetwork = frontend.subnetwork or ""
        rule.allow_global_access = frontend.global_access
    else:
        rule.network_tier = "PREMIUM"
    return rule


def _shape(rule: compute_v1.ForwardingRule) -> tuple[object, ...]:
    return (
        rule.I_p_address, rule.I_p_protocol, sorted(rule.ports), rule.port_range, rule.all_ports,
        relative_link(rule.backend_service), rule.load_balancing_scheme,
        relative_link(rule.subnetwork) if rule.subnetwork else "", rule.allow_global_access,
    )


def observe(compute: Compute, names: LoadBalancerNames) -> dict[str, compute_v1.ForwardingRule]:
    """Our rules that exist now, by name (one read per protocol; their names are fixed)."""
    found = {}
    for protocol in RULE_PROTOCOLS:
        name = names.forwarding_rule(protocol)
        rule = read(f"reading forwarding rule {name}", lambda: compute.forwarding_rules.get(
            forwarding_rule=name, retry=READ_RETRY, timeout=REQUEST_TIMEOUT, **compute.in_region))  # noqa: B023
        if rule is not None:
            found[name] = rule
    return found


def check_owned(observed: dict[str, compute_v1.ForwardingRule], mark: OwnerMark) -> None:
    for name, rule in observed.items():
        require_owned(mark, f"forwarding rule {name}", rule.description, rule.labels)


def remove_stale(compute: Compute, observed: dict[str, compute_v1.ForwardingRule],
                 wanted: Sequence[compute_v1.ForwardingRule]) -> dict[str, compute_v1.ForwardingRule]:
    """Delete the rules that are not wanted or differ from what is wanted; returns those that remain."""
    want_by_name = {r.name: r for r in wanted}
    kept = {}
    for name, have in observed.items():
        want = want_by_name.get(name)
        if want is not None and _shape(want) == _shape(have):
            kept[name] = have
        else:
            _delete(compute, name)
    return kept


def create_missing(compute: Compute, kept: dict[str, compute_v1.ForwardingRule],
                   wanted: Sequence[compute_v1.ForwardingRule]) -> None:
    for want in wanted:
        if want.name in kept:
            continue
        write(compute, f"creating forwarding rule {want.name}", lambda: compute.forwarding_rules.insert_unary(
            forwarding_rule_resource=want, timeout=REQUEST_TIMEOUT, **compute.in_region))  # noqa: B023


def remove_all(compute: Compute, names: LoadBalancerNames, mark: OwnerMark) -> None:
    for name, rule in observe(compute, names).items():
        if is_owned(mark, rule.description, rule.labels):
            _delete(compute, name)


def _delete(compute: Compute, name: str) -> None:
    delete(compute, f"deleting forwarding rule {name}", lambda: compute.forwarding_rules.delete_unary(
        forwarding_rule=name, timeout=REQUEST_TIMEOUT, **compute.in_region))
