"""The GCP provider's ``plan``: desired load balancer + observed inventory -> ordered changes. Pure.

Each resource module decides its own changes; this module chooses the
frontend address, the nodes and their zones, builds each module's desired
record and puts the changes in the one order that every step of the API
accepts:

1. forwarding rules that must go (unwanted, or replaced: rules cannot change);
2. our address, released when it no longer fits, then reserved;
3. the health check, the cluster's instance groups and their members, the firewalls;
4. the backend service (deleted and created again for a scheme change, after its rules went);
5. new forwarding rules, then labels;
6. our address released when the Service moved to a user's address; groups no load balancer uses.

A shared load balancer (several member Services, one key) is one address
and, per member, what a Service's own load balancer has besides its address
(rules, backend service, health check, firewalls) under the member's own names
and mark; a member that left loses exactly those.

When the plan needs a fact the inventory does not hold (a node's instance no
listing showed yet, a user's reserved address), it is one change that reads
those first and plans again when applied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cloudlb.changes import Action, Change, ChangePlan
from cloudlb.model import (
    Backend,
    DesiredLoadBalancer,
    LoadBalancerKey,
    LoadBalancerSpec,
    Port,
    PortKey,
    Protocol,
    ServiceRef,
)
from cloudlb.provider import CloudStateError, PermanentError, ProviderError, RetryLater
from cloudlb_gcp import families, gke_annotations
from cloudlb_gcp.instances import InstanceNetwork, InstanceRef, parse_provider_id
from cloudlb_gcp.inventory import ClusterView, MemberObserved, Observed
from cloudlb_gcp.names import LoadBalancerNames, member_names, names_for_key
from cloudlb_gcp.ownership import OwnerMark, member_labels
from cloudlb_gcp.resources import address, backend_service, firewalls, forwarding_rules, health_check, instance_groups
from cloudlb_gcp.resources.address import AddressRecord
from cloudlb_gcp.resources.common import NEW_ADDRESS_IP, NEW_ADDRESS_IP6, Kind, R, converge, delete
from cloudlb_gcp.resources.subnetwork import SubnetRecord


@dataclass(frozen=True)
class Setting:
    """What every plan of one provider shares."""

    cluster: str
    project: str
    region: str
    group_name: str

    def regional(self, collection: str, name: str) -> str:
        return f"projects/{self.project}/regions/{self.region}/{collection}/{name}"


@dataclass(frozen=True, order=True)
class Lookup:
    """A fact outside the inventory that a plan needs: a node's instance, a reserved address by name or by IP."""

    what: str  # "instance" (its link), "address", "ip" or "subnetwork" (its link)
    value: str

    def __str__(self) -> str:
        if self.what == "instance":
            return f"instance {self.instance.name} of zone {self.instance.zone}"
        return {"address": "reserved address {}", "ip": "the reserved address of {}",
                "subnetwork": "subnetwork {}"}[self.what].format(self.value.rsplit("/", 1)[-1])

    @property
    def instance(self) -> InstanceRef:
        _, project, _, zone, _, name = self.value.split("/")
        return InstanceRef(project, zone, name)

    def known(self, view: ClusterView) -> bool:
        """Whether ``view`` holds the fact already (another plan's lookup read it meanwhile)."""
        if self.what == "instance":
            return self.instance in view.instances or self.instance in view.missing
        if self.what == "subnetwork":
            return self.value in view.subnets
        return self.value in (view.addresses if self.what == "address" else view.addresses_by_ip)


@dataclass(frozen=True)
class Replan:
    """The payload of a plan's one change while facts are missing: read them, then plan ``desired`` again."""

    desired: DesiredLoadBalancer
    lookups: tuple[Lookup, ...]


