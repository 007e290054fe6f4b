"""Running the controller: start-up checks, the lease, kopf's watches, and the loops beside them.

Start-up, in this order, each failure a ``StartupError`` (one line; ``cloudlb run`` exits 1):

1. the health port is bound and /metrics served, so a port in use is reported at once;
2. the API server is reached with the controller's credentials (one read every controller makes);
3. the provider is created and runs its own check (credentials, region, one cheap read);
4. leader election: take the lease or stand by (see ``cloudlb.leadership``), last, so that a replica
   that cannot work never holds it.

Then kopf runs and ``/readyz`` answers 200. kopf watches Services and Nodes on
every replica (handlers only record the newest object and enqueue its key; all
decisions live in ``cloudlb.reconciler``); the workers, resync and garbage
collection act only while this replica leads. kopf's peering is not used: the
lease decides. kopf's handler state machinery (annotations, its own finalizer)
is not used either: the controller is level-triggered and keeps the upstream
finalizer itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from cloudlb import connection, housekeeping
from cloudlb.config import ControllerConfig
from cloudlb.events import EventRecorder
from cloudlb.health import HealthServer
from cloudlb.kube import KubeClient
from cloudlb.leadership import LeaderElector, join_election
from cloudlb.metrics import Metrics
from cloudlb.provider import Provider
from cloudlb.reconciler import Reconciler
from cloudlb.startup import bind_port, port_error, start_provider

logger = logging.getLogger(__name__)
# How long a stopping replica waits for cloud calls in flight before it gives the lease away.
DRAIN_TIMEOUT = 10.0


class LeadershipLost(Exception):
    """The lease was lost while leading; the process ends so that a fresh start campaigns again."""


def own_identity() -> str:
    """The name this replica holds the lease under.

    The pod's name (``POD_NAME`` from the downward API, else the hostname inside a
    pod), so that a container restarted in the same pod recognises its own claim;
    outside a cluster the hostname plus a random suffix, since two local runs share a host.
    """
    if os.environ.get("POD_NAME"):
        return os.environ["POD_NAME"]
    if connection.in_cluster():
        return socket.gethostname()
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:12]}"


def build_settings(config: ControllerConfig, identity: str) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.posting.reporting_component = "cloudlb"
    settings.posting.reporting_instance = identity
    # Our own Events only (aggregated, redacted): kopf's per-object log lines are not posted as Events.
    settings.posting.enabled = False
    # Every replica watches; the lease, not kopf's peering, decides who acts.
    settings.peering.standalone = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    return settings


def build_registry(config: ControllerConfig, reconciler: Reconciler, active: asyncio.Event,
                   on_started: Callable[[], None], on_stopping: Callable[[], Awaitable[None]]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    background: list[asyncio.Task[None]] = []

    @kopf.on.login(registry=registry)
    def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
        return connection.login(settings, config.api_server)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        reconciler.connect(KubeClient(settings), EventRecorder(settings), active)
        # Not awaited here: API calls wait for kopf's login, which runs after the startup handlers.
        background.extend(housekeeping.start(reconciler, config, reconciler.metrics))
        on_started()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        reconciler.queue.close()
        reconciler.executor.shutdown(wait=False, cancel_futures=True)
        await on_stopping()  # as early as possible: a standby waits for it

    @kopf.on.event("v1", "services", registry=registry)
    def service_event(type: str, event: kopf.RawEvent, **_: Any) -> None:
        reconciler.on_service_event(type, event["object"])

    @kopf.on.event("v1", "nodes", registry=registry)
    def node_event(type: str, event: kopf.RawEvent, **_: Any) -> None:
        reconciler.on_node_event(type, event["object"])

    if any(offering.targets == "endpoints" for offering in reconciler.provider.capabilities.offerings):
        # Only a provider that can target Pods directly needs the (large, busy) EndpointSlice stream.
        @kopf.on.event("discovery.k8s.io", "v1", "endpointslices", registry=registry)
        def endpoint_slice_event(type: str, event: kopf.RawEvent, **_: Any) -> None:
            reconciler.on_endpoint_slice_event(type, event["object"])

    return registry


async def run_async(config: ControllerConfig, create_provider: Callable[[], Provider[Any]], *,
                    stop_flag: threading.Event | asyncio.Event | None = None,
                    ready_flag: threading.Event | asyncio.Event | None = None,
                    reconciler: Reconciler | None = None, metrics: Metrics | None = None) -> Reconciler:
    """Run the controller until ``stop_flag`` is set or a signal stops it.

    The provider is created only after the cheap checks (``create_provider`` may
    import a large SDK or ask a metadata server). Raises StartupError when a
    start-up check fails and LeadershipLost when the lease was lost while
    leading; a ``reconciler`` built on the provider may be passed in to watch it.
    """
    metrics = reconciler.metrics if reconciler is not None else metrics or Metrics()
    election = config.leader_election
    identity = election.identity or own_identity()
    settings = build_settings(config, identity)
    health = HealthServer(bind_port(config.health_port, "--health-port")) if config.health_port else None
    try:
        if config.metrics_port:
            try:
                metrics.serve(config.metrics_port)
            except OSError as exc:
                raise port_error(exc, config.metrics_port, "--metrics-port") from exc
        if health is not None:
            await health.start()
        async with connection.ApiSession(settings, config.api_server) as session:
            await connection.check_api_server(session)
            provider = await asyncio.to_thread(start_provider, config.provider, create_provider)
            reconciler = reconciler or Reconciler(config, provider, metrics)
            elector = None
            if election.enabled:
                namespace = election.lease_namespace or connection.own_namespace(session.info)
                elector = await join_election(session, election, namespace, identity,
                                              on_change=lambda leading: _leadership_changed(reconciler, leading))
            active = elector.active if elector is not None else _always_active(metrics)
            leadership = Leadership(elector, reconciler.executor)
            registry = build_registry(config, reconciler, active,
                                      on_started=lambda: _started(config, identity, health),
                                      on_stopping=leadership.step_down)
            await _operate(registry, settings, leadership, stop_flag, ready_flag)
    finally:
        metrics.close()
        if health is not None:
            await health.stop()
    return reconciler


def _always_active(metrics: Metrics) -> asyncio.Event:
    """Without leader election this replica always acts."""
    active = asyncio.Event()
    active.set()
    metrics.leader.set(1)
    return active


def _leadership_changed(reconciler: Reconciler, leading: bool) -> None:
    reconciler.metrics.leader.set(1 if leading else 0)
    if leading:
        # What the previous leader may have left half-done, and every change seen while standing by.
        reconciler.resync_all()


def _started(config: ControllerConfig, identity: str, health: HealthServer | None) -> None:
    if health is not None:
        health.mark_ready()
    logger.info("cloudlb running as %s: provider=%s class=%s cluster=%s", identity, config.provider,
                config.effective_class, config.cluster_name)


class Leadership:
    """The elector's campaign beside kopf, and the order of stepping down: work, then cloud calls, then the lease."""

    def __init__(self, elector: LeaderElector | None, executor: concurrent.futures.ThreadPoolExecutor) -> None:
        self.elector = elector
        self._executor = executor
        self._campaign: asyncio.Task[None] | None = None
        # kopf's stop flag: set when the lease is lost, and when kopf stops for another reason (a signal),
        # so that kopf's own waiter on it ends at once instead of being reaped as a hung task seconds later.
        self.stop = asyncio.Event()

    def campaign(self) -> None:
        """Keep the lease (or wait for it); if it is lost while leading, ``stop`` is set."""
        if self.elector is not None:
            self._campaign = asyncio.create_task(self._run(self.elector, self.stop), name="cloudlb-leader-election")

    @staticmethod
    async def _run(elector: LeaderElector, stop: asyncio.Event) -> None:
        await elector.run()
        stop.set()  # run() returns only when the lease was lost

    async def step_down(self) -> None:
        """Stop campaigning; once the cloud calls in flight have finished, release the lease (idempotent)."""
        self.stop.set()
        if self._campaign is not None:
            self._campaign.cancel()
            await asyncio.gather(self._campaign, return_exceptions=True)
        if self.elector is not None and self.elector.leading and await _drained(self._executor):
            await self.elector.release()

    def check_not_lost(self) -> None:
        if self.elector is not None and self.elector.lost.is_set():
            raise LeadershipLost(f"lost the lease {self.elector.api.where}")


