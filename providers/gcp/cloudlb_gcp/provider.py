"""The GCP provider: backend-service based passthrough Network Load Balancers, external or internal.

Contract v2: ``observe`` answers from the inventory (a sweep fills it once;
only what a failed write left stale is read again), ``plan`` is pure
(``planner``), ``apply`` carries out the changes one by one (``writes``),
keeping the inventory in step, and ``sweep`` refreshes everything with a
fixed number of list calls (``sweep``). The resource modules under
``resources/`` each decide their own changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Mapping, Sequence

from cloudlb.changes import Change, ChangePlan, run_changes
from cloudlb.model import DesiredLoadBalancer, Ingress, LoadBalancerKey, LoadBalancerSpec, LoadBalancerStatus
from cloudlb.problems import Problem
from cloudlb.provider import Capabilities, CloudStateError, Offering, Provider, RetryLater, Statuses, SweepResult
from cloudlb_gcp import gke_annotations, reads, startup
from cloudlb_gcp.capabilities import CAPABILITIES
from cloudlb_gcp.compute import Compute, ComputeError
from cloudlb_gcp.instances import InstanceRef
from cloudlb_gcp.inventory import Inventory, Observed, Stale
from cloudlb_gcp.names import instance_group_name, names_for_key
from cloudlb_gcp.ownership import OwnerMark
from cloudlb_gcp.planner import LoadBalancerPlan, Lookup, Replan, Setting, plan
from cloudlb_gcp.resources import address, instance_groups
from cloudlb_gcp.resources.common import NEW_ADDRESS_IP, NEW_ADDRESS_IP6, delete
from cloudlb_gcp.sweep import sweep
from cloudlb_gcp.writes import IN_USE, Writer

log = logging.getLogger(__name__)
# Facts a plan may need in turn (a node's instance, then its subnetwork): rounds of reads before giving up.
MAX_LOOKUP_ROUNDS = 3


class GCPProvider(Provider[Observed]):
    capabilities: Capabilities = CAPABILITIES

    def __init__(self, cluster_name: str, compute: Compute) -> None:
        self.cluster_name = cluster_name
        self.compute = compute
        self.setting = Setting(cluster_name, compute.project, compute.region, instance_group_name(cluster_name))
        self.inventory = Inventory(self.setting.group_name, cluster_name)
        self._writer = Writer(compute, self.inventory)
        # Several workers may observe before the first sweep: one of them fills the inventory.
        self._filling = threading.Lock()
        self._looking_up = threading.Lock()

    def offering_for(self, spec: LoadBalancerSpec) -> Offering:
        return self.capabilities.offering("internal" if spec.internal else "external")

    def check(self) -> None:
        startup.check(self.compute)

    def validate(self, spec: LoadBalancerSpec) -> Sequence[Problem]:
        return gke_annotations.validate(spec)

    def sharing_traits(self, spec: LoadBalancerSpec) -> Hashable:
        """Besides the core's traits, what the shared address and its rules are built with once for all members:
        its tier, its subnetwork, the reserved addresses named, global access on the rules of one VIP."""
        options = gke_annotations.read_options(spec.annotations)
        return (super().sharing_traits(spec), gke_annotations.network_tier_of(spec), options.subnet,
                options.global_access, options.address_names)

    def plan(self, key: LoadBalancerKey, desired: DesiredLoadBalancer | None, observed: Observed) -> LoadBalancerPlan:
        try:
            return plan(self.setting, key, desired, observed)
        except CloudStateError as error:
            if error.code == "IPv6NotAvailable":
                # The subnetwork may be made dual-stack meanwhile: the slow retry reads it again.
                self.inventory.forget_subnets()
            raise

    # -- reads ---------------------------------------------------------------------------------------

    def observe(self, keys: Sequence[LoadBalancerKey]) -> Mapping[LoadBalancerKey, Observed]:
        if not self.inventory.complete:
            with self._filling:
                if not self.inventory.complete:
                    self.sweep()
        names = {key: names_for_key(self.cluster_name, key) for key in keys}
        self._read_again(self.inventory.stale(names.values(), shared=[key for key in keys if key.shared]))
        return {key: self.inventory.observed(key, names[key]) for key in keys}

    def _read_again(self, stale: Stale) -> None:
        """What a failed write may have left different from the inventory, read by name."""
        for kind, name in stale.resources:
            record = reads.get(self.compute, kind, name)
            if record is None:
                self.inventory.remove(kind, name)
            else:
                self.inventory.put(kind, record)
        for zone in stale.zones:
            group = reads.group(self.compute, zone, self.setting.group_name)
            if group is None:
                self.inventory.remove_group(zone)
            else:
                self.inventory.put_group(group)

    def sweep(self, *, deep: bool = False) -> SweepResult:
        return sweep(self.compute, self.inventory, self.cluster_name, deep=deep)

    def _look_up(self, lookups: Sequence[Lookup]) -> None:
        """The facts a plan was missing; each is remembered, found or not, so it is read once (also when
        several workers' plans missed the same fact at once)."""
        with self._looking_up:
            view = self.inventory.cluster_view()
            unknown = [lookup for lookup in lookups if not lookup.known(view)]
            # One listing of a zone answers for every instance of it.
            zones: dict[str, list[InstanceRef]] = {}
            for lookup in unknown:
                if lookup.what == "instance":
                    zones.setdefault(lookup.instance.zone, []).append(lookup.instance)
                else:
                    self._read(lookup)
            for zone, wanted in sorted(zones.items()):
                self.inventory.learned_instances(zone, reads.instances(self.compute, zone), wanted)

    def _read(self, lookup: Lookup) -> None:
        if lookup.what == "subnetwork":
            self.inventory.learned_subnet(lookup.value, reads.subnetwork(self.compute, lookup.value))
        elif lookup.what == "address":
            self.inventory.learned_address(lookup.value, reads.get(self.compute, address.KIND, lookup.value))
        else:
            self.inventory.learned_ip(lookup.value, reads.address_holding(self.compute, lookup.value))

    # -- writes --------------------------------------------------------------------------------------

    def apply(self, plan: ChangePlan) -> Statuses:
        if isinstance(plan, LoadBalancerPlan) and plan.lookups:
            return self._apply_after_reading(plan)
        outcome = plan.outcome if isinstance(plan, LoadBalancerPlan) else None
        names = names_for_key(self.cluster_name, plan.key)
        own_addresses = {NEW_ADDRESS_IP: names.address, NEW_ADDRESS_IP6: names.address6}
        dropped: set[str] = set()

        def run(change: Change) -> None:
            dropped.update(self._writer.run(change, own_addresses))
        try:
            run_changes(plan.key, plan.changes, run)
        except CloudStateError as error:
            if isinstance(error.__cause__, ComputeError) and error.__cause__.reason in IN_USE:
                # Something of this load balancer the inventory did not know still uses what was deleted
                # (a listing missed it): read them all again before the next plan.
                self.inventory.mark_load_balancer_stale(names_for_key(self.cluster_name, plan.key), plan.key)
            raise
        # Plans running at once may each have seen the others still using a group they all stopped using;
        # the last to finish finds it unused.
        run_changes(plan.key, self._unused_groups(dropped, plan.changes), run)
        if outcome is None:
            return {}
        ips = [self._placed(ip, own_addresses) for ip in outcome.ips]
        ingress = tuple(Ingress(ip=ip, ip_mode="VIP") for ip in ips)
        return {service: LoadBalancerStatus(ingress=ingress, warnings=outcome.warnings,
                                            port_errors=outcome.port_errors.get(service, {}))
                for service in outcome.services}

    def _placed(self, ip: str, own_addresses: Mapping[str, str]) -> str:
        """The IP a placeholder stands for: that of the address the plan reserved."""
        if ip not in own_addresses:
            return ip
        ours = self.inventory.record(address.KIND, own_addresses[ip])
        if ours is None:
            raise RetryLater(f"address {own_addresses[ip]} is not known after the plan reserved it")
        return ours.ip

    def collect_garbage(self) -> None:
        """The cluster's per-zone instance groups that no backend service uses any more.

        Left when a controller was killed after its last load balancer of a zone went but before the group
        did; the writer checks again under its lock, and Compute refuses to delete a group still in use.
        """
        for unused in self._unused_groups(set(self.inventory.groups()), ()):
            log.info("instance group %s: %s; deleting it", unused.name, unused.reason)
            self._writer.run(unused, {})

    def _unused_groups(self, zones: set[str], planned: Sequence[Change]) -> list[Change]:
        """Deletions of the groups in ``zones`` that no backend service uses now and the plan did not delete."""
        already = {c.name for c in planned if c.resource == instance_groups.KIND.resource}
        users = self.inventory.group_users()
        groups = self.inventory.groups()
        return [delete(instance_groups.KIND, group, "no load balancer uses it any more", zone=zone)
                for zone in sorted(zones) if (group := groups.get(zone)) is not None and not users.get(zone)
                and group.mark == OwnerMark(self.cluster_name) and f"{zone}/{group.name}" not in already]

    def resolve(self, plan: ChangePlan) -> ChangePlan:
        """The facts a deferred plan is missing, read (no write), and the plan made again, in rounds as apply does."""
        for _ in range(MAX_LOOKUP_ROUNDS):
            if not (isinstance(plan, LoadBalancerPlan) and plan.lookups):
                break
            replan: Replan = plan.changes[0].payload
            self._look_up(replan.lookups)
            plan = self.plan(plan.key, replan.desired, self.observe([plan.key])[plan.key])
        return plan

    def _apply_after_reading(self, deferred: LoadBalancerPlan) -> Statuses:
        """Read what the plan was missing, plan again from the inventory, and apply that plan.

        A fact can depend on another (the IPv6 subnetwork is the nodes', known once their instances are):
        a new plan may miss new facts, read in another round; a fact still missing after its read is an error.
        """
        read: set[Lookup] = set()
        planned = deferred
        for _ in range(MAX_LOOKUP_ROUNDS):
            [change] = planned.changes
            replan: Replan = change.payload
            if read & set(replan.lookups):
                break
            wanted = replan.lookups

            def look_up(_: Change, lookups: tuple[Lookup, ...] = wanted) -> None:
                self._look_up(lookups)
            run_changes(planned.key, planned.changes, look_up)
            read |= set(replan.lookups)
            planned = self.plan(deferred.key, replan.desired, self.observe([deferred.key])[deferred.key])
            if not planned.lookups:
                return self.apply(planned)
        raise RetryLater(f"{deferred.key}: still missing after reading: {', '.join(map(str, planned.lookups))}")


__all__ = ["GCPProvider"]
