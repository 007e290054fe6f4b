"""Forwarding rules: one per IP protocol, all on the load balancer's one address.

Upstream GCE rejects a Service that mixes protocols on one rule; one rule per
protocol on a shared address serves TCP and UDP ports on one IP. On internal
load balancers an SCTP port is served by a single ``L3_DEFAULT`` rule (all
ports, every protocol). A rule cannot be changed in place except for its
labels: a rule that differs is deleted and created again, and the reserved
address keeps the IP meanwhile.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cloudlb.changes import Change
from cloudlb.model import Port, Protocol
from cloudlb_gcp.names import LoadBalancerNames
from cloudlb_gcp.ownership import OwnerMark, read_mark
from cloudlb_gcp.resources.common import (
    NEW_ADDRESS_IPS,
    Json,
    Kind,
    check_ours,
    create,
    delete,
    differences,
    labels_of,
    relative_link,
    update,
)

# A rule lists at most five ports; beyond that GKE uses a port range (external) or all ports (internal).
MAX_LISTED_PORTS = 5
# Set on a rule that serves on a user's reserved address, naming it: a sweep then knows the address
# and its IP without reading it.
ADDRESS_LABEL = "cloudlb-address"
IPV6_RANGE = "/96"


@dataclass(frozen=True)
class RuleRecord:
    name: str
    mark: OwnerMark | None
    ip: str
    protocol: str
    ports: tuple[str, ...]
    port_range: str
    all_ports: bool
    backend_service: str
    scheme: str
    # Internal rules name their subnetwork; the API takes the network from it.
    subnetwork: str
    global_access: bool
    labels: tuple[tuple[str, str], ...]
    label_fingerprint: str | None = field(default=None, compare=False)
    network_tier: str = ""  # external rules: PREMIUM or STANDARD, as their address
    ip_version: str = "IPV4"  # IPV6 rules name their subnetwork, external ones too

    @property
    def address_name(self) -> str | None:
        """The user's reserved address the rule serves on, as its label records."""
        return dict(self.labels).get(ADDRESS_LABEL)


def parse(item: Json) -> RuleRecord:
    return RuleRecord(
        name=item["name"], mark=read_mark(item.get("description", "")),
        # An external IPv6 rule's address is a /96 range: the record holds the address.
        ip=item.get("IPAddress", "").removesuffix(IPV6_RANGE),
        protocol=item.get("IPProtocol", ""), ports=tuple(sorted(item.get("ports") or (), key=int)),
        port_range=item.get("portRange", ""), all_ports=bool(item.get("allPorts")),
        backend_service=relative_link(item.get("backendService", "")), scheme=item.get("loadBalancingScheme", ""),
        subnetwork=relative_link(item.get("subnetwork", "")),
        global_access=bool(item.get("allowGlobalAccess")), labels=labels_of(item),
        label_fingerprint=item.get("labelFingerprint"),
        network_tier=(item.get("networkTier") or "PREMIUM") if item.get("loadBalancingScheme") == "EXTERNAL" else "",
        ip_version=item.get("ipVersion") or "IPV4",
    )


def body(record: RuleRecord) -> Json:
    assert record.mark is not None
    sent: Json = {
        "name": record.name, "description": record.mark.description, "labels": dict(record.labels),
        "IPAddress": record.ip, "IPProtocol": record.protocol, "backendService": record.backend_service,
        "loadBalancingScheme": record.scheme,
    }
    if record.all_ports:
        sent["allPorts"] = True
    elif record.port_range:
        sent["portRange"] = record.port_range
    else:
        sent["ports"] = list(record.ports)
    if record.scheme == "INTERNAL":
        sent.update(subnetwork=record.subnetwork, allowGlobalAccess=record.global_access)
    else:
        sent["networkTier"] = record.network_tier
    if record.ip_version == "IPV6":
        sent.update(ipVersion="IPV6", subnetwork=record.subnetwork)
        if record.scheme == "EXTERNAL":
            sent["IPAddress"] = record.ip + IPV6_RANGE  # the API takes an external IPv6 address as its /96
    return sent


KIND: Kind[RuleRecord] = Kind("forwarding-rule", "forwardingRules", "forwardingRules", "regions", parse, body)


@dataclass(frozen=True)
class Frontend:
    """What every rule of one load balancer shares."""

    ip: str
    backend_service: str
    internal: bool
    subnetwork: str | None = None
    global_access: bool = False
    # The user's reserved address the rules serve on, recorded in a label; None for cloudlb's own.
    users_address: str | None = None
    network_tier: str = "PREMIUM"
    ipv6: bool = False


