"""The AWS provider's ``plan``: desired load balancer + observed inventory -> ordered changes. Pure.

The order is the one in which every step is safe and a quota is met before
anything that could not be finished exists:

1. the cluster's shared backend group, then the node groups' rules admitting it
   (their quota checked first: ``CloudStateError`` before any write);
2. the load balancer's own (frontend) group and its source-range rules;
3. target groups, their health checks and their targets (they exist without a
   load balancer, so a target-group quota stops the plan before the NLB exists);
4. the load balancer, or its security groups, subnets and attributes;
5. listeners: created, switched, removed;
6. the node rules that admitted the load balancer's own group before the shared
   backend group existed (a migration: removed only once the backend rules and
   the load balancer's backend group are in place, so no traffic drops);
7. target groups no listener uses any more, and tags.

What a scheme or type change replaces (AWS changes neither in place) goes in
``retire``: deleted once the status names the new load balancer. Facts the
inventory does not hold yet (a node's instance, an annotated subnet, an Elastic
IP, an attribute) make the plan one change that reads them and plans again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudlb.changes import Action, Change, ChangePlan
from cloudlb.model import DesiredLoadBalancer, LoadBalancerKey, LoadBalancerSpec, PortKey, ServiceRef
from cloudlb.provider import CloudStateError, NotOwnedError, PermanentError
from cloudlb_aws import annotations as a
from cloudlb_aws import (
    attribute_planning,
    classic_attributes,
    classic_planning,
    frontend_groups,
    ip_address_type,
    nlb_attributes,
    placement,
    security,
)
from cloudlb_aws.clb import CLBModel, build_clb_model
from cloudlb_aws.inventory import ClusterView, Observed
from cloudlb_aws.naming import (
    NAME_PREFIX,
    backend_group_name,
    backend_group_tags,
    key_ref,
    key_tags,
    load_balancer_name,
    owned_by,
    security_group_name,
    tags_to_add,
)
from cloudlb_aws.nlb_model import HealthCheckModel, ListenerModel, NLBModel, build_nlb_model
from cloudlb_aws.records import (
    ClassicRecord,
    GroupRule,
    HealthRecord,
    LoadBalancerRecord,
    SecurityGroupRecord,
    Subnet,
    TargetGroupRecord,
)
from cloudlb_aws.tag_record import tags_to_remove

DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
TARGET_BATCH = 100
TAG_BATCH = 20


@dataclass(frozen=True)
class Setting:
    cluster: str
    default_type: str


@dataclass(frozen=True, order=True)
class Ref:
    """A value known only once an earlier change of the plan ran: a group's id, a load balancer's or group's ARN."""

    kind: str  # "group" (security group id by name), "lb" (load balancer ARN by name), "tg" (target group ARN)
    name: str


@dataclass(frozen=True)
class Write:
    """The private payload of a change: the writer's operation and its arguments (which may hold ``Ref``s)."""

    op: str
    args: Mapping[str, Any]
    stale: tuple[str, str]  # what to read again if the write fails: (inventory kind, name)


@dataclass(frozen=True, order=True)
class Lookup:
    """A fact outside the inventory that a plan needs."""

    what: str  # "instance", "node-group", "subnet", "address", "group-name", "cross-zone", ...attributes
    value: str

    def __str__(self) -> str:
        return f"{self.what} {self.value}"


class GroupNameUnresolved(CloudStateError):
    """No group, or several, of the load balancer's VPC carry a Name tag the annotations give.

    The cloud's state, not the Service, may change that (the group is created or re-tagged): retried on
    the slow schedule, with the name read again (the provider forgets what it read).
    """

    def __init__(self, message: str, names: tuple[str, ...]) -> None:
        super().__init__(message, code="InvalidGroup.NotFound")
        self.names = names


@dataclass(frozen=True)
class Replan:
    desired: DesiredLoadBalancer
    lookups: tuple[Lookup, ...]


@dataclass(frozen=True)
class Outcome:
    """What the member Services' status will say once the plan is applied."""

    services: tuple[ServiceRef, ...]
    load_balancer: str
    kind: str  # "nlb" or "clb"
    ips: tuple[str, ...] | None  # fixed addresses; None: those AWS reports for the load balancer
    eip_allocations: tuple[str, ...] = ()
    port_errors: Mapping[ServiceRef, Mapping[PortKey, str]] = field(default_factory=dict)  # by member
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AWSPlan(ChangePlan):
    outcome: Outcome | None = None
    lookups: tuple[Lookup, ...] = ()
    wanted_instances: frozenset[str] = frozenset()
    # A plan with lookups is planned again by apply, after reading: that plan is kept here, so that what it
    # replaces (a load balancer of the other scheme, say) is retired right after the status write.
    replanned: list[AWSPlan] = field(default_factory=list, compare=False, repr=False)

    def retiring(self) -> tuple[Change, ...]:
        return self.replanned[-1].retiring() if self.replanned else self.retire


def change(action: Action, resource: str, name: str, reason: str, op: str, stale: tuple[str, str], /,
           **args: Any) -> Change:
    return Change(action, resource, name, reason, Write(op, args, stale))


def candidate_names(cluster: str, service: ServiceRef) -> dict[str, tuple[str, bool]]:
    """Every load-balancer name the Service may have, with its kind and scheme."""
    return {load_balancer_name(cluster, service, kind, internal): (kind, internal)
            for kind in (a.NLB, a.CLB) for internal in (False, True)}


def kind_for(spec: LoadBalancerSpec, default_type: str) -> str:
    requested = spec.annotations.get(a.TYPE, "").strip().lower()
    if requested == a.CLB or (requested not in a.KNOWN_TYPES and default_type == a.CLB):
        return a.CLB
    return a.NLB