@dataclass(frozen=True)
class Outcome:
    """What the member Services' status will say once the plan is applied.

    ``ip`` is NEW_ADDRESS_IP while the plan creates our address: the status then names the IP it got.
    ``port_errors``: by member, the ports the cloud cannot serve on the shared address.
    """

    services: tuple[ServiceRef, ...]
    ip: str  # "" when the load balancer serves IPv6 only
    address: str
    warnings: tuple[str, ...] = ()
    port_errors: Mapping[ServiceRef, Mapping[PortKey, str]] = field(default_factory=dict)
    ip6: str = ""  # the IPv6 address when served (NEW_ADDRESS_IP6 while the plan reserves it)
    ipv6_first: bool = False  # the Service's ipFamilies name IPv6 first

    @property
    def ips(self) -> tuple[str, ...]:
        """The addresses the status names, in the order of the Service's ipFamilies."""
        ordered = (self.ip6, self.ip) if self.ipv6_first else (self.ip, self.ip6)
        return tuple(ip for ip in ordered if ip)


@dataclass(frozen=True)
class LoadBalancerPlan(ChangePlan):
    """A ChangePlan that also says what the status will be (None when the load balancer is removed)."""

    outcome: Outcome | None = None
    lookups: tuple[Lookup, ...] = field(default=())


@dataclass(frozen=True)
class Nodes:
    """The backends as instances: those found, warnings for those left out, and zones still to list."""

    found: Mapping[InstanceRef, InstanceNetwork]
    warnings: tuple[str, ...]
    lookups: tuple[Lookup, ...]

    @property
    def first(self) -> InstanceNetwork | None:
        return self.found[min(self.found)] if self.found else None


@dataclass(frozen=True)
class Member:
    """One member Service's part of a load balancer: everything but the address.

    A Service's own load balancer is its one member, with the load balancer's names and mark; on a
    shared one each member has names and a mark of its own (naming the load balancer and the member).
    """

    service: ServiceRef
    names: LoadBalancerNames
    mark: OwnerMark
    have: MemberObserved


@dataclass
class MemberChanges:
    """A member's changes, by the place each takes in the plan's order."""

    rule_deletions: list[Change] = field(default_factory=list)
    checks: list[Change] = field(default_factory=list)
    walls: list[Change] = field(default_factory=list)
    services: list[Change] = field(default_factory=list)
    rule_creations: list[Change] = field(default_factory=list)
    rule_labels: list[Change] = field(default_factory=list)


# SCTP on an internal shared address: only one L3_DEFAULT rule may use an IP (GCE's rule for shared VIPs).
L3_TAKEN = "cloudlb.io/SharedAddressHasL3Rule"


@dataclass(frozen=True)
class Frontend:
    """The IP to serve on: our own address (``ours``), or a user's reserved address by name."""

    ours: bool
    requested_ip: str | None = None
    users_ip: str = ""
    users_address: str | None = None


def plan(setting: Setting, key: LoadBalancerKey, desired: DesiredLoadBalancer | None,
         observed: Observed) -> LoadBalancerPlan:
    names = names_for_key(setting.cluster, key)
    mark = OwnerMark.of(setting.cluster, key)
    if desired is None:
        return LoadBalancerPlan(key, tuple(_removal(setting, names, mark, observed)))
    spec = desired.first
    options = gke_annotations.read_options(spec.annotations)
    nodes = eligible_instances(_all_backends(desired), observed.cluster)
    frontend = choose_frontend(setting, spec, options, names, mark, observed)
    wanted = set(nodes.lookups) | (set(frontend) if isinstance(frontend, list) else set())
    if families.IPV6 in families.requested(spec):
        subnet6 = _ipv6_subnetwork(setting, options, nodes, observed, spec.internal)
        if subnet6 not in observed.cluster.subnets:
            wanted.add(Lookup("subnetwork", subnet6))
    lookups = tuple(sorted(wanted))
    if lookups or isinstance(frontend, list):  # (the second says the same to the type checker)
        reason = "to be planned after reading " + ", ".join(map(str, lookups))
        change = Change(Action.UPDATE, "load-balancer", names.base, reason, Replan(desired, lookups))
        return LoadBalancerPlan(key, (change,), lookups=lookups)
    return _building(setting, key, names, mark, desired, options, nodes, frontend, observed)


def _all_backends(desired: DesiredLoadBalancer) -> tuple[Backend, ...]:
    """The nodes of every member (the same eligible nodes, unless a member narrows them)."""
    return tuple(sorted({backend for member in desired.members for backend in member.backends}))


