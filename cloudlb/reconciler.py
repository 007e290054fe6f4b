"""Level-triggered reconciliation of one Service at a time.

Every trigger (a Service event, a node-set change, a retry, a periodic resync)
only puts the Service's key on the work queue; a worker then recomputes the
whole desired state from the latest cached Service and nodes and converges the
cloud to it. Provider calls are blocking SDK calls and run in a bounded thread
pool, so the event loop (watches, peering, probes) never stalls on the cloud.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cloudlb import events
from cloudlb.config import ControllerConfig
from cloudlb.events import EventRecorder
from cloudlb.kube import KubeClient, ServiceConflict, ServiceGone
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
from cloudlb.plan import Plan, plan
from cloudlb.problems import Problem
from cloudlb.provider import NotOwnedError, PermanentError, Provider, RetryLater
from cloudlb.status import cleared_status, desired_status, status_differs
from cloudlb.translate import service_ref, translate
from cloudlb.workqueue import Backoff, WorkQueue

logger = logging.getLogger(__name__)
T = TypeVar("T")


def is_load_balancer(service: Mapping[str, Any]) -> bool:
    return (service.get("spec") or {}).get("type") == "LoadBalancer"


def class_matches(service: Mapping[str, Any], config: ControllerConfig) -> bool:
    """Ours: our class, or no class unless told to leave unclassed Services to a cloud-controller-manager."""
    cls = (service.get("spec") or {}).get("loadBalancerClass")
    if cls is None:
        return not config.ignore_unclassed
    return bool(cls == config.effective_class)


def input_digest(service: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a reconcile depends on.

    Our own writes (status, our finalizer) do not count, so they neither trigger
    a reconcile nor cut short the backoff of a failing one.
    """
    metadata = service.get("metadata") or {}
    return (repr(service.get("spec")), repr(sorted((metadata.get("annotations") or {}).items())),
            metadata.get("deletionTimestamp"), metadata.get("uid"))


@dataclass
class ServiceState:
    """What the controller remembers about one Service between reconciles (memory only)."""

    seen_digest: tuple[Any, ...] | None = None
    ensured: LoadBalancerSpec | None = None
    # The plan of a permanent failure: the same plan is not retried until the Service or nodes change.
    failed: Plan | None = None
    warned: frozenset[Problem] = field(default_factory=frozenset)