async def _operate(registry: kopf.OperatorRegistry, settings: kopf.OperatorSettings, leadership: Leadership,
                   stop_flag: threading.Event | asyncio.Event | None,
                   ready_flag: threading.Event | asyncio.Event | None) -> None:
    """kopf and the elector side by side, until a signal, ``stop_flag`` or a lost lease stops them."""
    stop = leadership.stop
    forwarding = asyncio.create_task(_forward(stop_flag, stop), name="cloudlb-stop-flag") if stop_flag else None
    leadership.campaign()
    try:
        await kopf.operator(registry=registry, settings=settings, clusterwide=True, standalone=True,
                            stop_flag=stop, ready_flag=ready_flag)
    finally:
        if forwarding is not None:
            forwarding.cancel()
            await asyncio.gather(forwarding, return_exceptions=True)
        await leadership.step_down()  # already done by kopf's cleanup, unless kopf failed before it
    leadership.check_not_lost()


async def _forward(flag: threading.Event | asyncio.Event, stop: asyncio.Event) -> None:
    if isinstance(flag, asyncio.Event):
        await flag.wait()
    else:
        # Polled rather than waited on in a thread: a thread blocked on it would outlive the operator.
        while not flag.is_set():  # noqa: ASYNC110 -- a threading.Event cannot be awaited
            await asyncio.sleep(0.1)
    stop.set()


async def _drained(executor: concurrent.futures.ThreadPoolExecutor) -> bool:
    """Whether every cloud call in flight finished within DRAIN_TIMEOUT (the lease is kept otherwise)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(executor.shutdown, wait=True), DRAIN_TIMEOUT)
    except TimeoutError:
        logger.warning("cloud calls still running after %.0fs; not releasing the lease (it expires by itself)",
                       DRAIN_TIMEOUT)
        return False
    return True