def members_of(setting: Setting, key: LoadBalancerKey, names: LoadBalancerNames, mark: OwnerMark,
               observed: Observed, services: tuple[ServiceRef, ...]) -> tuple[list[Member], list[Member]]:
    """The parts of the member ``services`` (in their order), and of the members the cloud holds that left."""
    if not key.shared:
        have = MemberObserved(observed.health_check, observed.backend_service, observed.rules, observed.firewalls)
        own = [Member(service, names, mark, have) for service in services]
        return own, ([Member(key.service, names, mark, have)] if not own and key.service is not None else [])

    def member(service: ServiceRef) -> Member:
        return Member(service, member_names(setting.cluster, key, service),
                      OwnerMark(setting.cluster, service, shared=key), observed.members.get(service, MemberObserved()))
    wanted = [member(service) for service in services]
    return wanted, [member(service) for service in sorted(observed.members) if service not in services]


def eligible_instances(backends: Iterable[Backend], view: ClusterView) -> Nodes:
    found: dict[InstanceRef, InstanceNetwork] = {}
    warnings, lookups = [], set()
    for backend in sorted(backends):
        ref = parse_provider_id(backend.provider_id)
        if ref is None:
            warnings.append(f"node {backend.node_name}: its provider id {backend.provider_id!r} is not "
                            "gce://PROJECT/ZONE/INSTANCE; left out of the load balancer")
        elif ref in view.instances:
            found[ref] = view.instances[ref]
        elif ref in view.missing:
            warnings.append(f"node {backend.node_name}: its instance {ref.link} does not exist; "
                            "left out of the load balancer")
        else:
            lookups.add(Lookup("instance", ref.link))
    return Nodes(found, tuple(warnings), tuple(sorted(lookups)))


def choose_frontend(setting: Setting, spec: LoadBalancerSpec, options: gke_annotations.GCPOptions,
                    names: LoadBalancerNames, mark: OwnerMark, observed: Observed) -> Frontend | list[Lookup]:
    """A user's reserved address named by annotation or holding ``loadBalancerIP``, else our own address."""
    view = observed.cluster
    if options.address_names:
        unknown = [Lookup("address", name) for name in options.address_names
                   if name != names.address and name not in view.addresses]
        if unknown:
            return unknown
        chosen: list[AddressRecord | None] = []  # None: our own address, named by the user
        for name in options.address_names:
            record = None if name == names.address else view.addresses[name]
            if name != names.address and record is None:
                raise address.missing(name, setting.region)
            chosen.append(record)
        # GKE takes one IPv4 and one IPv6 name; the IPv4 one is served here.
        pick = next((c for c in chosen if c is None or ":" not in c.ip), chosen[0])
        if pick is None:
            return Frontend(ours=True)
        return Frontend(ours=False, users_ip=address.use_reserved(pick, spec.internal, mark, options.network_tier),
                        users_address=pick.name)
    requested = spec.requested_ips[0] if spec.requested_ips else None
    if requested is None or (observed.address is not None and observed.address.ip == requested):
        return Frontend(ours=True, requested_ip=requested)
    if requested not in view.addresses_by_ip:
        return [Lookup("ip", requested)]
    holder = view.addresses_by_ip[requested]
    if holder is None or holder.name == names.address:
        return Frontend(ours=True, requested_ip=requested)
    return Frontend(ours=False, users_ip=address.use_reserved(holder, spec.internal, mark, options.network_tier),
                    users_address=holder.name)


def _subnetwork(setting: Setting, options: gke_annotations.GCPOptions, nodes: Nodes,
                observed: Observed) -> str:
    if options.subnet:
        return setting.regional("subnetworks", options.subnet)
    if nodes.first is not None:
        return nodes.first.subnetwork
    if observed.address is not None and observed.address.subnetwork:
        return observed.address.subnetwork
    raise RetryLater("an internal load balancer needs a subnetwork: name one with "
                     f"{gke_annotations.SUBNET} or wait for a node to learn it from", delay=30)


