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

When the plan needs a fact the inventory does not hold (a node's instance no
listing showed yet, a user's reserved address), it is one change that reads
those first and plans again when applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cloudlb.changes import Action, Change, ChangePlan
from cloudlb.model import DesiredLoadBalancer, LoadBalancerKey, LoadBalancerSpec, ServiceRef
from cloudlb.provider import PermanentError, RetryLater
from cloudlb_gcp import gke_annotations
from cloudlb_gcp.instances import InstanceNetwork, InstanceRef, parse_provider_id
from cloudlb_gcp.inventory import ClusterView, Observed
from cloudlb_gcp.names import LoadBalancerNames, names_for_key
from cloudlb_gcp.ownership import OwnerMark
from cloudlb_gcp.resources import address, backend_service, firewalls, forwarding_rules, health_check, instance_groups
from cloudlb_gcp.resources.address import AddressRecord
from cloudlb_gcp.resources.common import NEW_ADDRESS_IP, Kind, R, delete


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

    what: str  # "instance" (its link), "address" or "ip"
    value: str

    def __str__(self) -> str:
        if self.what == "instance":
            return f"instance {self.instance.name} of zone {self.instance.zone}"
        return {"address": "reserved address {}", "ip": "the reserved address of {}"}[self.what].format(self.value)

    @property
    def instance(self) -> InstanceRef:
        _, project, _, zone, _, name = self.value.split("/")
        return InstanceRef(project, zone, name)

    def known(self, view: ClusterView) -> bool:
        """Whether ``view`` holds the fact already (another plan's lookup read it meanwhile)."""
        if self.what == "instance":
            return self.instance in view.instances or self.instance in view.missing
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
    """

    services: tuple[ServiceRef, ...]
    ip: str
    address: str
    warnings: tuple[str, ...] = ()


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
    if len(desired.members) != 1:
        raise PermanentError(f"load balancer {key}: the GCP provider does not share a load balancer between "
                             f"Services yet ({', '.join(map(str, desired.services))})")
    spec = desired.first
    options = gke_annotations.read_options(spec.annotations)
    nodes = eligible_instances(spec, observed.cluster)
    frontend = choose_frontend(setting, spec, options, names, mark, observed)
    lookups = tuple(sorted(set(nodes.lookups) | (set(frontend) if isinstance(frontend, list) else set())))
    if lookups or isinstance(frontend, list):  # (the second says the same to the type checker)
        reason = "to be planned after reading " + ", ".join(map(str, lookups))
        change = Change(Action.UPDATE, "load-balancer", names.base, reason, Replan(desired, lookups))
        return LoadBalancerPlan(key, (change,), lookups=lookups)
    return _building(setting, key, names, mark, spec, options, nodes, frontend, observed)


def eligible_instances(spec: LoadBalancerSpec, view: ClusterView) -> Nodes:
    found: dict[InstanceRef, InstanceNetwork] = {}
    warnings, lookups = [], set()
    for backend in sorted(spec.backends):
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


def _building(setting: Setting, key: LoadBalancerKey, names: LoadBalancerNames, mark: OwnerMark,
              spec: LoadBalancerSpec, options: gke_annotations.GCPOptions, nodes: Nodes, frontend: Frontend,
              observed: Observed) -> LoadBalancerPlan:
    view = observed.cluster
    subnetwork = _subnetwork(setting, options, nodes, observed) if spec.internal else None

    own = address.desired(names.address, mark, spec.internal, subnetwork, frontend.requested_ip,
                          options.network_tier) if frontend.ours else None
    addresses = address.changes(own, observed.address, mark)
    if not frontend.ours:
        ip = frontend.users_ip
    elif addresses.reserve or observed.address is None:
        ip = NEW_ADDRESS_IP
    else:
        ip = observed.address.ip

    check = health_check.desired(names.health_check, mark, spec.health_check)
    checks = health_check.changes(check, observed.health_check, mark)

    wanted = instance_groups.by_zone(nodes.found)
    networks: dict[str, str] = {}
    for ref, instance in sorted(nodes.found.items()):
        networks.setdefault(ref.zone, instance.network)
    used_elsewhere = frozenset(zone for zone, users in view.group_users.items() if users - {names.backend_service})
    cluster_mark = OwnerMark(setting.cluster)
    groups = instance_groups.changes(setting.group_name, cluster_mark, wanted, networks, view.groups, used_elsewhere)

    network = nodes.first.network if nodes.first else next((w.network for w in observed.firewalls.values()), None)
    walls: list[Change] = []
    if network is not None:
        # Upstream targets each node's first network tag.
        tags = sorted({n.tags[0] for n in nodes.found.values() if n.tags})
        traffic = firewalls.traffic_rule(names.traffic_firewall, mark, network, spec.ports, ip, spec.source_ranges,
                                         tags)
        probes = firewalls.health_check_rule(names.health_check_firewall, mark, network, spec.health_check.port,
                                             spec.internal, tags)
        for want in (traffic, probes):
            walls += firewalls.changes(want, observed.firewalls.get(want.name), mark)

    service_link = setting.regional("backendServices", names.backend_service)
    rule_frontend = forwarding_rules.Frontend(ip, service_link, spec.internal, subnetwork, options.global_access,
                                              frontend.users_address, options.network_tier)
    wanted_rules = forwarding_rules.desired(names, mark, spec.ports, rule_frontend)
    rules = forwarding_rules.changes(wanted_rules, observed.rules, mark)
    group_links = [instance_groups.group_link(setting.project, zone, setting.group_name) for zone in wanted]
    service = backend_service.desired(names.backend_service, mark, "INTERNAL" if spec.internal else "EXTERNAL",
                                      backend_service.protocol_for(r.protocol for r in wanted_rules),
                                      setting.regional("healthChecks", names.health_check), group_links)
    services_changes = backend_service.changes(service, observed.backend_service, mark)

    changes = [*rules.deletions, *addresses.release_first, *addresses.reserve, *addresses.labels, *checks,
               *groups.before, *walls, *services_changes, *rules.creations, *rules.labels, *addresses.release_last,
               *groups.after]
    outcome = Outcome((spec.service,), ip, names.address, nodes.warnings)
    return LoadBalancerPlan(key, tuple(changes), outcome=outcome)


def _removal(setting: Setting, names: LoadBalancerNames, mark: OwnerMark, observed: Observed) -> list[Change]:
    """Everything of the load balancer that carries its mark, dependants first; then groups nobody uses."""
    def ours(kind: Kind[R], records: Iterable[R | None]) -> list[Change]:
        return [delete(kind, r, "not wanted") for r in records if r is not None and r.mark == mark]

    changes = [*ours(forwarding_rules.KIND, observed.rules.values()),
               *ours(backend_service.KIND, [observed.backend_service]),
               *ours(health_check.KIND, [observed.health_check]),
               *ours(firewalls.KIND, observed.firewalls.values()),
               *ours(address.KIND, [observed.address])]
    view = observed.cluster
    cluster_mark = OwnerMark(setting.cluster)
    for zone, group in sorted(view.groups.items()):
        if group.mark == cluster_mark and not (view.group_users.get(zone, frozenset()) - {names.backend_service}):
            changes.append(delete(instance_groups.KIND, group, "no load balancer uses it", zone=zone))
    return changes