class Reconciler:
    def __init__(self, config: ControllerConfig, provider: Provider[Any], metrics: Metrics) -> None:
        self.config = config
        self.provider = provider
        self.metrics = metrics
        self.services: dict[ServiceRef, dict[str, Any]] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.backends: tuple[Backend, ...] = ()
        self.states: dict[ServiceRef, ServiceState] = {}
        self.queue: WorkQueue[ServiceRef] = WorkQueue()
        self.backoff: Backoff[ServiceRef] = Backoff(config.backoff_base, config.backoff_cap)
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
        self.backends = eligible_backends(self.nodes.values())
        assert self.synced is not None
        self.synced.set()

    @property
    def recorder(self) -> EventRecorder:
        assert self._recorder is not None, "connect() is called at startup"
        return self._recorder

    # --- triggers -------------------------------------------------------------------------

    def on_service_event(self, event_type: str | None, service: Mapping[str, Any]) -> None:
        ref = service_ref(service)
        has_finalizer = FINALIZER in ((service.get("metadata") or {}).get("finalizers") or [])
        if event_type == "DELETED" or not (is_load_balancer(service) or has_finalizer):
            # Only Services that want a load balancer, or still hold our finalizer, are kept:
            # a large cluster's ClusterIP Services cost no memory here.
            self.services.pop(ref, None)
            self.states.pop(ref, None)
            self.backoff.reset(ref)
            return
        self.services[ref] = dict(service)
        state = self.states.setdefault(ref, ServiceState())
        digest = input_digest(service)
        if digest != state.seen_digest:
            state.seen_digest = digest
            self.queue.add(ref)

    def on_node_event(self, event_type: str | None, node: Mapping[str, Any]) -> None:
        name = str((node.get("metadata") or {}).get("name", ""))
        if event_type == "DELETED":
            self.nodes.pop(name, None)
        else:
            self.nodes[name] = slim(node)
        backends = eligible_backends(self.nodes.values())
        if backends == self.backends:
            return  # a label or status change that does not change who serves traffic
        self.backends = backends
        # Only the load balancers whose backend set really differs are touched.
        for ref, state in self.states.items():
            last = state.ensured or (state.failed.spec if state.failed is not None else None)
            if last is not None and last.backends != backends:
                self.queue.add(ref)

    def resync_all(self) -> None:
        if self.active is not None and not self.active.is_set():
            return
        for ref in list(self.services):
            self.queue.add(ref)

    # --- the work -------------------------------------------------------------------------

    async def run_worker(self) -> None:
        assert self.synced is not None
        await self.synced.wait()
        assert self.active is not None
        while True:
            ref = await self.queue.get()
            await self.active.wait()  # a paused replica keeps its queue but does not act on it
            started = time.monotonic()
            try:
                await self.reconcile(ref)
            except asyncio.CancelledError:
                raise
            except Exception:  # one Service's failure must never stop the worker
                logger.exception("unexpected error reconciling %s", ref)
                self.metrics.reconciles.labels("error").inc()
                self.queue.add_after(ref, self.backoff.next_delay(ref))
            finally:
                self.queue.done(ref)
                self.metrics.reconcile_seconds.observe(time.monotonic() - started)
                self.metrics.queue_depth.set(self.queue.pending())

    async def _call(self, method: str, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self.executor, fn, *args)
        except Exception as exc:
            self.metrics.provider_calls.labels(method, type(exc).__name__).inc()
            raise
        self.metrics.provider_calls.labels(method, "ok").inc()
        return result

    async def reconcile(self, ref: ServiceRef) -> None:
        service = self.services.get(ref)
        if service is None or not class_matches(service, self.config):
            return  # gone, or another controller's: never touched
        metadata = service.get("metadata") or {}
        has_finalizer = FINALIZER in (metadata.get("finalizers") or [])
        if metadata.get("deletionTimestamp") or not is_load_balancer(service):
            if has_finalizer:
                await self._clean_up(ref, service)
            return
        await self._ensure(ref, service)

    async def _clean_up(self, ref: ServiceRef, service: dict[str, Any]) -> None:
        assert self.kube is not None
        await self.recorder.normal(service, events.DELETING, "Deleting load balancer")
        try:
            await self._call("delete", self.provider.delete, LoadBalancerKey.of(ref))
        except Exception as exc:
            await self.recorder.warning(service, events.DELETE_FAILED, f"Error deleting load balancer: {exc}")
            self._retry(ref, exc)
            return
        await self.recorder.normal(service, events.DELETED, "Deleted load balancer")
        state = self.states.setdefault(ref, ServiceState())
        state.ensured = state.failed = None
        self.metrics.managed.set(self._managed_count())
        try:
            if not (service.get("metadata") or {}).get("deletionTimestamp"):
                current = service.get("status") or {}
                wanted = cleared_status(current)
                if status_differs(current, wanted):
                    service = await self.kube.patch_status(service, wanted)
            await self.kube.remove_finalizer(service)
        except ServiceConflict:
            self.queue.add_after(ref, self.config.backoff_base)  # the next event carries the fresh version
        except ServiceGone:
            return
        self.backoff.reset(ref)
        self.metrics.reconciles.labels("deleted").inc()

    async def _ensure(self, ref: ServiceRef, service: dict[str, Any]) -> None:
        assert self.kube is not None
        state = self.states.setdefault(ref, ServiceState())
        the_plan = plan(translate(service, self.backends), self.provider)

        if state.failed is not None and state.failed == the_plan:
            return  # a permanent failure waits for a change of the Service or the nodes
        await self._warn_new_problems(service, state, the_plan)

        if the_plan.fatal:
            state.failed = the_plan
            message = "; ".join(str(problem) for problem in the_plan.fatal)
            # The load balancer, if any, is left as it was: its addresses stay in the status.
            await self._write_status(service, None, the_plan, sync_error=(the_plan.fatal[0].reason, message),
                                     keep_ingress=True)
            self.metrics.reconciles.labels("invalid").inc()
            return

        try:
            service = await self.kube.add_finalizer(service)  # before any cloud resource can exist
        except ServiceConflict:
            self.queue.add_after(ref, self.config.backoff_base)
            return
        except ServiceGone:
            return
        self.services[ref] = service

        if not the_plan.spec.ports:
            # Nothing servable remains (every port unsupported): no load balancer should exist.
            await self._call("delete", self.provider.delete, LoadBalancerKey.of(ref))
            state.ensured, state.failed = None, the_plan
            await self._write_status(service, None, the_plan, sync_error=(
                "NoServablePorts", "none of the Service's ports can be served by this load balancer"))
            return

        if not the_plan.spec.backends:
            await self.recorder.warning(service, events.UNAVAILABLE,
                           f"There are no available nodes for LoadBalancer service {ref}")

        changed = state.ensured != the_plan.spec
        if changed:
            await self.recorder.normal(service, events.ENSURING, "Ensuring load balancer")
        try:
            statuses = await self._call("ensure", self.provider.ensure, DesiredLoadBalancer.single(the_plan.spec))
            observed = statuses[ref]
        except Exception as exc:
            reason = events.NOT_OWNED if isinstance(exc, NotOwnedError) else events.SYNC_FAILED
            await self.recorder.warning(service, reason, f"Error syncing load balancer: {exc}")
            await self._write_status(service, None, the_plan, sync_error=(sync_failure_reason(exc), str(exc)),
                                     keep_ingress=True)
            if isinstance(exc, PermanentError):
                state.failed = the_plan
                self.metrics.reconciles.labels("permanent_error").inc()
            else:
                self._retry(ref, exc)
            return

        only_backends = (state.ensured is not None
                         and state.ensured.backends != the_plan.spec.backends
                         and state.ensured == _with_backends(the_plan.spec, state.ensured.backends))
        state.ensured, state.failed = the_plan.spec, None
        self.backoff.reset(ref)
        self.metrics.managed.set(self._managed_count())
        for message in observed.warnings:
            await self.recorder.warning(service, events.PROVIDER_WARNING, message)
        await self._write_status(service, observed, the_plan, sync_error=None)
        if changed:
            if only_backends:
                await self.recorder.normal(service, events.UPDATED, "Updated load balancer with new hosts")
            else:
                await self.recorder.normal(service, events.ENSURED, "Ensured load balancer")
        self.metrics.reconciles.labels("ensured").inc()

    def _retry(self, ref: ServiceRef, exc: Exception) -> None:
        delay = self.backoff.next_delay(ref)
        if isinstance(exc, RetryLater) and exc.delay is not None:
            delay = max(delay, exc.delay)
        logger.info("retrying %s in %.1fs after: %s", ref, delay, exc)
        self.metrics.reconciles.labels("retry").inc()
        self.queue.add_after(ref, delay)

    async def _warn_new_problems(self, service: Mapping[str, Any], state: ServiceState, the_plan: Plan) -> None:
        """One Warning per problem, when it first appears (not again on every resync)."""
        current = frozenset(the_plan.problems)
        for problem in the_plan.problems:
            if problem not in state.warned:
                await self.recorder.warning(service, problem.reason, str(problem))
        state.warned = current

    async def _write_status(self, service: dict[str, Any], observed: LoadBalancerStatus | None, the_plan: Plan,
                            sync_error: tuple[str, str] | None, keep_ingress: bool = False) -> None:
        assert self.kube is not None
        current = service.get("status") or {}
        wanted = desired_status(current, generation=(service.get("metadata") or {}).get("generation"),
                                observed=observed, keep_ingress=keep_ingress or (observed is None and bool(
                                    the_plan.spec.ports and sync_error and not the_plan.fatal)),
                                problems=the_plan.problems, sync_error=sync_error, now=self.clock())
        if not status_differs(current, wanted):
            return  # written only when it changes
        try:
            patched = await self.kube.patch_status(service, wanted)
        except (ServiceGone, ServiceConflict):
            return
        ref = service_ref(service)
        if ref in self.services:
            self.services[ref] = {**self.services[ref], "status": patched.get("status", wanted)}

    def _managed_count(self) -> int:
        return sum(1 for state in self.states.values() if state.ensured is not None)


RETRYING = "RetryingAfterError"


def sync_failure_reason(exc: Exception) -> str:
    """The Synced condition's reason: whether the controller retries by itself or waits for the user."""
    if isinstance(exc, NotOwnedError):
        return events.NOT_OWNED
    if isinstance(exc, PermanentError):
        return "PermanentError"
    return RETRYING


def _with_backends(spec: LoadBalancerSpec, backends: tuple[Backend, ...]) -> LoadBalancerSpec:
    return dataclasses.replace(spec, backends=backends)