def plan(setting: Setting, key: LoadBalancerKey, desired: DesiredLoadBalancer | None, observed: Observed) -> AWSPlan:
    if desired is None:
        return AWSPlan(key, tuple(_removal(setting, key, observed)))
    if len(desired.members) > 1 and kind_for(desired.first, setting.default_type) == a.CLB:
        raise PermanentError(f"load balancer {key}: a Classic ELB cannot be shared between Services (it has one "
                             f"health check for all its listeners); use a Network Load Balancer "
                             f"({', '.join(map(str, desired.services))})")
    return _Planner(setting, desired, observed).plan()


def _stale_load_balancers(setting: Setting, key: LoadBalancerKey, observed: Observed,
                          current: str | None) -> list[Change]:
    """Deletions of every load balancer of the key but ``current``, and of the target groups on them."""
    retire: list[Change] = []
    arns: set[str] = set()
    for name, (kind, _) in sorted(candidate_names(setting.cluster, key_ref(key)).items()):
        if name == current:
            continue
        nlb = observed.load_balancers.get(name)
        if kind == a.NLB and nlb is not None and owned_by(nlb.tag_map, setting.cluster, key):
            retire.append(change(Action.DELETE, "load-balancer", name, "replaced" if current else "not wanted",
                                 "delete_load_balancer", ("load-balancer", name), name=name))
            arns.add(nlb.arn)
        clb = observed.classics.get(name)
        if kind == a.CLB and clb is not None and owned_by(clb.tag_map, setting.cluster, key):
            retire.append(change(Action.DELETE, "classic-load-balancer", name, "replaced" if current else "not wanted",
                                 "delete_classic", ("classic", name), name=name))
    for group in sorted(observed.target_groups.values(), key=lambda g: g.name):
        if owned_by(group.tag_map, setting.cluster, key) and set(group.load_balancer_arns) & arns:
            retire.append(_delete_target_group(group, "its load balancer was replaced"))
    return retire


def _delete_target_group(group: TargetGroupRecord, reason: str) -> Change:
    return change(Action.DELETE, "target-group", group.name, reason, "delete_target_group",
                  ("target-group", group.name), name=group.name)


def _legacy_node_rules(view: ClusterView, frontend: SecurityGroupRecord | None) -> list[Change]:
    """Node-group rules that admit the load balancer's own group (before the shared backend group existed)."""
    if frontend is None:
        return []
    changes = []
    for group_id, group in sorted(view.node_groups.items()):
        rules = group.rules_from(frontend.group_id)
        if rules:
            changes.append(change(Action.DELETE, "security-group-rules", group_id,
                                  f"admits {frontend.name} directly; the cluster's backend group does that now",
                                  "revoke_node_rules", ("node-group", group_id), group_id=group_id,
                                  rules=tuple(sorted(rules))))
    return changes


def _removal(setting: Setting, key: LoadBalancerKey, observed: Observed) -> list[Change]:
    """Everything of the key that carries its tags, dependants first; then what the cluster shares, if unused."""
    view = observed.cluster
    changes = _stale_load_balancers(setting, key, observed, None)
    done = {c.name for c in changes if c.resource == "target-group"}
    for group in sorted(observed.target_groups.values(), key=lambda g: g.name):
        if group.name not in done and owned_by(group.tag_map, setting.cluster, key):
            changes.append(_delete_target_group(group, "not wanted"))
    frontend = view.groups.get(security_group_name(setting.cluster, key_ref(key)))
    if frontend is not None and owned_by(frontend.tag_map, setting.cluster, key):
        changes += _legacy_node_rules(view, frontend)
        changes.append(change(Action.DELETE, "security-group", frontend.name, "not wanted", "delete_group",
                              ("security-group", frontend.name), name=frontend.name, group_id=frontend.group_id))
    removed = sum(1 for c in changes if c.resource in ("load-balancer", "classic-load-balancer"))
    backend = view.groups.get(backend_group_name(setting.cluster))
    if backend is not None and view.load_balancer_count - removed <= 0:
        changes.append(change(Action.DELETE, "security-group", backend.name,
                              "no load balancer of the cluster uses it any more", "delete_backend",
                              ("security-group", backend.name)))
    return changes


def _health_record(health: HealthCheckModel) -> HealthRecord:
    return HealthRecord(health.protocol, health.port, health.path, health.interval, health.timeout,
                        health.healthy_threshold, health.unhealthy_threshold, health.success_codes)


def health_arguments(health: HealthCheckModel) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": health.protocol,
        "HealthCheckPort": health.port,
        "HealthCheckIntervalSeconds": health.interval,
        "HealthCheckTimeoutSeconds": health.timeout,
        "HealthyThresholdCount": health.healthy_threshold,
        "UnhealthyThresholdCount": health.unhealthy_threshold,
    }
    if health.protocol != "TCP":
        arguments["HealthCheckPath"] = health.path
        arguments["Matcher"] = {"HttpCode": health.success_codes}
    return arguments


def _attribute_map(attributes: tuple[tuple[str, str], ...] | None) -> dict[str, str] | None:
    return None if attributes is None else dict(attributes)


def _differences(pairs: Iterable[tuple[str, object, object]]) -> str:
    return "; ".join(f"{what}: {have} -> {want}" for what, have, want in pairs if have != want)