def _ipv6_subnetwork(setting: Setting, options: gke_annotations.GCPOptions, nodes: Nodes, observed: Observed,
                     internal: bool) -> str:
    """Where the IPv6 address comes from: the internal load balancer's subnetwork; for an external one, the
    nodes' subnetwork (its external IPv6 range), as GKE takes it."""
    if internal:
        return _subnetwork(setting, options, nodes, observed)
    if nodes.first is not None:
        return nodes.first.subnetwork
    if observed.address6 is not None and observed.address6.subnetwork:
        return observed.address6.subnetwork
    raise RetryLater("an IPv6 load balancer takes its address from the nodes' subnetwork: waiting for a node",
                     delay=30)


def _ipv6_refusal(desired: DesiredLoadBalancer, options: gke_annotations.GCPOptions,
                  subnet: SubnetRecord | None, subnet_link: str) -> ProviderError | None:
    """Why IPv6 cannot be served here (an error naming the field or annotation), or None when it can."""
    spec = desired.first
    name = subnet_link.rsplit("/", 1)[-1]
    if not spec.internal and options.network_tier != "PREMIUM":
        return PermanentError(f"spec.ipFamilies asks for IPv6, which GCP serves in the Premium tier only; "
                              f"annotation {gke_annotations.NETWORK_TIER} asks for Standard", code="IPv6NotAvailable")
    if spec.internal and len(desired.members) > 1:
        return PermanentError("spec.ipFamilies asks for IPv6 on a shared internal load balancer: an internal IPv6 "
                              "address takes one forwarding rule, so Services cannot share it",
                              code="IPv6NotAvailable")
    if subnet is None:
        return CloudStateError(f"spec.ipFamilies asks for IPv6 but subnetwork {name} does not exist",
                               code="IPv6NotAvailable")
    if not subnet.serves_ipv6(spec.internal):
        kind = "internal" if spec.internal else "external"
        return CloudStateError(
            f"spec.ipFamilies asks for IPv6 but subnetwork {name} ({subnet.described()}) has no {kind} IPv6 range; "
            f"make it dual-stack with ipv6AccessType {kind.upper()}", code="IPv6NotAvailable")
    return None


def _served_families(desired: DesiredLoadBalancer, options: gke_annotations.GCPOptions, observed: Observed,
                     subnet6: str | None) -> tuple[bool, bool, tuple[str, ...]]:
    """(serve IPv4, serve IPv6, warnings): a PreferDualStack Service is served on IPv4 alone (with a Warning)
    when IPv6 cannot be; RequireDualStack and IPv6-only Services fail with the reason."""
    spec = desired.first
    wanted = families.requested(spec)
    if families.IPV6 not in wanted or subnet6 is None:
        return True, False, ()
    refusal = _ipv6_refusal(desired, options, observed.cluster.subnets.get(subnet6), subnet6)
    if refusal is None:
        return families.IPV4 in wanted, True, ()
    if families.IPV4 in wanted and families.policy(spec) != families.REQUIRE_DUAL_STACK:
        return True, False, (f"{refusal}; served on IPv4 only (spec.ipFamilyPolicy PreferDualStack)",)
    raise refusal


