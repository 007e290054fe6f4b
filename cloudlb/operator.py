"""The kopf wiring: watches feed the reconciler's queue; workers, resync and garbage collection run beside.

Handlers are thin on purpose: they only record the newest object and enqueue
its key. All decisions live in ``cloudlb.reconciler``. kopf's own handler
state machinery (annotations, its own finalizer) is not used: the controller is
level-triggered and keeps the upstream finalizer itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
import uuid
from typing import Any

import kopf
from kopf._core.engines.peering import Identity as PeerIdentity

from cloudlb import housekeeping
from cloudlb.config import ControllerConfig
from cloudlb.events import EventRecorder
from cloudlb.kube import KubeClient
from cloudlb.leadership import LeadershipGate
from cloudlb.metrics import Metrics
from cloudlb.provider import Provider
from cloudlb.reconciler import Reconciler

logger = logging.getLogger(__name__)
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def build_settings(config: ControllerConfig, priority: int) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.posting.reporting_component = "cloudlb"
    settings.posting.reporting_instance = os.environ.get("HOSTNAME", "cloudlb")
    # Our own Events only: kopf's log lines are not posted as Events.
    settings.posting.level = logging.WARNING
    settings.peering.clusterwide = True
    settings.peering.name = config.peering
    settings.peering.standalone = config.standalone
    settings.peering.mandatory = not config.standalone
    settings.peering.priority = priority
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    return settings


def build_registry(config: ControllerConfig, reconciler: Reconciler, metrics: Metrics,
                   gate: LeadershipGate) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    background: list[asyncio.Task[None]] = []

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if config.api_server:
            return kopf.ConnectionInfo(server=config.api_server)
        if os.path.exists(SERVICE_ACCOUNT_TOKEN):
            return kopf.login_with_service_account(**kwargs)
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        reconciler.connect(KubeClient(settings), EventRecorder(settings), gate.active)
        background.append(asyncio.create_task(gate.watch(settings), name="cloudlb-leadership"))
        # Not awaited here: API calls wait for kopf's login, which runs after the startup handlers.
        if config.metrics_port:
            metrics.serve(config.metrics_port)
        background.extend(housekeeping.start(reconciler, config, metrics))
        logger.info("cloudlb started: provider=%s class=%s cluster=%s workers=%d", config.provider,
                    config.effective_class, config.cluster_name, config.workers)

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        reconciler.queue.close()
        reconciler.executor.shutdown(wait=False, cancel_futures=True)
        metrics.close()

    @kopf.on.event("v1", "services", registry=registry)
    def service_event(type: str, event: kopf.RawEvent, **_: Any) -> None:
        reconciler.on_service_event(type, event["object"])

    @kopf.on.event("v1", "nodes", registry=registry)
    def node_event(type: str, event: kopf.RawEvent, **_: Any) -> None:
        reconciler.on_node_event(type, event["object"])

    return registry


async def run_async(config: ControllerConfig, provider: Provider[Any], *,
                    stop_flag: threading.Event | asyncio.Event | None = None,
                    ready_flag: threading.Event | asyncio.Event | None = None,
                    reconciler: Reconciler | None = None) -> Reconciler:
    """Run the controller until ``stop_flag`` is set; a ``reconciler`` may be passed in to watch it."""
    reconciler = reconciler or Reconciler(config, provider, Metrics())
    metrics = reconciler.metrics
    # Replicas must differ in priority, otherwise kopf pauses them all: a random
    # priority makes exactly one the active one while the others wait.
    priority = random.randint(1, 2**30)  # not a secret: any spread will do
    identity = f"cloudlb@{socket.gethostname()}/{uuid.uuid4().hex[:12]}"
    gate = LeadershipGate(standalone=config.standalone, peering=config.peering, identity=identity,
                          priority=priority, interval=config.peering_poll_interval)
    registry = build_registry(config, reconciler, metrics, gate)
    liveness = f"http://0.0.0.0:{config.health_port}/healthz" if config.health_port else None
    await kopf.operator(
        registry=registry, settings=build_settings(config, priority), clusterwide=True,
        identity=PeerIdentity(identity),
        standalone=config.standalone, peering_name=None if config.standalone else config.peering,
        liveness_endpoint=liveness, stop_flag=stop_flag, ready_flag=ready_flag,
    )
    return reconciler