class _Planner:
    """One plan of one Service's load balancer (a class only to share the many facts between its steps)."""

    def __init__(self, setting: Setting, desired: DesiredLoadBalancer, observed: Observed) -> None:
        self.setting = setting
        self.cluster = setting.cluster
        self.key = desired.key
        self.ref = key_ref(desired.key)  # what the load balancer's names are hashed from
        # The first member's load-balancer-wide settings stand for every member's (the core checked they match).
        self.spec = spec = desired.first
        self.observed = observed
        self.view = observed.cluster
        self.desired = desired
        self.kind = kind_for(spec, setting.default_type)
        self.parsed = a.parse(spec.annotations, internal=spec.internal, kind=self.kind)
        self.attributes = nlb_attributes.parse(spec.annotations)
        self.frontend_groups = frontend_groups.parse(spec.annotations)[0]
        self.classic_settings = classic_attributes.parse(spec.annotations)
        self.lookups: set[Lookup] = set()
        self.warnings: list[str] = []
        self.changes: list[Change] = []
        self.subnets: tuple[Subnet, ...] = ()
        # Each target group's tags: the key's, naming the member Service whose port it serves.
        self.group_tags: dict[str, dict[str, str]] = {}
        # Each target group's attributes, from its own member's annotations (target-group-attributes, proxy-protocol).
        self.group_attributes: dict[str, Mapping[str, str]] = {}
        self.port_errors: dict[ServiceRef, Mapping[PortKey, str]] = {}

    # -- shared steps ----------------------------------------------------------------------------------

    def _check_ours(self, what: str, name: str, tags: Mapping[str, str]) -> None:
        if not owned_by(tags, self.cluster, self.key):
            raise NotOwnedError(f"{what} {name}")

    def _subnets(self) -> tuple[Subnet, ...]:
        if self.parsed.subnets:
            unknown = [s for s in self.parsed.subnets if s not in self.view.requested_subnets]
            self.lookups.update(Lookup("subnet", s) for s in unknown)
            if unknown:
                return ()
            return placement.requested(self.view.requested_subnets, self.parsed.subnets)
        return placement.discovered(self.view.subnets, self.spec.internal, self.cluster)

    def _named_groups_resolved(self) -> frontend_groups.FrontendGroups:
        """security-groups / extra-security-groups with each Name tag turned into the id of the one group of the
        load balancer's VPC that carries it (looked up first when unknown), as the Load Balancer Controller does."""
        groups = self.frontend_groups
        unknown = [name for name in groups.names if name not in self.view.named_groups]
        self.lookups.update(Lookup("group-name", name) for name in unknown)
        if unknown or not groups.names:
            return groups
        vpcs = {subnet.vpc_id for subnet in self.subnets}
        ids: dict[str, str] = {}
        for name in groups.names:
            matches = [gid for gid, vpc in self.view.named_groups[name] if not vpcs or vpc in vpcs]
            if len(matches) != 1:
                found = "no security group" if not matches else f"{len(matches)} security groups ({', '.join(matches)})"
                raise GroupNameUnresolved(
                    f"{found} of the load balancer's VPC carry the Name tag {name!r} "
                    f"({frontend_groups.SECURITY_GROUPS} / {frontend_groups.EXTRA_SECURITY_GROUPS} name groups by id "
                    "or by a Name tag that exactly one group carries); looked up again on the slow retry", (name,))
            ids[name] = matches[0]
        return groups.resolved(ids)

    def _instances(self, wanted: frozenset[str]) -> frozenset[str]:
        """The wanted instances that can be targets; the others are reported (or looked up first)."""
        unknown = sorted(i for i in wanted if i not in self.view.instances and i not in self.view.missing)
        self.lookups.update(Lookup("instance", i) for i in unknown)
        targets = frozenset(i for i in wanted if i in self.view.instances
                            and self.view.instances[i].state in placement.TARGET_STATES)
        left_out = sorted(wanted - targets - set(unknown))
        if left_out:
            self.warnings.append(f"instances {', '.join(left_out)} are not running (or unknown to EC2); "
                                 "they are not registered as targets")
        return targets

    def _node_groups(self, targets: frozenset[str]) -> set[str]:
        instances = {i: self.view.instances[i] for i in targets}
        unknown = {g for record in instances.values() for g in record.security_groups} - set(self.view.node_groups)
        self.lookups.update(Lookup("node-group", g) for g in unknown)
        if unknown:
            return set()
        chosen, undecided = security.node_groups_for(instances, self.view.node_groups, self.cluster)
        if undecided:
            self.warnings.append(f"instances {', '.join(undecided)} have several security groups and none tagged "
                                 f"kubernetes.io/cluster/{self.cluster}; allow the cluster's backend group "
                                 f"{backend_group_name(self.cluster)} on them yourself")
        return chosen

    def _backend(self, node_groups: set[str], target_ports: set[tuple[str, int]]) -> None:
        """The cluster's backend group and the node groups' rules admitting it (quota checked first)."""
        name = backend_group_name(self.cluster)
        backend = self.view.groups.get(name)
        if backend is None:
            vpc = self._vpc()
            self.changes.append(change(Action.CREATE, "security-group", name,
                                       "missing: every load balancer of the cluster carries it", "ensure_backend",
                                       ("security-group", name), name=name, vpc_id=vpc,
                                       tags=backend_group_tags(self.cluster)))
        wanted = security.backend_rules(target_ports, self.cluster)
        for group_id in sorted(node_groups):
            group = self.view.node_groups[group_id]
            missing = security.missing_backend_rules(group, wanted, backend.group_id if backend else None)
            if missing:
                security.check_quota(group, len(missing))
                ranges = ", ".join(f"{r.protocol} {r.from_port}-{r.to_port}" for r in sorted(missing))
                self.changes.append(change(Action.UPDATE, "security-group-rules", group_id,
                                           f"admit the cluster's backend group on {ranges}", "authorize_node_rules",
                                           ("node-group", group_id), group_id=group_id, rules=tuple(sorted(missing))))

    def _vpc(self) -> str:
        subnets = self.subnets
        if subnets:
            return subnets[0].vpc_id
        raise PermanentError("no subnet to learn the VPC from")

    def _frontend(self, listener_ports: Mapping[str, Iterable[int]],
                  tags: Mapping[str, str]) -> SecurityGroupRecord | None:
        name = security_group_name(self.cluster, self.ref)
        have = self.view.groups.get(name)
        dualstack = self.kind == a.NLB and ip_address_type.wanted(self.spec) == ip_address_type.DUALSTACK
        wanted = security.ingress_rules(listener_ports, self.spec.source_ranges or (
            ip_address_type.OPEN_TO_ALL if dualstack else ()))
        if have is None:
            self.changes.append(change(
                Action.CREATE, "security-group", name, "missing", "create_group", ("security-group", name),
                name=name, vpc_id=self._vpc(), tags=dict(tags),
                description=f"cloudlb: load balancer of {_described(self.key)} in cluster {self.cluster}"))
            self.changes.append(change(Action.UPDATE, "security-group-rules", name,
                                       "allow " + ", ".join(sorted(r.cidr for r in wanted)) + " to the listeners",
                                       "authorize", ("security-group", name), group=Ref("group", name),
                                       rules=tuple(sorted(wanted))))
            return None
        self._check_ours("security group", f"{have.group_id} ({name})", have.tag_map)
        add, drop = wanted - have.cidr_rules, have.cidr_rules - wanted
        if add:
            self.changes.append(change(Action.UPDATE, "security-group-rules", name,
                                       "allow " + ", ".join(f"{r.protocol} {r.from_port}-{r.to_port} {r.cidr}"
                                                            for r in sorted(add)),
                                       "authorize", ("security-group", name), group=have.group_id,
                                       rules=tuple(sorted(add))))
        if drop:
            self.changes.append(change(Action.UPDATE, "security-group-rules", name,
                                       "no longer allow " + ", ".join(f"{r.protocol} {r.from_port}-{r.to_port} "
                                                                      f"{r.cidr}" for r in sorted(drop)),
                                       "revoke", ("security-group", name), group=have.group_id,
                                       rules=tuple(sorted(drop))))
        removed = tags_to_remove(tags, have.tag_map)
        if removed:
            self.changes.append(change(Action.UPDATE, "tags", name, "no longer tagged: " + ", ".join(removed),
                                       "untag_group", ("security-group", name), group_id=have.group_id,
                                       keys=removed))
        missing_tags = tags_to_add(tags, have.tag_map)
        if missing_tags:
            self.changes.append(change(Action.UPDATE, "tags", name, "tags: " + ", ".join(sorted(missing_tags)),
                                       "tag_group", ("security-group", name), group_id=have.group_id,
                                       tags=missing_tags))
        return have

    def _group_ids(self) -> list[Any]:
        frontend = self.view.groups.get(security_group_name(self.cluster, self.ref))
        backend = self.view.groups.get(backend_group_name(self.cluster))
        # security-groups replaces cloudlb's own group, extra-security-groups come beside it (frontend_groups).
        return self.frontend_groups.groups(
            frontend.group_id if frontend else Ref("group", security_group_name(self.cluster, self.ref)),
            backend.group_id if backend else Ref("group", backend_group_name(self.cluster)))

    def _nlb_model(self) -> NLBModel:
        """One NLB for every member: each member's listeners, each forwarding to a target group of its own."""
        name = load_balancer_name(self.cluster, self.ref, a.NLB, self.spec.internal)
        tags = key_tags(self.cluster, self.key, extra=self.parsed.additional_tags)
        listeners: list[ListenerModel] = []
        warnings: list[str] = []
        instances: set[str] = set()
        for member in self.desired.members:
            parsed = a.parse(member.annotations, internal=member.internal, kind=a.NLB)
            model = build_nlb_model(member, self.cluster, parsed, name=name, tags=tags)
            listeners += model.listeners
            warnings += [w for w in model.warnings if w not in warnings]
            instances |= model.instance_ids
            self.port_errors[member.service] = model.port_errors
            member_attributes = nlb_attributes.parse(member.annotations).target_group
            for listener in model.listeners:
                self.group_attributes[listener.target_group.name] = member_attributes
                self.group_tags[listener.target_group.name] = key_tags(self.cluster, self.key, member.service,
                                                                       parsed.additional_tags)
        return NLBModel(name=name, internal=self.spec.internal, listeners=tuple(listeners),
                        instance_ids=frozenset(instances), tags=tags, cross_zone=self.parsed.cross_zone,
                        warnings=tuple(warnings))

    def plan(self) -> AWSPlan:
        key = self.desired.key
        model: NLBModel | CLBModel = (self._nlb_model() if self.kind == a.NLB
                                      else build_clb_model(self.spec, self.cluster, self.parsed))
        self.subnets = self._subnets()
        self.frontend_groups = self._named_groups_resolved()
        targets = self._instances(model.instance_ids)
        node_groups = self._node_groups(targets)
        if self.parsed.eip_allocations:
            self.lookups.update(Lookup("address", e) for e in self.parsed.eip_allocations
                                if e not in self.view.addresses)
        if isinstance(model, NLBModel):
            existing = self.observed.load_balancers.get(model.name)
            if (model.cross_zone is not None and existing is not None and existing.cross_zone is None
                    and owned_by(existing.tag_map, self.cluster, self.key)):
                self.lookups.add(Lookup("cross-zone", model.name))
            self._attribute_lookups(model, existing)
        else:
            classic = self.observed.classics.get(model.name)
            if (classic is not None and owned_by(classic.tag_map, self.cluster, self.key)
                    and classic_planning.needs_read(self.classic_settings, classic)):
                self.lookups.add(Lookup("clb-attributes", model.name))
        if self.lookups:
            lookups = tuple(sorted(self.lookups))
            reason = "to be planned after reading " + ", ".join(map(str, lookups))
            return AWSPlan(key, (Change(Action.UPDATE, "load-balancer", model.name, reason,
                                        Replan(self.desired, lookups)),), lookups=lookups)

        self._backend(node_groups, model.target_ports())
        frontend = (self._frontend(model.traffic_ports(), model.tags) if self.frontend_groups.own_group
                    else self.view.groups.get(security_group_name(self.cluster, self.ref)))
        if isinstance(model, NLBModel):
            self._nlb(model, targets)
            ips: tuple[str, ...] | None = None
            if self.parsed.private_ipv4_addresses:
                ips = self.parsed.private_ipv4_addresses
            warnings = [*model.warnings, *self.warnings]
        else:
            self._clb(model, targets)
            ips, warnings = (), list(self.warnings)
        self.changes += _legacy_node_rules(self.view, frontend)
        self._unused_target_groups(model)
        retire = _stale_load_balancers(self.setting, self.key, self.observed, model.name)
        outcome = Outcome(self.desired.services, model.name, self.kind, ips, self.parsed.eip_allocations,
                          dict(self.port_errors), tuple(warnings))
        return AWSPlan(key, tuple(self.changes), tuple(retire), outcome=outcome,
                       wanted_instances=model.instance_ids)

    def _attribute_lookups(self, model: NLBModel, existing: LoadBalancerRecord | None) -> None:
        """The attributes to read before planning: of resources whose Service sets some, or cloudlb set before."""
        if existing is not None and attribute_planning.needs_read(
                self.attributes.load_balancer, existing.tag_map, _attribute_map(existing.attributes)):
            self.lookups.add(Lookup("lb-attributes", model.name))
        for group in model.target_groups:
            have = self.observed.target_groups.get(group.name)
            if have is not None and attribute_planning.needs_read(
                    self._group_attributes(group.name), have.tag_map, _attribute_map(have.attributes)):
                self.lookups.add(Lookup("tg-attributes", group.name))

    def _group_attributes(self, name: str) -> Mapping[str, str]:
        return self.group_attributes.get(name, self.attributes.target_group)

    def _attribute_changes(self, resource: str, name: str, changes: attribute_planning.AttributeChanges,
                           observed: Mapping[str, str], arn: Any) -> None:
        """Attribute writes first, then the record tag naming what cloudlb set (see ``attribute_planning``)."""
        stale = (resource, name)
        if changes.write:
            op = "modify_target_group_attributes" if resource == "target-group" else "modify_load_balancer_attributes"
            self.changes.append(change(Action.UPDATE, resource, name,
                                       "attributes: " + attribute_planning.describe(changes.write, observed), op,
                                       stale, name=name, attributes=dict(changes.write), after=dict(changes.after)))
        if changes.tag:
            self.changes.append(change(Action.UPDATE, "tags", name, "record the attributes cloudlb sets",
                                       "add_tags", stale, arns=(arn,), tags=dict(changes.tag)))
        if changes.untag:
            self.changes.append(change(Action.UPDATE, "tags", name, "no attributes set by cloudlb any more",
                                       "remove_tags", stale, arns=(arn,), keys=(nlb_attributes.MANAGED_TAG,)))

    def _untag(self, name: str, stale: tuple[str, str], arn: str, keys: tuple[str, ...]) -> None:
        """Additional tags cloudlb set and the annotation no longer names (removed before the record changes)."""
        if keys:
            self.changes.append(change(Action.UPDATE, "tags", name, "no longer tagged: " + ", ".join(keys),
                                       "remove_tags", stale, arns=(arn,), keys=keys))

    def _unused_target_groups(self, model: NLBModel | CLBModel) -> None:
        wanted = {listener.target_group.name for listener in model.listeners} if isinstance(model, NLBModel) else set()
        stale_arns = {r.arn for n, r in self.observed.load_balancers.items() if n != model.name}
        for group in sorted(self.observed.target_groups.values(), key=lambda g: g.name):
            if (group.name not in wanted and owned_by(group.tag_map, self.cluster, self.key)
                    and not set(group.load_balancer_arns) & stale_arns):
                self.changes.append(_delete_target_group(group, "no listener forwards to it"))

    # -- Network Load Balancer -------------------------------------------------------------------------

    def _nlb(self, model: NLBModel, targets: frozenset[str]) -> None:
        name = model.name
        have = self.observed.load_balancers.get(name)
        if have is not None:
            self._check_ours("load balancer", name, have.tag_map)
        retag: dict[tuple[tuple[str, str], ...], list[Any]] = {}
        for listener in model.listeners:
            # IP targets (nlb-target-type: ip) are the Pods; the instances then only decide the node rules.
            group = listener.target_group
            wanted = group.targets if group.target_type == "ip" else targets & group.targets
            self._target_group(listener, wanted, model, retag)
        if have is None:
            self._create_nlb(model)
        else:
            self._converge_nlb(model, have, retag)
        self._listeners(model, have)
        for change_key, arns in sorted(retag.items()):
            for start in range(0, len(arns), TAG_BATCH):
                batch = arns[start:start + TAG_BATCH]
                self.changes.append(change(Action.UPDATE, "tags", ", ".join(str(getattr(x, "name", x)) for x in batch),
                                           "tags: " + ", ".join(k for k, _ in change_key), "add_tags",
                                           ("load-balancer", name), arns=tuple(batch), tags=dict(change_key)))

    def _target_group(self, listener: ListenerModel, targets: frozenset[str], model: NLBModel,
                      retag: dict[tuple[tuple[str, str], ...], list[Any]]) -> None:
        group = listener.target_group
        have = self.observed.target_groups.get(group.name)
        stale = ("target-group", group.name)
        if have is None:
            self.changes.append(change(
                Action.CREATE, "target-group", group.name, f"missing (listener {listener.port}/{listener.protocol})",
                "create_target_group", stale, name=group.name,
                arguments={"Name": group.name, "Protocol": group.protocol, "Port": group.node_port,
                           "VpcId": self._vpc(), "TargetType": group.target_type,
                           **health_arguments(group.health)},
                tags={**self.group_tags[group.name],
                      **attribute_planning.creation_tags(self._group_attributes(group.name))}))
            defaults = nlb_attributes.target_group_defaults(ip_targets=group.target_type == "ip",
                                                            protocol=group.protocol)
            self._attribute_changes("target-group", group.name,
                                    attribute_planning.for_new(self._group_attributes(group.name), defaults), defaults,
                                    Ref("tg", group.name))
            registered: frozenset[str] = frozenset()
        else:
            self._check_ours("target group", group.name, have.tag_map)
            wanted_health = _health_record(group.health)
            if have.health != wanted_health:
                reason = _differences((f, getattr(have.health, f), getattr(wanted_health, f))
                                      for f in wanted_health.__dataclass_fields__)
                self.changes.append(change(Action.UPDATE, "target-group", group.name, f"health check: {reason}",
                                           "modify_target_group", stale, name=group.name,
                                           arguments=health_arguments(group.health)))
            self._untag(group.name, ("target-group", group.name), have.arn,
                        tags_to_remove(self.group_tags[group.name], have.tag_map))
            missing_tags = tags_to_add(self.group_tags[group.name], have.tag_map)
            if missing_tags:
                retag.setdefault(tuple(sorted(missing_tags.items())), []).append(have.arn)
            observed = _attribute_map(have.attributes) or {}
            self._attribute_changes("target-group", group.name, attribute_planning.for_existing(
                self._group_attributes(group.name), have.tag_map, _attribute_map(have.attributes),
                nlb_attributes.target_group_defaults(ip_targets=group.target_type == "ip", protocol=group.protocol)),
                observed, have.arn)
            registered = self.observed.targets.get(group.name, frozenset())
        self._targets(group.name, registered, targets)

    def _targets(self, group: str, registered: frozenset[str], wanted: frozenset[str]) -> None:
        for verb, ids, action in (("register_targets", sorted(wanted - registered), "register"),
                                  ("deregister_targets", sorted(registered - wanted), "deregister")):
            for start in range(0, len(ids), TARGET_BATCH):
                batch = tuple(ids[start:start + TARGET_BATCH])
                self.changes.append(change(Action.UPDATE, "targets", group, f"{action} {', '.join(batch)}", verb,
                                           ("targets", group), group=group, targets=batch))

    def _create_nlb(self, model: NLBModel) -> None:
        fixed = self.parsed.eip_allocations or self.parsed.private_ipv4_addresses
        arguments: dict[str, Any] = {"Name": model.name, "Type": "network",
                                     "IpAddressType": self._ip_address_type(),
                                     "Scheme": "internal" if model.internal else "internet-facing"}
        if fixed:
            if len(fixed) != len(self.subnets):
                raise PermanentError(f"{len(fixed)} addresses are annotated for {len(self.subnets)} subnets "
                                     f"({', '.join(s.subnet_id for s in self.subnets)}); they must be one per subnet")
            field_name = "AllocationId" if self.parsed.eip_allocations else "PrivateIPv4Address"
            arguments["SubnetMappings"] = [{"SubnetId": subnet.subnet_id, field_name: address}
                                           for subnet, address in zip(self.subnets, fixed, strict=True)]
        else:
            arguments["Subnets"] = [s.subnet_id for s in self.subnets]
        self.changes.append(change(Action.CREATE, "load-balancer", model.name,
                                   "missing" + (" (replaces another of the Service)" if self._replacing(model.name)
                                                else ""),
                                   "create_load_balancer", ("load-balancer", model.name), name=model.name,
                                   arguments=arguments, groups=self._group_ids(),
                                   tags={**model.tags,
                                         **attribute_planning.creation_tags(self.attributes.load_balancer)}))
        defaults = nlb_attributes.load_balancer_defaults()
        self._attribute_changes("load-balancer", model.name,
                                attribute_planning.for_new(self.attributes.load_balancer, defaults), defaults,
                                Ref("lb", model.name))
        if model.cross_zone:
            self.changes.append(change(Action.UPDATE, "load-balancer", model.name, "cross-zone: false -> true",
                                       "set_cross_zone", ("load-balancer", model.name), name=model.name, value=True))

    def _replacing(self, name: str) -> bool:
        return any(n != name for n in [*self.observed.load_balancers, *self.observed.classics])

    def _ip_address_type(self) -> str:
        """ipv4 or dualstack (ip_address_type); dual-stack needs an IPv6 CIDR on every subnet."""
        wanted = ip_address_type.wanted(self.spec)
        missing = ip_address_type.subnets_without_ipv6(self.subnets) if wanted == ip_address_type.DUALSTACK else []
        if missing:
            raise CloudStateError(f"a dual-stack load balancer needs an IPv6 CIDR on each of its subnets; "
                                  f"{', '.join(missing)} have none (associate one, or ask for "
                                  f"{ip_address_type.IP_ADDRESS_TYPE}: ipv4)",
                                  code=ip_address_type.SUBNET_WITHOUT_IPV6)
        return wanted

    def _converge_nlb(self, model: NLBModel, have: LoadBalancerRecord,
                      retag: dict[tuple[tuple[str, str], ...], list[Any]]) -> None:
        stale = ("load-balancer", model.name)
        address_type = self._ip_address_type()
        if have.ip_address_type != address_type:
            self.changes.append(change(Action.UPDATE, "load-balancer", model.name,
                                       f"IP address type: {have.ip_address_type} -> {address_type}",
                                       "set_ip_address_type", stale, name=model.name, value=address_type))
        groups = self._group_ids()
        if any(isinstance(g, Ref) for g in groups) or set(groups) != set(have.security_groups):
            self.changes.append(change(Action.UPDATE, "load-balancer", model.name,
                                       f"security groups: {', '.join(have.security_groups) or 'none'} -> "
                                       "its own and the cluster's backend group",
                                       "set_security_groups", stale, name=model.name, groups=groups))
        fixed = self.parsed.eip_allocations or self.parsed.private_ipv4_addresses
        wanted_subnets = tuple(sorted(s.subnet_id for s in self.subnets))
        if not fixed and have.subnets and have.subnets != wanted_subnets:
            self.changes.append(change(Action.UPDATE, "load-balancer", model.name,
                                       f"subnets: {', '.join(have.subnets)} -> {', '.join(wanted_subnets)}",
                                       "set_subnets", stale, name=model.name, subnets=wanted_subnets))
        if model.cross_zone is not None and have.cross_zone != model.cross_zone:
            self.changes.append(change(Action.UPDATE, "load-balancer", model.name,
                                       f"cross-zone: {str(have.cross_zone).lower()} -> {str(model.cross_zone).lower()}",
                                       "set_cross_zone", stale, name=model.name, value=model.cross_zone))
        self._untag(model.name, stale, have.arn, tags_to_remove(model.tags, have.tag_map))
        missing_tags = tags_to_add(model.tags, have.tag_map)
        if missing_tags:
            retag.setdefault(tuple(sorted(missing_tags.items())), []).insert(0, have.arn)
        self._attribute_changes("load-balancer", model.name, attribute_planning.for_existing(
            self.attributes.load_balancer, have.tag_map, _attribute_map(have.attributes),
            nlb_attributes.load_balancer_defaults()), _attribute_map(have.attributes) or {}, have.arn)

    def _listeners(self, model: NLBModel, have: LoadBalancerRecord | None) -> None:
        observed = dict(self.observed.listeners.get(model.name, {})) if have is not None else {}
        for listener in model.listeners:
            group = listener.target_group.name
            existing = self.observed.target_groups.get(group)
            group_arn: Any = existing.arn if existing is not None else Ref("tg", group)
            certificate = listener.certificate
            policy = (listener.ssl_policy or DEFAULT_SSL_POLICY) if listener.protocol == "TLS" else None
            arguments: dict[str, Any] = {"Protocol": listener.protocol, "Port": listener.port,
                                         "DefaultActions": [{"Type": "forward", "TargetGroupArn": group_arn}]}
            if certificate is not None:
                arguments["Certificates"] = [{"CertificateArn": certificate}]
                arguments["SslPolicy"] = policy
            current = observed.pop(listener.port, None)
            if current is None:
                self.changes.append(change(Action.CREATE, "listener", f"{model.name}:{listener.port}",
                                           f"missing ({listener.protocol} -> {group})", "create_listener",
                                           ("listeners", model.name), load_balancer=model.name, arguments=arguments))
                continue
            reason = _differences([
                ("protocol", current.protocol, listener.protocol),
                ("target group", current.target_group_arn, group_arn if existing is not None else group),
                ("certificate", current.certificates if certificate else (), (certificate,) if certificate else ()),
                ("TLS policy", current.ssl_policy if policy else None, policy)])
            if reason:
                self.changes.append(change(Action.UPDATE, "listener", f"{model.name}:{listener.port}", reason,
                                           "modify_listener", ("listeners", model.name), load_balancer=model.name,
                                           listener_arn=current.arn, arguments=arguments))
        for port, unwanted in sorted(observed.items()):
            self.changes.append(change(Action.DELETE, "listener", f"{model.name}:{port}", "no Service port",
                                       "delete_listener", ("listeners", model.name), load_balancer=model.name,
                                       listener_arn=unwanted.arn, port=port))

    # -- Classic ELB -----------------------------------------------------------------------------------

    def _clb(self, model: CLBModel, targets: frozenset[str]) -> None:
        name = model.name
        stale = ("classic", name)
        have: ClassicRecord | None = self.observed.classics.get(name)
        subnets = tuple(sorted(s.subnet_id for s in self.subnets))
        if have is None:
            arguments: dict[str, Any] = {"LoadBalancerName": name,
                                         "Listeners": [listener.as_aws() for listener in sorted(model.listeners)],
                                         "Subnets": list(subnets)}
            if model.internal:
                arguments["Scheme"] = "internal"
            self.changes.append(change(Action.CREATE, "classic-load-balancer", name, "missing", "create_classic",
                                       stale, name=name, arguments=arguments, groups=self._group_ids(),
                                       tags={**model.tags, **classic_planning.creation_tags(self.classic_settings)}))
            self.changes.append(change(Action.UPDATE, "classic-load-balancer", name,
                                       f"health check {model.health.target}", "configure_health_check", stale,
                                       name=name, health=model.health.as_aws()))
            self._classic_settings(name, classic_planning.plan(
                self.classic_settings, None, {x.instance_port for x in model.listeners}))
            self._instances_of(name, frozenset(), targets)
            return
        self._check_ours("classic load balancer", name, have.tag_map)
        by_port = {listener.port: listener for listener in have.listeners}
        wanted = {listener.port: listener for listener in model.listeners}
        stale_ports = sorted(port for port, listener in by_port.items() if wanted.get(port) != listener)
        missing = sorted(listener for port, listener in wanted.items() if by_port.get(port) != listener)
        if stale_ports:
            self.changes.append(change(Action.DELETE, "listener", f"{name}:{','.join(map(str, stale_ports))}",
                                       "no Service port, or changed", "delete_classic_listeners", stale, name=name,
                                       ports=tuple(stale_ports)))
        if missing:
            self.changes.append(change(Action.CREATE, "listener", f"{name}:{','.join(str(m.port) for m in missing)}",
                                       "missing", "create_classic_listeners", stale, name=name,
                                       listeners=tuple(m.as_aws() for m in missing)))
        if have.health != model.health:
            self.changes.append(change(Action.UPDATE, "classic-load-balancer", name,
                                       f"health check {have.health.target if have.health else 'none'} -> "
                                       f"{model.health.target}", "configure_health_check", stale, name=name,
                                       health=model.health.as_aws()))
        self._instances_of(name, have.instances, targets)
        self._classic_settings(name, classic_planning.plan(
            self.classic_settings, have, {x.instance_port for x in model.listeners}))
        if have.subnets != subnets:
            add, drop = sorted(set(subnets) - set(have.subnets)), sorted(set(have.subnets) - set(subnets))
            # Attach before detaching, so that the load balancer always keeps a subnet in some zone.
            if add:
                self.changes.append(change(Action.UPDATE, "classic-load-balancer", name, f"attach {', '.join(add)}",
                                           "attach_subnets", stale, name=name, subnets=tuple(add)))
            if drop:
                self.changes.append(change(Action.UPDATE, "classic-load-balancer", name,
                                           f"detach {', '.join(drop)}", "detach_subnets", stale, name=name,
                                           subnets=tuple(drop)))
        groups = self._group_ids()
        if any(isinstance(g, Ref) for g in groups) or set(groups) != set(have.security_groups):
            self.changes.append(change(Action.UPDATE, "classic-load-balancer", name,
                                       "security groups: its own and the cluster's backend group",
                                       "apply_classic_groups", stale, name=name, groups=groups))
        removed = tags_to_remove(model.tags, have.tag_map)
        if removed:
            self.changes.append(change(Action.UPDATE, "tags", name, "no longer tagged: " + ", ".join(removed),
                                       "untag_classic", stale, name=name, keys=removed))
        missing_tags = tags_to_add(model.tags, have.tag_map)
        if missing_tags:
            self.changes.append(change(Action.UPDATE, "tags", name, "tags: " + ", ".join(sorted(missing_tags)),
                                       "tag_classic", stale, name=name, tags=missing_tags))

    def _classic_settings(self, name: str, planned: classic_planning.ClassicChanges) -> None:
        """Attributes, the proxy-protocol policy on the instance ports, then the record tag (classic_planning)."""
        stale = ("classic", name)
        if planned.attributes:
            self.changes.append(change(Action.UPDATE, "classic-load-balancer", name,
                                       "attributes: " + ", ".join(f"{k} {v}" for k, v in sorted(
                                           planned.attributes.items())),
                                       "modify_classic_attributes", stale, name=name,
                                       attributes=dict(planned.attributes), after=planned.after))
        if planned.create_policy:
            policy_name = f"{name}:{classic_attributes.PROXY_PROTOCOL_POLICY}"
            self.changes.append(change(Action.CREATE, "classic-policy", policy_name,
                                       "proxy-protocol: \"*\"", "create_proxy_policy", stale, name=name,
                                       policy=classic_attributes.PROXY_PROTOCOL_POLICY,
                                       policy_type=classic_attributes.PROXY_PROTOCOL_POLICY_TYPE))
        for port, policies in sorted(planned.backend_policies.items()):
            self.changes.append(change(Action.UPDATE, "classic-backend", f"{name}:{port}",
                                       f"backend policies: {', '.join(policies) or 'none'}", "set_backend_policies",
                                       stale, name=name, port=port, policies=policies))
        if planned.tag:
            self.changes.append(change(Action.UPDATE, "tags", name, "record the attributes cloudlb sets",
                                       "tag_classic", stale, name=name, tags=dict(classic_planning.RECORD)))
        if planned.untag:
            self.changes.append(change(Action.UPDATE, "tags", name, "no attributes set by cloudlb any more",
                                       "untag_classic", stale, name=name, keys=(nlb_attributes.MANAGED_TAG,)))

    def _instances_of(self, name: str, registered: frozenset[str], wanted: frozenset[str]) -> None:
        for verb, ids, action in (("register_instances", sorted(wanted - registered), "register"),
                                  ("deregister_instances", sorted(registered - wanted), "deregister")):
            for start in range(0, len(ids), TARGET_BATCH):
                batch = tuple(ids[start:start + TARGET_BATCH])
                self.changes.append(change(Action.UPDATE, "targets", name, f"{action} {', '.join(batch)}", verb,
                                           ("classic", name), name=name, targets=batch))


def _described(key: LoadBalancerKey) -> str:
    return f"Service {key.service}" if key.service is not None else f"the Services sharing {key}"


def owns_target_group(cluster: str, key: LoadBalancerKey) -> Callable[[TargetGroupRecord], bool]:
    def owns(group: TargetGroupRecord) -> bool:
        return group.name.startswith(NAME_PREFIX) and owned_by(group.tag_map, cluster, key)
    return owns


__all__ = ["AWSPlan", "GroupRule", "Lookup", "Outcome", "Ref", "Replan", "Setting", "Write", "plan"]

