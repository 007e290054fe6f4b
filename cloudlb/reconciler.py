"""Level-triggered reconciliation of one cloud load balancer at a time.

Every trigger (a Service event, a node-set change, a retry, drift found by the
sweep) only puts a load-balancer key on the work queue; a worker then
recomputes the desired state of that load balancer from the latest cached
Services and nodes, asks the provider for a plan against what it observed,
applies it, and writes each member Service's status. Most keys are one
Service's own load balancer; a shared one (``cloudlb.io/share-key``) has
several member Services. Provider calls are blocking SDK calls and run in a
bounded thread pool, so the event loop (watches, leadership, probes) never
stalls on the cloud.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kopf._cogs.clients import errors as kopf_errors

from cloudlb import events, logs, sharing
from cloudlb.changes import ChangePlan, made_progress
from cloudlb.config import ControllerConfig
from cloudlb.desired import NO_SERVABLE_PORTS, DesiredState, MemberOutcome, desired_state, label_keys
from cloudlb.endpoints import EndpointCache, ServiceEndpoints
from cloudlb.events import EventRecorder
from cloudlb.kube import KubeClient, ServiceConflict, ServiceGone, ServiceInvalid
from cloudlb.memory import release_freed_heap, slim_service
from cloudlb.metrics import Metrics
from cloudlb.model import (
    FINALIZER,
    Backend,
    DesiredLoadBalancer,
    LoadBalancerKey,
    LoadBalancerSpec,
    LoadBalancerStatus,
    ServiceRef,
)
from cloudlb.nodes import eligible_backends, slim
from cloudlb.problems import Problem
from cloudlb.provider import (
    CloudStateError,
    NotOwnedError,
    PermanentError,
    Provider,
    ProviderError,
    RetryLater,
    SweepResult,
    attached_statuses,
)
from cloudlb.status import REPLACING, SYNCED_CONDITION, cleared_status, desired_status, status_differs
from cloudlb.translate import service_ref
from cloudlb.workqueue import Backoff, WorkQueue

logger = logging.getLogger(__name__)
T = TypeVar("T")
TAKEOVER_REFUSED = "LoadBalancerNotAdopted"
# Reconciles in a row after which a drained queue hands freed heap back to the system (see cloudlb.memory).
HEAP_TRIM_BURST = 50


def is_load_balancer(service: Mapping[str, Any]) -> bool:
    return (service.get("spec") or {}).get("type") == "LoadBalancer"


def class_matches(service: Mapping[str, Any], config: ControllerConfig) -> bool:
    """Ours: our class, or no class when told to serve unclassed Services (no cloud-controller-manager does)."""
    cls = (service.get("spec") or {}).get("loadBalancerClass")
    if cls is None:
        return config.serve_unclassed
    return bool(cls == config.effective_class)


def has_finalizer(service: Mapping[str, Any]) -> bool:
    return FINALIZER in ((service.get("metadata") or {}).get("finalizers") or [])


def settled(service: Mapping[str, Any]) -> bool:
    """The status says the load balancer matched the Service at its current generation (only a re-check left)."""
    if is_leaving(service):
        return False
    generation = (service.get("metadata") or {}).get("generation")
    for found in (service.get("status") or {}).get("conditions") or []:
        if isinstance(found, Mapping) and found.get("type") == SYNCED_CONDITION:
            return found.get("status") == "True" and found.get("observedGeneration") == generation
    return False


def is_leaving(service: Mapping[str, Any]) -> bool:
    """Being deleted, or no longer of type LoadBalancer: its part of the cloud must go."""
    return bool((service.get("metadata") or {}).get("deletionTimestamp")) or not is_load_balancer(service)


def input_digest(service: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a reconcile depends on.

    Our own writes (status, our finalizer) do not count, so they neither trigger
    a reconcile nor cut short the backoff of a failing one.
    """
    metadata = service.get("metadata") or {}
    return (repr(service.get("spec")), repr(sorted((metadata.get("annotations") or {}).items())),
            metadata.get("deletionTimestamp"), metadata.get("uid"))


def ingress_addresses(service: Mapping[str, Any]) -> list[str]:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(address) for entry in ingress if (address := entry.get("hostname") or entry.get("ip"))]