def _building(setting: Setting, key: LoadBalancerKey, names: LoadBalancerNames, mark: OwnerMark,
              desired: DesiredLoadBalancer, options: gke_annotations.GCPOptions, nodes: Nodes, frontend: Frontend,
              observed: Observed) -> LoadBalancerPlan:
    view = observed.cluster
    spec = desired.first
    subnetwork = _subnetwork(setting, options, nodes, observed) if spec.internal else None
    subnet6 = (_ipv6_subnetwork(setting, options, nodes, observed, spec.internal)
               if families.IPV6 in families.requested(spec) else None)
    serve4, serve6, family_warnings = _served_families(desired, options, observed, subnet6)
    wanted, leaving = members_of(setting, key, names, mark, observed, desired.services)

    labels = {**mark.labels, **member_labels(setting.cluster, desired.services)} if key.shared else None
    own = address.desired(names.address, mark, spec.internal, subnetwork, frontend.requested_ip,
                          options.network_tier, labels) if frontend.ours and serve4 else None
    addresses = address.changes(own, observed.address, mark)
    if not serve4:
        ip = ""
    elif not frontend.ours:
        ip = frontend.users_ip
    elif addresses.reserve or observed.address is None:
        ip = NEW_ADDRESS_IP
    else:
        ip = observed.address.ip
    own6 = address.desired(names.address6, mark, spec.internal, subnet6, None, "PREMIUM", labels,
                           ipv6=True) if serve6 else None
    addresses6 = address.changes(own6, observed.address6, mark)
    ip6 = "" if not serve6 else (NEW_ADDRESS_IP6 if addresses6.reserve or observed.address6 is None
                                 else observed.address6.ip)

    wanted_groups = instance_groups.by_zone(nodes.found)
    networks: dict[str, str] = {}
    for ref, instance in sorted(nodes.found.items()):
        networks.setdefault(ref.zone, instance.network)
    ours = {m.names.backend_service for m in (*wanted, *leaving)}
    used_elsewhere = frozenset(zone for zone, users in view.group_users.items() if users - ours)
    cluster_mark = OwnerMark(setting.cluster)
    groups = instance_groups.changes(setting.group_name, cluster_mark, wanted_groups, networks, view.groups,
                                     used_elsewhere)
    group_links = [instance_groups.group_link(setting.project, zone, setting.group_name) for zone in wanted_groups]
    network = nodes.first.network if nodes.first else next(
        (w.network for m in (*wanted, *leaving) for w in m.have.firewalls.values()), None)
    # Upstream targets each node's first network tag.
    tags = sorted({n.tags[0] for n in nodes.found.values() if n.tags})
    frontends = []
    if serve4:
        frontends.append(forwarding_rules.Frontend(ip, "", spec.internal, subnetwork, options.global_access,
                                                   frontend.users_address, options.network_tier))
    if serve6:
        frontends.append(forwarding_rules.Frontend(ip6, "", spec.internal, subnet6, options.global_access,
                                                   None, "PREMIUM", ipv6=True))

    parts: list[MemberChanges] = []
    port_errors: dict[ServiceRef, dict[PortKey, str]] = {}
    l3_taken = False
    for member, member_spec in zip(wanted, desired.members, strict=True):
        ports = member_spec.ports
        sctp = [p for p in ports if p.protocol == Protocol.SCTP]
        if key.shared and spec.internal and sctp:
            if l3_taken:
                port_errors[member.service] = {p.key: L3_TAKEN for p in sctp}
                ports = tuple(p for p in ports if p.protocol != Protocol.SCTP)
            l3_taken = True
        parts.append(_member_changes(setting, member, member_spec, ports, frontends, network, tags, group_links,
                                     listed_only=key.shared))
    gone = [_member_removal(member) for member in leaving]

    def each(field_name: str, among: list[MemberChanges]) -> list[Change]:
        return [change for part in among for change in getattr(part, field_name)]

    changes = [*each("rule_deletions", parts + gone), *addresses.release_first, *addresses6.release_first,
               *addresses.reserve, *addresses6.reserve, *addresses.labels, *addresses6.labels,
               *each("checks", parts), *groups.before, *each("walls", parts),
               *each("services", parts), *each("rule_creations", parts), *each("rule_labels", parts),
               *each("services", gone), *each("checks", gone), *each("walls", gone), *addresses.release_last,
               *addresses6.release_last, *groups.after]
    wanted_families = families.requested(spec)
    outcome = Outcome(desired.services, ip, names.address, nodes.warnings + family_warnings, port_errors, ip6,
                      ipv6_first=wanted_families[0] == families.IPV6)
    return LoadBalancerPlan(key, tuple(changes), outcome=outcome)


