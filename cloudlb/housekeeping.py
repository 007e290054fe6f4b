"""The controller's own loops beside the kopf watches: the workers, drift repair and garbage collection.

They start once kopf has called the startup handler and stop with it; none
of them acts while this replica is not the active one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cloudlb.config import ControllerConfig
from cloudlb.metrics import Metrics
from cloudlb.model import FINALIZER, ServiceRef
from cloudlb.reconciler import Reconciler, class_matches, is_load_balancer

logger = logging.getLogger(__name__)


def start(reconciler: Reconciler, config: ControllerConfig, metrics: Metrics) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(reconciler.run_worker(), name=f"cloudlb-worker-{index}")
             for index in range(config.workers)]
    tasks.append(asyncio.create_task(_resync_loop(reconciler, config), name="cloudlb-resync"))
    tasks.append(asyncio.create_task(_gc_loop(reconciler, config, metrics), name="cloudlb-gc"))
    return tasks


async def _resync_loop(reconciler: Reconciler, config: ControllerConfig) -> None:
    """Periodic full resync catches drift made in the cloud behind our back."""
    while True:
        await asyncio.sleep(config.resync_interval)
        reconciler.resync_all()


async def _gc_loop(reconciler: Reconciler, config: ControllerConfig, metrics: Metrics) -> None:
    await asyncio.sleep(config.gc_initial_delay)
    while True:
        assert reconciler.active is not None
        await reconciler.active.wait()
        try:
            await collect_garbage(reconciler, config, metrics)
        except Exception:
            logger.exception("garbage collection failed; will try again")
        await asyncio.sleep(config.gc_interval)


async def collect_garbage(reconciler: Reconciler, config: ControllerConfig, metrics: Metrics) -> list[ServiceRef]:
    """Delete load balancers whose Service no longer wants one from us.

    The in-memory cache decides only who is a candidate; each candidate is read
    back from the API server before anything is deleted, so a stale cache can
    never cost a live Service its load balancer.
    """
    assert reconciler.kube is not None
    owned = await reconciler._call("list_owned", reconciler.provider.list_owned)
    collected: list[ServiceRef] = []
    for key in owned:
        ref = key.service
        if ref is None:
            continue  # shared load balancers are collected by their group's reconcile
        if _still_wanted(reconciler.services.get(ref), config):
            continue
        fresh = await reconciler.kube.get_service(ref)
        if _still_wanted(fresh, config):
            continue
        if fresh is not None and FINALIZER in (fresh.get("metadata") or {}).get("finalizers", []):
            continue  # its own reconcile cleans it up and removes the finalizer
        logger.info("deleting orphaned load balancer of %s", ref)
        await reconciler._call("delete", reconciler.provider.delete, key)
        metrics.garbage_collected.inc()
        collected.append(ref)
    return collected


def _still_wanted(service: dict[str, Any] | None, config: ControllerConfig) -> bool:
    return (service is not None and is_load_balancer(service) and class_matches(service, config)
            and not (service.get("metadata") or {}).get("deletionTimestamp"))


