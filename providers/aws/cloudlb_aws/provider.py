"""``AWSProvider``: Network Load Balancers and Classic ELBs on contract v2 (observe, plan, apply, sweep).

``observe`` answers from the inventory (one sweep fills it; only what a failed
write left uncertain, or what was never read, is read again by name), ``plan``
is pure (``planner``), ``apply`` runs the changes one by one (``writes``),
keeping the inventory in step, and ``sweep`` refreshes everything with list
calls in the biggest pages (``sweep``). So a create or a node change needs no
read while the inventory is fresh.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Hashable, Mapping, Sequence

from cloudlb import problems as p
from cloudlb.changes import Action, Change, ChangePlan, run_changes
from cloudlb.model import (
    DesiredLoadBalancer,
    Ingress,
    LoadBalancerKey,
    LoadBalancerSpec,
    LoadBalancerStatus,
    ServiceRef,
)
from cloudlb.problems import Problem
from cloudlb.provider import (
    Offering,
    Provider,
    ProviderSettings,
    RetryLater,
    Statuses,
    SweepResult,
    attach_statuses,
)
from cloudlb_aws import annotations as a
from cloudlb_aws import (
    classic_attributes,
    frontend_groups,
    ip_address_type,
    ip_targets,
    nlb_attributes,
    reads,
    startup,
    target_nodes,
)
from cloudlb_aws.calls import CallCounter, Clients, create_clients
from cloudlb_aws.capabilities import CAPABILITIES
from cloudlb_aws.inventory import CLASSIC, GROUP, LB, LISTENERS, NODE_GROUP, TARGETS, TG, Inventory, Observed
from cloudlb_aws.naming import backend_group_name, is_cluster_owned, key_ref
from cloudlb_aws.planner import (
    AWSPlan,
    GroupNameUnresolved,
    Lookup,
    Outcome,
    Replan,
    Setting,
    Write,
    candidate_names,
    change,
    kind_for,
    owns_target_group,
    plan,
)
from cloudlb_aws.plugin import DEFAULT_TYPE
from cloudlb_aws.records import tag_tuple
from cloudlb_aws.sweep import sweep
from cloudlb_aws.writes import Writer

logger = logging.getLogger(__name__)


class AWSProvider(Provider[Observed]):
    capabilities = CAPABILITIES

    def __init__(self, settings: ProviderSettings) -> None:
        self.cluster = settings.cluster_name
        # The core passes options by ProviderOption.key; the dashed name is accepted for direct use.
        chosen = settings.options.get(DEFAULT_TYPE.key) or settings.options.get(DEFAULT_TYPE.name)
        default_type = (chosen or a.NLB).strip().lower()
        if default_type not in (a.NLB, a.CLB):
            raise ValueError(f"--{DEFAULT_TYPE.name} must be nlb or clb, not {default_type!r}")
        self.default_type = default_type
        self.setting = Setting(self.cluster, default_type)
        self.calls = CallCounter()
        self.cloud_api = settings.cloud_api
        self.inventory = Inventory(self.cluster)
        self._lock = threading.Lock()
        self._filling = threading.Lock()
        self._looking_up = threading.Lock()
        self._clients: Clients | None = None
        self._writer = Writer(self.clients, self.inventory, self.cluster)

    # -- the parts that need no cloud ----------------------------------------------------------------

    def offering_for(self, spec: LoadBalancerSpec) -> Offering:
        kind = kind_for(spec, self.default_type)
        if kind == a.NLB and ip_targets.target_type(spec.annotations) == ip_targets.IP:
            return ip_targets.NLB_IP_OFFERING
        return CAPABILITIES.offering(kind)

    def validate(self, spec: LoadBalancerSpec) -> Sequence[Problem]:
        parsed = a.parse(spec.annotations, internal=spec.internal)
        found = list(parsed.problems)
        if spec.requested_ips:
            found.append(Problem("spec.loadBalancerIP", p.UNSUPPORTED_OPTION,
                                 "AWS load balancers cannot be given an address this way; use "
                                 f"{a.EIP_ALLOCATIONS} (internet-facing) or {a.PRIVATE_IPV4_ADDRESSES} (internal)",
                                 fatal=True))
        found += target_nodes.parse(spec.annotations)[1]
        found += ip_targets.problems(spec.annotations)
        groups, group_problems = frontend_groups.parse(spec.annotations)
        found += group_problems
        if groups.replace and spec.source_ranges:
            found.append(Problem("spec.loadBalancerSourceRanges", p.UNSUPPORTED_OPTION,
                                 f"not applied: with {frontend_groups.SECURITY_GROUPS} the load balancer's own groups "
                                 "decide who may connect"))
        if self.offering_for(spec).name != a.CLB:
            found += nlb_attributes.parse(spec.annotations).problems
            found += ip_address_type.problems(spec)
            ignored = {f"metadata.annotations[{name}]" for name in classic_attributes.CLASSIC_ONLY}
            # A Classic-only value is still checked (and named when wrong), never fatal here: it is ignored.
            found += [dataclasses.replace(x, fatal=False) for x in classic_attributes.parse(spec.annotations).problems
                      if x.field in ignored]
            for name in classic_attributes.CLASSIC_ONLY:
                if name in spec.annotations:
                    found.append(Problem(f"metadata.annotations[{name}]", p.UNSUPPORTED_OPTION,
                                         "applies to Classic ELBs only; ignored for this Network Load Balancer"))
        else:
            found += classic_attributes.parse(spec.annotations).problems
            for name in (a.EIP_ALLOCATIONS, a.PRIVATE_IPV4_ADDRESSES, *nlb_attributes.NLB_ONLY,
                         ip_address_type.IP_ADDRESS_TYPE, ip_targets.NLB_TARGET_TYPE):
                if name in spec.annotations:
                    found.append(Problem(f"metadata.annotations[{name}]", p.UNSUPPORTED_OPTION,
                                         "applies to Network Load Balancers only; ignored for this Classic ELB"))
        return found

    def node_label_keys(self, annotations: Mapping[str, str]) -> frozenset[str]:
        """The labels of aws-load-balancer-target-node-labels: only their changes re-plan this load balancer."""
        return target_nodes.node_label_keys(annotations)

    def sharing_traits(self, spec: LoadBalancerSpec) -> Hashable:
        """Beyond the core's traits, what AWS sets once per load balancer: its type, subnets, fixed addresses,
        cross-zone balancing and additional tags. Health checks, certificates and TLS ports are per listener."""
        parsed = a.parse(spec.annotations, internal=spec.internal)
        return (super().sharing_traits(spec), parsed.subnets, parsed.eip_allocations, parsed.private_ipv4_addresses,
                parsed.cross_zone, tuple(sorted(parsed.additional_tags.items())), *self._parity_traits(spec))

    @staticmethod
    def _parity_traits(spec: LoadBalancerSpec) -> tuple[Hashable, ...]:
        """Issue 11's load-balancer-wide settings: security groups, attributes, the target type."""
        groups = frontend_groups.parse(spec.annotations)[0]
        return (groups.replace, groups.extra,
                tuple(sorted(nlb_attributes.parse(spec.annotations).load_balancer.items())),
                repr(sorted(classic_attributes.parse(spec.annotations).attributes.items())),
                ip_targets.target_type(spec.annotations), ip_address_type.wanted(spec))

    def plan(self, key: LoadBalancerKey, desired: DesiredLoadBalancer | None, observed: Observed) -> AWSPlan:
        try:
            return plan(self.setting, key, desired, observed)
        except GroupNameUnresolved as error:
            self.inventory.forget_group_names(error.names)  # read again when the slow retry plans it again
            raise

    # -- the cloud ---------------------------------------------------------------------------------

    def check(self) -> None:
        startup.check()
        # Made now, at start-up, rather than at the first sweep: loading the EC2 model takes a second or more.
        self.clients()

    def clients(self) -> Clients:
        """Clients are made on first use, so that the plugin loads and validates without credentials."""
        with self._lock:
            if self._clients is None:
                self._clients = create_clients(self.calls, self.cloud_api)
            return self._clients

    def observe(self, keys: Sequence[LoadBalancerKey]) -> Mapping[LoadBalancerKey, Observed]:
        if not self.inventory.complete:
            with self._filling:
                if not self.inventory.complete:
                    self.sweep()
        self._read_again()
        found: dict[LoadBalancerKey, Observed] = {}
        for key in keys:
            names = list(candidate_names(self.cluster, key_ref(key)))
            owns = owns_target_group(self.cluster, key)
            with self.inventory.lock:
                groups = [g for g in self.inventory.target_groups.records.values() if owns(g)]
            self._read_unknown(names, groups)
            found[key] = self.inventory.observed(key, names, (), owns)
        return found

    def _read_again(self) -> None:
        """What a failed write may have left different from the inventory, read by name."""
        clients = self.clients()
        inventory = self.inventory
        for kind, name in sorted(inventory.take_stale()):
            if kind == LB:
                lb = reads.load_balancer(clients, name)
                inventory.put_load_balancer(lb) if lb else inventory.remove_load_balancer(name)
                if lb is not None:
                    inventory.forget_listeners(lb.arn)
            elif kind == TG:
                group = reads.target_group(clients, name)
                inventory.put_target_group(group) if group else inventory.remove_target_group(name)
                if group is not None:
                    inventory.forget_targets(group.arn)
            elif kind == CLASSIC:
                clb = reads.classic(clients, name)
                inventory.put_classic(clb) if clb else inventory.remove_classic(name)
            elif kind == GROUP:
                ours = [g for g in reads.group_by_name(clients, name) if is_cluster_owned(g.tag_map, self.cluster)]
                inventory.put_group(ours[0]) if ours else inventory.remove_group(name)
            elif kind == NODE_GROUP:
                for record in reads.groups_by_id(clients, [name]).values():
                    inventory.put_node_group(record)
            elif kind in (LISTENERS, TARGETS):
                pass  # forgotten when marked: read below when needed

    def _read_unknown(self, load_balancer_names: Sequence[str], groups: Sequence[object]) -> None:
        """The listeners and targets no read or write of ours has shown yet (after a restart, say)."""
        clients = self.clients()
        for record in self.inventory.unknown_listeners(load_balancer_names):
            found = reads.listeners_of(clients, record.arn)
            if found is None:
                self.inventory.remove_load_balancer(record.name)
            else:
                self.inventory.put_listeners(record.arn, found)
        for group in self.inventory.unknown_targets(groups):  # type: ignore[arg-type]
            targets = reads.targets_of(clients, group.arn)
            if targets is None:
                self.inventory.remove_target_group(group.name)
            else:
                self.inventory.put_targets(group.arn, targets)

    def sweep(self, *, deep: bool = False) -> SweepResult:
        return sweep(self.clients(), self.inventory, self.cluster, deep=deep)

    def _look_up(self, lookups: Sequence[Lookup]) -> None:
        """The facts a plan was missing, each read once even when several plans missed it at once."""
        clients = self.clients()
        with self._looking_up:
            view = self.inventory.cluster_view()
            instances = [x.value for x in lookups if x.what == "instance"
                         and x.value not in view.instances and x.value not in view.missing]
            if instances:
                self.inventory.learned_instances(reads.instances(clients, instance_ids=instances), instances)
            groups = [x.value for x in lookups if x.what == "node-group" and x.value not in view.node_groups]
            for record in reads.groups_by_id(clients, groups).values():
                self.inventory.put_node_group(record)
            subnets = [x.value for x in lookups if x.what == "subnet" and x.value not in view.requested_subnets]
            if subnets:
                self.inventory.learned_subnets(reads.requested_subnets(clients, subnets))
            addresses = [x.value for x in lookups if x.what == "address" and x.value not in view.addresses]
            if addresses:
                self.inventory.learned_addresses(reads.public_ips(clients, addresses))
            names = [x.value for x in lookups if x.what == "group-name" and x.value not in view.named_groups]
            if names:
                self.inventory.learned_group_names(reads.groups_by_name_tag(clients, names))
            for lookup in lookups:
                group = self.inventory.target_groups.records.get(lookup.value)
                if lookup.what == "tg-attributes" and group is not None and group.attributes is None:
                    self.inventory.put_target_group(dataclasses.replace(
                        group, attributes=tag_tuple(reads.target_group_attributes(clients, group.arn))))
                classic = self.inventory.classics.records.get(lookup.value)
                if lookup.what == "clb-attributes" and classic is not None and classic.attributes is None:
                    observed = classic_attributes.normalized(reads.classic_attributes(clients, classic.name))
                    self.inventory.put_classic(dataclasses.replace(classic, attributes=json.dumps(
                        observed, sort_keys=True)))
                balancer = self.inventory.load_balancers.records.get(lookup.value)
                if lookup.what == "lb-attributes" and balancer is not None and balancer.attributes is None:
                    balancer = dataclasses.replace(
                        balancer, attributes=tag_tuple(reads.load_balancer_attributes(clients, balancer.arn)))
                    self.inventory.put_load_balancer(balancer)
                if lookup.what == "cross-zone" and balancer is not None and balancer.cross_zone is None:
                    self.inventory.put_load_balancer(
                        dataclasses.replace(balancer, cross_zone=reads.cross_zone(clients, balancer.arn)))

    # -- writes --------------------------------------------------------------------------------------

    def apply(self, plan: ChangePlan) -> Statuses:
        if isinstance(plan, AWSPlan) and plan.lookups:
            return self._apply_after_reading(plan)
        outcome = plan.outcome if isinstance(plan, AWSPlan) else None
        if isinstance(plan, AWSPlan) and outcome is not None:
            self.inventory.plan_wanted(plan.key, plan.wanted_instances)
            try:
                with self._writer.building(plan.key):
                    run_changes(plan.key, plan.changes, self._writer.run)
            except Exception as error:
                # A listener or tag failed after the load balancer was created: its Services name it meanwhile.
                attach_statuses(error, self._statuses_if_built(outcome))
                raise
        else:
            run_changes(plan.key, plan.changes, self._writer.run)
            # Removals planned at once each saw the others' load balancers: the last to finish finds the
            # cluster's backend group unused (the writer checks again under its lock).
            if plan.changes and not any(c.payload.op == "delete_backend" for c in plan.changes
                                        if isinstance(c.payload, Write)):
                run_changes(plan.key, self._unused_backend(), self._writer.run)
        if outcome is None:
            return {}
        return self._statuses(outcome)

    def _statuses(self, outcome: Outcome) -> Statuses:
        status = self._status(outcome)
        return {service: dataclasses.replace(status, port_errors=dict(outcome.port_errors.get(service, {})))
                for service in outcome.services}

    def _statuses_if_built(self, outcome: Outcome) -> Statuses:
        """The members' statuses when the planned load balancer exists, else none."""
        try:
            return self._statuses(outcome)
        except RetryLater:  # not created yet: there is nothing to name
            return {}

    def collect_garbage(self) -> None:
        """The cluster's backend security group, when no load balancer of the cluster uses it any more."""
        for unused in self._unused_backend():
            logger.info("security group %s: %s; deleting it", unused.name, unused.reason)
            self._writer.run(unused)  # checks again under the writer's lock: a plan building now keeps it

    def _unused_backend(self) -> list[Change]:
        name = backend_group_name(self.cluster)
        view = self.inventory.cluster_view()
        if name not in view.groups or view.load_balancer_count:
            return []
        return [change(Action.DELETE, "security-group", name, "no load balancer of the cluster uses it any more",
                       "delete_backend", (GROUP, name))]

    def _status(self, outcome: Outcome) -> LoadBalancerStatus:
        if outcome.kind == a.CLB:
            classic = self.inventory.classics.records.get(outcome.load_balancer)
            if classic is None:
                raise RetryLater(f"classic load balancer {outcome.load_balancer} is not known after the plan")
            return LoadBalancerStatus(ingress=(Ingress(hostname=classic.dns_name),), warnings=outcome.warnings)
        record = self.inventory.load_balancers.records.get(outcome.load_balancer)
        if record is None:
            raise RetryLater(f"load balancer {outcome.load_balancer} is not known after the plan")
        if outcome.eip_allocations:
            view = self.inventory.cluster_view()
            ips: Sequence[str] = [view.addresses[e] for e in outcome.eip_allocations if e in view.addresses]
        elif outcome.ips is not None:
            ips = outcome.ips
        else:
            ips = record.addresses
        ingress = (Ingress(hostname=record.dns_name), *(Ingress(ip=ip, ip_mode="VIP") for ip in ips))
        return LoadBalancerStatus(ingress=ingress, warnings=outcome.warnings)

    def _apply_after_reading(self, deferred: AWSPlan) -> Statuses:
        """Read what the plan was missing, plan again from the inventory, and apply that plan."""
        [first] = deferred.changes
        replan: Replan = first.payload
        run_changes(deferred.key, deferred.changes, lambda _: self._look_up(replan.lookups))
        again = self.plan(deferred.key, replan.desired, self.observe([deferred.key])[deferred.key])
        if again.lookups:
            raise RetryLater(f"{deferred.key}: still missing after reading: {', '.join(map(str, again.lookups))}")
        deferred.replanned.append(again)
        return self.apply(again)

    def resolve(self, plan: ChangePlan) -> ChangePlan:
        """The facts a deferred plan is missing, read (no write), and the plan made again from the inventory."""
        if not (isinstance(plan, AWSPlan) and plan.lookups):
            return plan
        replan: Replan = plan.changes[0].payload
        self._look_up(replan.lookups)
        return self.plan(plan.key, replan.desired, self.observe([plan.key])[plan.key])

    def retire(self, plan: ChangePlan) -> None:
        """Delete what ``plan`` replaced, once the status names the replacement.

        A plan that had to read first learnt what it replaces only when it was planned again: that
        plan is made once more from the inventory (no read), and its ``retire`` is carried out.
        """
        if isinstance(plan, AWSPlan) and plan.lookups and not plan.replanned:
            replan: Replan = plan.changes[0].payload
            again = self.plan(plan.key, replan.desired, self.observe([plan.key])[plan.key])
            if again.lookups:
                return
            plan = again
        if plan.retiring():
            run_changes(plan.key, plan.retiring(), self._writer.run)

    # -- conveniences over the contract (tests, benchmarks, `cloudlb plan`) ---------------------------

    def ensure_service(self, spec: LoadBalancerSpec) -> LoadBalancerStatus:
        """Observe, plan, apply and retire one Service's own load balancer."""
        return self.ensure(DesiredLoadBalancer.single(spec))[spec.service]

    def delete_service(self, service: ServiceRef) -> None:
        self.delete(LoadBalancerKey.of(service))

    def owned_services(self) -> list[ServiceRef]:
        """Every Service of this cluster with resources in AWS (a fresh sweep)."""
        return sorted(service for services in self.sweep().owned.values() for service in services)


__all__ = ["AWSProvider"]