def desired(names: LoadBalancerNames, mark: OwnerMark, ports: Sequence[Port],
            frontend: Frontend, *, listed_only: bool = False) -> list[RuleRecord]:
    """The rules this spec needs, in a stable order.

    ``listed_only``: for a member of a shared load balancer, whose address other members' rules use too:
    a port range or all ports would take their ports, so its ports are listed, five to a rule.
    """
    v6 = frontend.ipv6
    protocols = {p.protocol for p in ports}
    # Internal: SCTP needs L3_DEFAULT; an internal IPv6 address takes one rule, so both protocols need it too.
    if frontend.internal and (Protocol.SCTP in protocols or (v6 and len(protocols) > 1)):
        return [_rule(names.forwarding_rule("L3_DEFAULT", ipv6=v6), mark, "L3_DEFAULT", set(), frontend)]
    by_protocol: dict[str, set[int]] = defaultdict(set)
    for port in ports:
        by_protocol[str(port.protocol)].add(port.port)
    if not listed_only:
        return [_rule(names.forwarding_rule(protocol, ipv6=v6), mark, protocol, numbers, frontend)
                for protocol, numbers in sorted(by_protocol.items())]
    rules = []
    for protocol, numbers in sorted(by_protocol.items()):
        ordered = sorted(numbers)
        for part, start in enumerate(range(0, len(ordered), MAX_LISTED_PORTS), start=1):
            chunk = set(ordered[start:start + MAX_LISTED_PORTS])
            rules.append(_rule(names.forwarding_rule(protocol, part, ipv6=v6), mark, protocol, chunk, frontend))
    return rules


def _rule(name: str, mark: OwnerMark, protocol: str, numbers: set[int], frontend: Frontend) -> RuleRecord:
    ports: tuple[str, ...] = ()
    port_range = ""
    all_ports = protocol == "L3_DEFAULT" or (frontend.internal and len(numbers) > MAX_LISTED_PORTS)
    if not all_ports and len(numbers) > MAX_LISTED_PORTS:
        port_range = f"{min(numbers)}-{max(numbers)}"
    elif not all_ports:
        ports = tuple(str(n) for n in sorted(numbers))
    labels = dict(mark.labels)
    if frontend.users_address:
        labels[ADDRESS_LABEL] = frontend.users_address
    internal = frontend.internal
    return RuleRecord(
        name=name, mark=mark, ip=frontend.ip, protocol=protocol, ports=ports, port_range=port_range,
        all_ports=all_ports, backend_service=frontend.backend_service, scheme="INTERNAL" if internal else "EXTERNAL",
        subnetwork=(frontend.subnetwork or "") if internal or frontend.ipv6 else "",
        global_access=frontend.global_access if internal else False, labels=tuple(sorted(labels.items())),
        network_tier="" if internal else frontend.network_tier, ip_version="IPV6" if frontend.ipv6 else "IPV4",
    )


def with_ip(record: RuleRecord, new_ip: Callable[[str], str]) -> RuleRecord:
    """The record with the IP of the address created earlier in the plan in place of its placeholder."""
    return dataclasses.replace(record, ip=new_ip(record.ip)) if record.ip in NEW_ADDRESS_IPS else record


@dataclass(frozen=True)
class RuleChanges:
    """Rule changes come in three places of a plan: deletions first, creations last, labels anywhere."""

    deletions: list[Change]
    creations: list[Change]
    labels: list[Change]


def changes(wanted: Sequence[RuleRecord], observed: Mapping[str, RuleRecord], mark: OwnerMark) -> RuleChanges:
    want_by_name = {rule.name: rule for rule in wanted}
    result = RuleChanges([], [], [])
    for name, have in sorted(observed.items()):
        want = want_by_name.get(name)
        if have.mark != mark:
            if want is not None:
                check_ours(KIND, have, mark)
            continue
        if want is None:
            result.deletions.append(delete(KIND, have, "not wanted"))
            continue
        reason = differences(want, have, ignore=("labels",))
        if reason:
            result.deletions.append(delete(KIND, have, f"replaced: {reason}"))
            result.creations.append(create(KIND, want, f"replaces the rule with {reason}"))
        elif want.labels != have.labels:
            labelled = dataclasses.replace(want, label_fingerprint=have.label_fingerprint)
            result.labels.append(update(KIND, labelled, differences(want, have), verb="setLabels"))
    result.creations.extend(create(KIND, want) for want in wanted if want.name not in observed)
    return result