@dataclass
class ServiceState:
    """What the controller remembers about one Service between reconciles (memory only)."""

    seen_digest: tuple[Any, ...] | None = None
    # The spec last applied for this Service; kept while its input is unusable (a typo never removes a port).
    ensured: LoadBalancerSpec | None = None
    warned: frozenset[Problem] = field(default_factory=frozenset)
    refused_takeover: bool = False


@dataclass
class KeyState:
    """What the controller remembers about one load balancer between reconciles."""

    # The desired state (with each member's outcome) that failed with a configuration error: not
    # retried until a member Service or the nodes change it.
    failed: tuple[DesiredLoadBalancer | None, tuple[tuple[ServiceRef, MemberOutcome], ...]] | None = None
    # The backends it was last planned with (carrying the labels it selects by), so that a node change
    # re-plans only what it affects.
    backends: tuple[Backend, ...] | None = None
    label_keys: frozenset[str] = frozenset()
    # The ready endpoints it was last planned with, for members whose offering targets endpoints.
    endpoints: dict[ServiceRef, ServiceEndpoints] = field(default_factory=dict)


@dataclass(frozen=True)
class Member:
    """One Service of the key in this reconcile, as cached from its last event."""

    ref: ServiceRef
    service: dict[str, Any]


class Reconciler:
    def __init__(self, config: ControllerConfig, provider: Provider[Any], metrics: Metrics) -> None:
        self.config = config
        self.provider = provider
        self.metrics = metrics
        self.sharing = sharing.parse_policy(config.share_namespaces)
        self.services: dict[ServiceRef, dict[str, Any]] = {}
        self.key_of: dict[ServiceRef, LoadBalancerKey] = {}
        self._reconciles_since_trim = 0
        self.members: dict[LoadBalancerKey, set[ServiceRef]] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.backends: tuple[Backend, ...] = ()
        # Backend sets by the node labels they carry, rebuilt after each node change (most keys select by none).
        self._backends_by_labels: dict[frozenset[str], tuple[Backend, ...]] = {}
        self.endpoints = EndpointCache()
        self.states: dict[ServiceRef, ServiceState] = {}
        self.keys: dict[LoadBalancerKey, KeyState] = {}
        # Load balancers the cloud holds for this cluster: from the sweeps, kept in step with our own writes.
        self.owned: dict[LoadBalancerKey, frozenset[ServiceRef]] = {}
        self.last_sweep: SweepResult | None = None
        self.queue: WorkQueue[LoadBalancerKey] = WorkQueue()
        self.backoff: Backoff[LoadBalancerKey] = Backoff(config.backoff_base, config.backoff_cap)
        self.executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="cloudlb-provider")
        self.kube: KubeClient | None = None
        self._recorder: EventRecorder | None = None
        self.synced: asyncio.Event | None = None
        # Set while this replica may act (see cloudlb.leadership); standalone runs set it at once.
        self.active: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)

    def connect(self, kube: KubeClient, recorder: EventRecorder, active: asyncio.Event) -> None:
        """Called at operator startup; API calls wait until kopf has logged in."""
        self.loop = asyncio.get_running_loop()
        self.kube = kube
        self._recorder = recorder
        self.active = active
        self.synced = asyncio.Event()

    async def sync_nodes(self) -> None:
        """List the nodes once before any worker runs.

        Otherwise a Service seen before the node watch caught up would be
        ensured with an empty backend set and a false "no nodes" Warning.
        """
        assert self.kube is not None
        while True:
            try:
                nodes = await self.kube.list_nodes()
                break
            except Exception as exc:  # the API server may not be reachable yet; nothing runs until it is
                logger.warning("could not list nodes, retrying in 5s: %s", exc)
                await asyncio.sleep(5)
        for node in nodes:
            self.nodes[str(node["metadata"]["name"])] = slim(node)
        self._nodes_changed()

    def _nodes_changed(self) -> None:
        self.backends = eligible_backends(self.nodes.values())
        self._backends_by_labels = {frozenset(): self.backends}

    def backends_for(self, label_keys: frozenset[str]) -> tuple[Backend, ...]:
        """The eligible nodes as backends carrying these labels (cached until the nodes change)."""
        backends = self._backends_by_labels.get(label_keys)
        if backends is None:
            backends = self._backends_by_labels[label_keys] = eligible_backends(self.nodes.values(), label_keys)
        return backends

    def mark_synced(self) -> None:
        """Nodes are listed and the provider's inventory is warm: workers may start."""
        assert self.synced is not None
        self.synced.set()

    @property
    def recorder(self) -> EventRecorder:
        assert self._recorder is not None, "connect() is called at startup"
        return self._recorder

    # --- triggers -------------------------------------------------------------------------

    def on_service_event(self, event_type: str | None, service: Mapping[str, Any]) -> None:
        ref = service_ref(service)
        before = self.key_of.get(ref)
        if event_type == "DELETED" or not (is_load_balancer(service) or has_finalizer(service)):
            # Only Services that want a load balancer, or still hold our finalizer, are kept:
            # a large cluster's ClusterIP Services cost no memory here.
            self.services.pop(ref, None)
            self.states.pop(ref, None)
            self._leave(ref)
            if before is not None and self.members.get(before):
                self.queue.add(before)  # the others of a shared load balancer lose this member's ports
            return
        self.services[ref] = slim_service(service)
        key = sharing.key_for(service, self.sharing)
        if key != before:
            self._leave(ref)
            self.key_of[ref] = key
            self.members.setdefault(key, set()).add(ref)
        state = self.states.setdefault(ref, ServiceState())
        digest = input_digest(service)
        if digest != state.seen_digest or key != before:
            # A Service first seen in a listing (no event type) is most likely served already: re-checking it
            # waits behind every Service created or edited since (a replica taking the lease holds the whole
            # cluster in its queue). A change a re-listing reveals is a change.
            low = event_type is None and state.seen_digest is None
            state.seen_digest = digest
            self.queue.add(key, low=low)
            if before is not None and key != before:
                self.queue.add(before)  # the load balancer it leaves drops its ports (or goes)

    def _leave(self, ref: ServiceRef) -> None:
        key = self.key_of.pop(ref, None)
        if key is not None:
            self.members.get(key, set()).discard(ref)
            if not self.members.get(key):
                self.members.pop(key, None)

    def on_node_event(self, event_type: str | None, node: Mapping[str, Any]) -> None:
        name = str((node.get("metadata") or {}).get("name", ""))
        if event_type == "DELETED":
            self.nodes.pop(name, None)
        else:
            self.nodes[name] = slim(node)
        self._nodes_changed()
        # Only the load balancers whose backend set (with the labels they select by) really differs are
        # touched: a status or unrelated label change re-plans nothing.
        for key, state in self.keys.items():
            if state.backends is not None and state.backends != self.backends_for(state.label_keys):
                self.queue.add(key)

    def on_endpoint_slice_event(self, event_type: str | None, endpoint_slice: Mapping[str, Any]) -> None:
        """Re-plan the load balancer of the Service only if it targets endpoints and they changed."""
        ref = self.endpoints.update(event_type, endpoint_slice)
        key = self.key_of.get(ref) if ref is not None else None
        state = self.keys.get(key) if key is not None else None
        if ref is None or key is None or state is None or ref not in state.endpoints:
            return  # not ours, not planned yet (its first plan reads the latest), or it targets nodes
        if state.endpoints[ref] != self.endpoints.of(ref):
            self.queue.add(key)

    def requeue(self, keys: Sequence[LoadBalancerKey], *, low: bool = False) -> None:
        """Re-plan these load balancers (drift found by a sweep); keys of no live Service go to GC.

        ``low``: a re-check, after every change waiting (see ``WorkQueue``)."""
        if self.active is not None and not self.active.is_set():
            return
        for key in keys:
            if key in self.members:
                self.queue.add(key, low=low)

    def resync_all(self) -> None:
        """Re-plan every load balancer (tests and operators force a full re-sync this way), after any change.

        On taking the lease: what the previous leader finished (each Service synced at its current generation)
        is only re-checked, after whatever it left undone, however this replica saw the changes while standing
        by (a Service created meanwhile must not wait behind the whole cluster)."""
        self.requeue(list(self.members), low=True)

        def urgent(key: LoadBalancerKey) -> bool:
            refs = self.members.get(key)
            return not refs or not all(settled(self.services.get(ref) or {}) for ref in refs)

        self.queue.prioritise(urgent)

    # --- the work -------------------------------------------------------------------------

    async def run_worker(self) -> None:
        assert self.synced is not None
        await self.synced.wait()
        assert self.active is not None
        while True:
            # A paused replica keeps its queue but does not act on it; a worker takes a key only once active,
            # so that the first keys a new leader handles are the most urgent then, not those of its start.
            await self.active.wait()
            key = await self.queue.get()
            await self.active.wait()  # paused again while waiting for a key: it keeps the key until active
            started = time.monotonic()
            try:
                await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except Exception:  # one load balancer's failure must never stop the worker
                logger.exception("unexpected error reconciling %s", key, extra={"service": str(key)})
                self.metrics.reconciles.labels("error").inc()
                self.queue.add_after(key, self.backoff.next_delay(key))
            finally:
                self.queue.done(key)
                self.metrics.reconcile_seconds.observe(time.monotonic() - started)
                self.metrics.queue_depth.set(self.queue.pending())
                self._release_heap_after_burst()

    def _release_heap_after_burst(self) -> None:
        """When a burst of reconciles (a start-up re-sync, a node change over every load balancer) has drained
        the queue, hand the heap its cloud answers left back to the system; single changes do not pay for it."""
        self._reconciles_since_trim += 1
        if self._reconciles_since_trim >= HEAP_TRIM_BURST and self.queue.pending() == 0:
            self._reconciles_since_trim = 0
            release_freed_heap()

    async def call(self, method: str, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking provider method in the worker pool, counting its outcome."""
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self.executor, fn, *args)
        except Exception as exc:
            self.metrics.provider_calls.labels(method, type(exc).__name__).inc()
            raise
        self.metrics.provider_calls.labels(method, "ok").inc()
        return result

    def _observe_and_plan(self, key: LoadBalancerKey, desired: DesiredLoadBalancer | None) -> ChangePlan:
        observed = self.provider.observe([key])[key]
        return self.provider.plan(key, desired, observed)

    async def reconcile(self, key: LoadBalancerKey) -> None:
        started = time.monotonic()
        wanted: list[Member] = []
        leaving: list[Member] = []
        for ref in sorted(self.members.get(key, ())):
            service = self.services.get(ref)
            if service is None or not class_matches(service, self.config):
                continue  # gone, or another controller's: never touched
            if is_leaving(service):
                if has_finalizer(service):
                    leaving.append(Member(ref, service))
            elif await self._may_take(key, ref, service):
                wanted.append(Member(ref, service))
        if not wanted and not leaving and key not in self.owned:
            return  # nothing of ours exists and nothing is wanted

        previous = {m.ref: spec for m in wanted if (spec := self.states[m.ref].ensured) is not None}
        selecting = label_keys([m.service for m in wanted], self.provider)
        backends = self.backends_for(selecting)
        state = desired_state(key, [m.service for m in wanted], backends, self.provider, previous, self.endpoints.of)
        key_state = self.keys.setdefault(key, KeyState())
        # Recorded before the first await, so that a node or slice event arriving while this plan is made or
        # applied is compared with exactly what the plan read, and re-plans it if that differs.
        key_state.endpoints = {ref: self.endpoints.of(ref) for ref, outcome in state.outcomes.items()
                               if self._targets_endpoints(outcome.offering)}
        # A load balancer whose every member targets Pods does not depend on the nodes at all.
        node_targets = not state.outcomes or len(key_state.endpoints) < len(state.outcomes)
        key_state.backends, key_state.label_keys = (backends if node_targets else None), selecting
        for member in wanted:
            await self._warn_new_problems(member, state.outcomes.get(member.ref, MemberOutcome()))
        fingerprint = (state.desired, tuple(sorted(state.outcomes.items())))
        if key_state.failed is not None and key_state.failed == fingerprint and not leaving:
            return  # a configuration error waits for a change of a Service or of the nodes
        if state.unknown and key in self.owned:
            # Planning without a member whose wish is unreadable would remove its ports: leave it all as it is.
            await self._write_member_statuses(state, [m for m in wanted if m.ref in state.unknown], {})
            return

        served = {spec.service for spec in state.desired.members} if state.desired else set()
        try:
            for member in wanted:
                if member.ref in served:
                    # Before any cloud resource can exist for it.
                    self.services[member.ref] = slim_service(await self._kube().add_finalizer(member.service))
        except ServiceInvalid as invalid:
            message = await self._refused_write(key, member, "add the finalizer", invalid)
            # The status is a subresource the API server validates apart (a Service an older server stored, that
            # today's validation refuses, still takes a status write): the condition says what blocks it.
            await self._write_status(member, None, state.outcomes.get(member.ref, MemberOutcome()).problems,
                                     keep_ingress=True, sync_error=(REFUSED_BY_API_SERVER, message))
            return
        except ServiceConflict:
            self.queue.add_after(key, self.config.backoff_base)
            return
        except ServiceGone:
            self.queue.add(key)
            return
        wanted = [Member(m.ref, self.services.get(m.ref, m.service)) for m in wanted]

        if not self.backends and state.desired is not None and node_targets:
            for member in wanted:
                if member.ref in served:
                    await self.recorder.warning(member.service, events.UNAVAILABLE,
                                                f"There are no available nodes for LoadBalancer service {member.ref}")
        try:
            plan = await self.call("plan", self._observe_and_plan, key, state.desired)
            await self._announce(plan, state.desired, wanted, leaving)
            statuses = await self.call("apply", self.provider.apply, plan)
        except Exception as exc:
            await self._failed(key, state, wanted, leaving, exc, fingerprint, started)
            return

        key_state.failed = None
        self.backoff.reset(key)
        self._record_owned(key, state.desired)
        # While a replaced load balancer still exists the Service is served but not yet synced: Synced turns
        # True only once it is gone, so that nobody reading the condition sees two load balancers behind it.
        retiring = plan.retiring()
        pending = (REPLACING, "served by the new load balancer; deleting the one it replaced") if retiring else None
        written = await self._write_member_statuses(state, wanted, statuses, pending=pending)
        if retiring and written:
            try:
                await self.call("retire", self.provider.retire, plan)
            except Exception as exc:
                logger.warning("%s: could not yet delete the load balancer it replaced: %s", key, exc,
                               extra={"service": str(key)})
                self._retry_after(key, exc)
            else:
                await self._write_member_statuses(state, wanted, statuses)
        for member in leaving:
            await self._release(member, plan)
        self._log_done(key, state, wanted, leaving, statuses, plan, started)

    def _targets_endpoints(self, offering: str) -> bool:
        try:
            return self.provider.capabilities.offering(offering).targets == "endpoints"
        except KeyError:
            return False

    def _kube(self) -> KubeClient:
        assert self.kube is not None, "connect() is called at startup"
        return self.kube

    async def _may_take(self, key: LoadBalancerKey, ref: ServiceRef, service: dict[str, Any]) -> bool:
        """An unclassed Service that already has an address we did not make belongs to another controller."""
        state = self.states.setdefault(ref, ServiceState())
        addresses = ingress_addresses(service)
        unclassed = (service.get("spec") or {}).get("loadBalancerClass") is None
        if not unclassed or not addresses or key in self.owned or state.ensured is not None:
            state.refused_takeover = False
            return True
        if not state.refused_takeover:
            state.refused_takeover = True
            message = (f"status.loadBalancer.ingress already names {', '.join(addresses)}, which cloudlb did not "
                       f"create: another controller serves this Service, so cloudlb leaves it alone. To hand it "
                       f"over, stop the other controller for it and clear the status (kubectl patch service "
                       f"{ref.name} -n {ref.namespace} --subresource=status --type=merge "
                       "-p '{\"status\":{\"loadBalancer\":null}}'), or recreate it with "
                       f"spec.loadBalancerClass: {self.config.effective_class}")
            logs.service_line(logger, ref, action="skip", outcome="not adopted", detail=message,
                              level=logging.WARNING)
            await self.recorder.warning(service, TAKEOVER_REFUSED, message)
        return False

    async def _announce(self, plan: ChangePlan, desired: DesiredLoadBalancer | None, wanted: Sequence[Member],
                        leaving: Sequence[Member]) -> None:
        """Ensuring for each member whose wish changed; Deleting only where there is something to delete."""
        specs = {spec.service: spec for spec in desired.members} if desired else {}
        for member in wanted:
            spec = specs.get(member.ref)
            if spec is not None and self.states[member.ref].ensured != spec:
                await self.recorder.normal(member.service, events.ENSURING, "Ensuring load balancer")
        for member in leaving:
            if not plan.empty and self._had_load_balancer(member):
                await self.recorder.normal(member.service, events.DELETING, "Deleting load balancer")

    def _had_load_balancer(self, member: Member) -> bool:
        return self.states.get(member.ref, ServiceState()).ensured is not None or bool(
            ingress_addresses(member.service))

    async def _write_member_statuses(self, state: DesiredState, wanted: Sequence[Member],
                                     statuses: Mapping[ServiceRef, LoadBalancerStatus],
                                     pending: tuple[str, str] | None = None) -> bool:
        """Each wanted member's status and Events; True when every status now names what was applied.

        ``pending`` (reason, message) keeps Synced False on a served member while work remains.
        """
        all_written = True
        members = {spec.service: spec for spec in state.desired.members} if state.desired else {}
        for member in wanted:
            outcome = state.outcomes.get(member.ref, MemberOutcome())
            member_state = self.states[member.ref]
            spec = members.get(member.ref)
            if outcome.blocked:
                fatal = outcome.fatal[0]
                message = "; ".join(str(problem) for problem in outcome.fatal)
                all_written &= await self._write_status(member, statuses.get(member.ref) if spec else None,
                                                        outcome.problems, sync_error=(fatal.reason, message),
                                                        keep_ingress=True)
                self.metrics.reconciles.labels("invalid").inc()
                continue
            if spec is None:
                # Nothing servable: no listener of it remains, and it has no address.
                member_state.ensured = None
                reason = NO_SERVABLE_PORTS if outcome.unservable else sharing.PORT_IN_USE
                message = ("none of the Service's ports can be served by this load balancer" if outcome.unservable
                           else "every port of the Service is already served by another member")
                all_written &= await self._write_status(member, None, outcome.problems, sync_error=(reason, message))
                continue
            observed = statuses.get(member.ref)
            if observed is None:
                continue  # the provider did not report it: the next reconcile does
            for message in observed.warnings:
                await self.recorder.warning(member.service, events.PROVIDER_WARNING, message)
            before = member_state.ensured
            member_state.ensured = spec
            all_written &= await self._write_status(member, observed, outcome.problems, sync_error=pending)
            if before is None or before != spec:
                only_backends = before is not None and dataclasses.replace(
                    before, backends=spec.backends, endpoints=spec.endpoints) == spec
                if only_backends:
                    await self.recorder.normal(member.service, events.UPDATED, "Updated load balancer with new hosts")
                else:
                    await self.recorder.normal(member.service, events.ENSURED, "Ensured load balancer")
            if pending is None:
                self.metrics.reconciles.labels("ensured").inc()
        self.metrics.managed.set(len(self.owned))
        self.metrics.set_ownership(self.owned)
        return all_written

    async def _release(self, member: Member, plan: ChangePlan) -> None:
        """The member's part of the cloud is gone: clear its status and let Kubernetes finish the delete."""
        had = self._had_load_balancer(member)
        self.states.setdefault(member.ref, ServiceState()).ensured = None
        if had and not plan.empty:
            await self.recorder.normal(member.service, events.DELETED, "Deleted load balancer")
        service = member.service
        try:
            if not (service.get("metadata") or {}).get("deletionTimestamp"):
                current = service.get("status") or {}
                wanted = cleared_status(current)
                if status_differs(current, wanted):
                    service = await self._kube().patch_status(service, wanted)
            await self._kube().remove_finalizer(service)
        except ServiceInvalid as invalid:
            await self._refused_write(self.key_of.get(member.ref, LoadBalancerKey.of(member.ref)), member,
                                      "remove the finalizer", invalid)
            return
        except ServiceConflict:
            self.queue.add_after(self.key_of.get(member.ref, LoadBalancerKey.of(member.ref)), self.config.backoff_base)
            return
        except ServiceGone:
            return
        self.metrics.reconciles.labels("deleted").inc()

    async def _failed(self, key: LoadBalancerKey, state: DesiredState, wanted: Sequence[Member],
                      leaving: Sequence[Member], exc: Exception, fingerprint: Any, started: float) -> None:
        code = exc.code if isinstance(exc, ProviderError) else ""
        reason = events.NOT_OWNED if isinstance(exc, NotOwnedError) else events.SYNC_FAILED
        served = {spec.service for spec in state.desired.members} if state.desired else set()
        partial = attached_statuses(exc)
        if partial:
            self._record_owned(key, state.desired)
        seconds = time.monotonic() - started
        outcome_word = "failed, retrying" if not isinstance(exc, PermanentError) else "failed"
        for member in wanted:
            outcome = state.outcomes.get(member.ref, MemberOutcome())
            logs.service_line(logger, member.ref, action="ensure", outcome=outcome_word, seconds=seconds,
                              error_code=code or type(exc).__name__, detail=str(exc))
            if member.ref not in served:
                continue
            await self.recorder.warning(member.service, reason, f"Error syncing load balancer: {exc}")
            # A load balancer created before the failure is named in the status at once, with the error.
            await self._write_status(member, partial.get(member.ref), outcome.problems, keep_ingress=True,
                                     sync_error=(sync_failure_reason(exc), str(exc)))
        for member in leaving:
            logs.service_line(logger, member.ref, action="delete", outcome="failed, retrying", seconds=seconds,
                              error_code=code or type(exc).__name__, detail=str(exc))
            await self.recorder.warning(member.service, events.DELETE_FAILED, f"Error deleting load balancer: {exc}")
        if isinstance(exc, PermanentError) and not leaving:
            self.keys.setdefault(key, KeyState()).failed = fingerprint
            self.metrics.reconciles.labels("permanent_error").inc()
            return
        self._retry_after(key, exc)

    def _retry_after(self, key: LoadBalancerKey, exc: Exception) -> None:
        """Transient errors back off exponentially; the cloud's state (quota, in use) is retried slowly.

        An attempt that got some of its writes done before failing starts the backoff again."""
        if made_progress(exc):
            self.backoff.reset(key)
        delay = self.backoff.next_delay(key)
        if isinstance(exc, CloudStateError):
            delay = exc.delay if exc.delay is not None else self.config.cloud_state_retry
        elif isinstance(exc, RetryLater) and exc.delay is not None:
            delay = max(delay, exc.delay)
        logger.info("%s: retrying in %.1fs after: %s", key, delay, exc, extra={"service": str(key)})
        self.metrics.reconciles.labels("retry").inc()
        self.queue.add_after(key, delay)

    def _record_owned(self, key: LoadBalancerKey, desired: DesiredLoadBalancer | None) -> None:
        if desired is not None:
            self.owned[key] = frozenset(desired.services)
            self.metrics.set_ownership(self.owned)
            return
        self.owned.pop(key, None)
        self.metrics.set_ownership(self.owned)
        if key not in self.members:
            self.keys.pop(key, None)  # nothing of it remains, in the cloud or in the cluster

    async def _warn_new_problems(self, member: Member, outcome: MemberOutcome) -> None:
        """One Warning per problem, when it first appears (not again on every re-plan)."""
        state = self.states[member.ref]
        current = frozenset(outcome.problems)
        for problem in outcome.problems:
            if problem not in state.warned:
                logs.service_line(logger, member.ref, action="validate", outcome=problem.reason,
                                  detail=str(problem), level=logging.WARNING)
                await self.recorder.warning(member.service, problem.reason, str(problem))
        state.warned = current

    async def _write_status(self, member: Member, observed: LoadBalancerStatus | None,
                            problems: Sequence[Problem], sync_error: tuple[str, str] | None,
                            keep_ingress: bool = False) -> bool:
        """Write the member's status if it differs; False when the write did not happen."""
        service = self.services.get(member.ref, member.service)
        current = service.get("status") or {}
        wanted = desired_status(current, generation=(service.get("metadata") or {}).get("generation"),
                                observed=observed, keep_ingress=keep_ingress, problems=problems,
                                sync_error=sync_error, now=self.clock())
        if not status_differs(current, wanted):
            return True  # written only when it changes
        try:
            patched = await self._kube().patch_status(service, wanted)
        except ServiceGone:
            return False
        except ServiceInvalid as invalid:
            await self._refused_write(self.key_of.get(member.ref, LoadBalancerKey.of(member.ref)), member,
                                      "write the status", invalid)
            return False
        except (ServiceConflict, kopf_errors.APIError) as error:
            # The cloud is done but the Service does not say so yet: write again soon (as client-go controllers
            # re-queue on a conflict); the Service's next watch event may never come.
            key = self.key_of.get(member.ref, LoadBalancerKey.of(member.ref))
            delay = self.backoff.next_delay(key)
            logs.service_line(logger, member.ref, action="write-status", outcome="failed, retrying",
                              error_code=type(error).__name__, detail=f"{error}; retrying in {delay:.1f}s",
                              level=logging.WARNING)
            self.queue.add_after(key, delay)
            return False
        if member.ref in self.services:
            self.services[member.ref] = {**self.services[member.ref], "status": patched.get("status", wanted)}
        return True

    async def _refused_write(self, key: LoadBalancerKey, member: Member, what: str, invalid: ServiceInvalid) -> str:
        """The API server refuses every write to this Service: say so where the user looks, and try again slowly.

        Returns the message (the Warning's)."""
        message = (f"the API server refuses every write to this Service ({invalid}); cloudlb cannot {what} until "
                   "the Service is fixed (kubectl edit) and retries every "
                   f"{self.config.cloud_state_retry:.0f}s")
        logs.service_line(logger, member.ref, action="write", outcome="refused", error_code="Invalid",
                          detail=message, level=logging.WARNING)
        await self.recorder.warning(member.service, events.SYNC_FAILED, message)
        self.queue.add_after(key, self.config.cloud_state_retry)
        return message

    def _log_done(self, key: LoadBalancerKey, state: DesiredState, wanted: Sequence[Member],
                  leaving: Sequence[Member], statuses: Mapping[ServiceRef, LoadBalancerStatus], plan: ChangePlan,
                  started: float) -> None:
        """One line per Service whose load balancer this reconcile changed (a no-op re-plan logs nothing)."""
        if plan.empty:
            return
        seconds = time.monotonic() - started
        changes = plan.all_changes()
        only_backends = all(change.resource in BACKEND_RESOURCES for change in changes)
        detail = f"{len(changes)} cloud changes"
        for member in wanted:
            observed = statuses.get(member.ref)
            address = ",".join(i.hostname or i.ip or "" for i in observed.ingress) if observed else ""
            logs.service_line(logger, member.ref, action="update-backends" if only_backends else "ensure",
                              outcome="succeeded", seconds=seconds, address=address, detail=detail)
        for member in leaving:
            logs.service_line(logger, member.ref, action="delete", outcome="succeeded", seconds=seconds,
                              detail=detail)
        if not wanted and not leaving:
            logger.info("%s: removed the load balancer no Service uses in %.2fs (%s)", key, seconds, detail,
                        extra=logs.fields(service=str(key), action="delete", outcome="succeeded",
                                          duration_seconds=round(seconds, 3)))


def sync_failure_reason(exc: Exception) -> str:
    """The Synced condition's reason: whether the controller retries by itself or waits for the user."""
    if isinstance(exc, NotOwnedError):
        return events.NOT_OWNED
    if isinstance(exc, PermanentError):
        return "PermanentError"
    if isinstance(exc, CloudStateError):
        return "WaitingForCloud"
    return RETRYING


RETRYING = "RetryingAfterError"
REFUSED_BY_API_SERVER = "ServiceRefusedByAPIServer"  # the Synced reason: every write to the Service is refused (422)
# Change resources that only move nodes in or out: a plan of nothing else is a backend update.
BACKEND_RESOURCES = frozenset({"targets", "instance-group-members"})
__all__ = ["ProviderError", "Reconciler", "class_matches", "is_load_balancer"]