def _member_changes(setting: Setting, member: Member, spec: LoadBalancerSpec, ports: tuple[Port, ...],
                    frontends: list[forwarding_rules.Frontend], network: str | None, tags: list[str],
                    group_links: list[str], *, listed_only: bool) -> MemberChanges:
    """One member's health check, firewalls, backend service and rules on the load balancer's IPs."""
    names, mark, have = member.names, member.mark, member.have
    result = MemberChanges()
    check = health_check.desired(names.health_check, mark, spec.health_check)
    result.checks = health_check.changes(check, have.health_check, mark)
    if network is not None:
        walls: dict[str, firewalls.FirewallRecord | None] = dict.fromkeys(
            (name for name, wall in have.firewalls.items() if wall.mark == mark), None)
        for frontend in frontends:
            v6 = frontend.ipv6
            traffic_name = names.traffic_firewall6 if v6 else names.traffic_firewall
            walls[traffic_name] = firewalls.family_traffic_rule(traffic_name, mark, network, ports, frontend.ip,
                                                               spec.source_ranges, tags, ipv6=v6)
            probes = firewalls.health_check_rule(names.health_check_firewall6 if v6 else names.health_check_firewall,
                                                 mark, network, spec.health_check.port, spec.internal, tags, ipv6=v6)
            walls[probes.name] = probes
        for name, want in sorted(walls.items()):
            result.walls += converge(firewalls.KIND, want, have.firewalls.get(name), mark)
    service_link = setting.regional("backendServices", names.backend_service)
    wanted_rules = [rule for frontend in frontends
                    for rule in forwarding_rules.desired(names, mark, ports,
                                                         dataclasses.replace(frontend, backend_service=service_link),
                                                         listed_only=listed_only)]
    rules = forwarding_rules.changes(wanted_rules, have.rules, mark)
    service = backend_service.desired(names.backend_service, mark, "INTERNAL" if spec.internal else "EXTERNAL",
                                      backend_service.protocol_for(r.protocol for r in wanted_rules),
                                      setting.regional("healthChecks", names.health_check), group_links,
                                      backend_service.session_affinity_for(spec.session_affinity))
    result.services = backend_service.changes(service, have.backend_service, mark)
    result.rule_deletions, result.rule_creations, result.rule_labels = rules.deletions, rules.creations, rules.labels
    return result


def _member_removal(member: Member) -> MemberChanges:
    """Everything of a member that carries its mark: rules first, then its backend service, check and firewalls."""
    mark, have = member.mark, member.have

    def ours(kind: Kind[R], records: Iterable[R | None]) -> list[Change]:
        return [delete(kind, r, f"{member.service} is no longer a member") for r in records
                if r is not None and r.mark == mark]
    return MemberChanges(rule_deletions=ours(forwarding_rules.KIND, have.rules.values()),
                         services=ours(backend_service.KIND, [have.backend_service]),
                         checks=ours(health_check.KIND, [have.health_check]),
                         walls=ours(firewalls.KIND, have.firewalls.values()))


def _removal(setting: Setting, names: LoadBalancerNames, mark: OwnerMark, observed: Observed) -> list[Change]:
    """Everything of the load balancer that carries its mark, dependants first; then groups nobody uses."""
    def ours(kind: Kind[R], records: Iterable[R | None]) -> list[Change]:
        return [delete(kind, r, "not wanted") for r in records if r is not None and r.mark == mark]

    _, members = members_of(setting, observed.key, names, mark, observed, ())
    gone = [_member_removal(member) for member in members]
    if not observed.key.shared:
        # A Service's own load balancer: "not wanted", as the reason always said.
        gone = [MemberChanges(rule_deletions=ours(forwarding_rules.KIND, observed.rules.values()),
                              services=ours(backend_service.KIND, [observed.backend_service]),
                              checks=ours(health_check.KIND, [observed.health_check]),
                              walls=ours(firewalls.KIND, observed.firewalls.values()))]
    changes = [*(c for part in gone for c in part.rule_deletions), *(c for part in gone for c in part.services),
               *(c for part in gone for c in part.checks), *(c for part in gone for c in part.walls),
               *ours(address.KIND, [observed.address, observed.address6])]
    view = observed.cluster
    cluster_mark = OwnerMark(setting.cluster)
    backend_services = {member.names.backend_service for member in members} | {names.backend_service}
    for zone, group in sorted(view.groups.items()):
        if group.mark == cluster_mark and not (view.group_users.get(zone, frozenset()) - backend_services):
            changes.append(delete(instance_groups.KIND, group, "no load balancer uses it", zone=zone))
    return changes
