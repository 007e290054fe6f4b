"""The controller's own loops beside the kopf watches: start-up, workers, the drift sweep and garbage collection.

At start-up the nodes are listed and the provider sweeps the cloud once
(batched list calls), so that its inventory is warm before any worker plans:
a create then needs no read, and a restart costs a few calls per page of load
balancers instead of several per Service. Afterwards a fast sweep runs every
``resync_interval`` and a deep one (per-resource reads) every
``deep_resync_interval``; only the load balancers a sweep saw drift are
re-planned. Garbage collection works from the sweep's list of what the
cluster owns. None of these loops acts while this replica is not the active one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Mapping
from typing import Any

from cloudlb import sharing
from cloudlb.config import ControllerConfig
from cloudlb.memory import release_freed_heap
from cloudlb.metrics import Metrics
from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb.provider import SweepResult
from cloudlb.reconciler import Reconciler, class_matches, has_finalizer, is_leaving

logger = logging.getLogger(__name__)


def start(reconciler: Reconciler, config: ControllerConfig, metrics: Metrics) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(_warm_up(reconciler), name="cloudlb-warm-up")]
    tasks += [asyncio.create_task(reconciler.run_worker(), name=f"cloudlb-worker-{index}")
              for index in range(config.workers)]
    tasks.append(asyncio.create_task(_sweep_loop(reconciler, config), name="cloudlb-sweep"))
    tasks.append(asyncio.create_task(_gc_loop(reconciler, config, metrics), name="cloudlb-gc"))
    return tasks


async def _warm_up(reconciler: Reconciler) -> None:
    """Nodes first, then one sweep; workers wait for both (a failed sweep only costs reads later)."""
    await reconciler.sync_nodes()
    assert reconciler.active is not None
    await reconciler.active.wait()
    try:
        await sweep(reconciler, deep=False)
    except Exception as error:  # the cloud may be briefly unreachable; observe() reads per load balancer then
        logger.warning("the first sweep of the cloud failed, load balancers will be read one by one: %s", error)
    reconciler.mark_synced()


async def sweep(reconciler: Reconciler, *, deep: bool) -> SweepResult:
    """One sweep: refresh what the cluster owns and re-plan the load balancers that drifted."""
    started = time.monotonic()
    applied_before = dict(reconciler.owned)
    result: SweepResult = await reconciler.call(
        "sweep", functools.partial(reconciler.provider.sweep, deep=deep))
    # What reconciles created while the sweep listed may be missing from its pages: keep it.
    created_meanwhile = {key: members for key, members in reconciler.owned.items() if key not in applied_before}
    reconciler.owned = {**result.owned, **created_meanwhile}
    reconciler.metrics.set_ownership(reconciler.owned)
    reconciler.last_sweep = result
    reconciler.requeue(sorted(result.drifted))
    # A sweep parses a page of every kind of resource the cluster owns: hand the freed heap back.
    release_freed_heap()
    logger.info("%s sweep: %d load balancers owned, %d drifted, %.2fs", "deep" if deep else "fast",
                len(result.owned), len(result.drifted), time.monotonic() - started)
    return result


async def _sweep_loop(reconciler: Reconciler, config: ControllerConfig) -> None:
    next_deep = time.monotonic() + config.deep_resync_interval
    while True:
        await asyncio.sleep(config.resync_interval)
        assert reconciler.active is not None
        await reconciler.active.wait()
        deep = time.monotonic() >= next_deep
        try:
            await sweep(reconciler, deep=deep)
        except Exception as error:
            logger.warning("sweeping the cloud failed; trying again in %.0fs: %s", config.resync_interval, error)
            continue
        if deep:
            next_deep = time.monotonic() + config.deep_resync_interval


async def _gc_loop(reconciler: Reconciler, config: ControllerConfig, metrics: Metrics) -> None:
    # The first collection waits until the Service cache is complete, so that no live Service looks orphaned.
    await asyncio.sleep(config.gc_initial_delay)
    while True:
        assert reconciler.active is not None
        await reconciler.active.wait()
        try:
            result = await sweep(reconciler, deep=False)
            await collect_garbage(reconciler, config, metrics, result.owned)
            await reconciler.call("collect_garbage", reconciler.provider.collect_garbage)
        except Exception:
            logger.exception("garbage collection failed; will try again")
        await asyncio.sleep(config.gc_interval)


async def collect_garbage(reconciler: Reconciler, config: ControllerConfig, metrics: Metrics,
                          owned: Mapping[LoadBalancerKey, frozenset[ServiceRef]]) -> list[LoadBalancerKey]:
    """Queue the load balancers no Service wants any more; their reconcile deletes them.

    The in-memory cache decides only who is a candidate; each recorded member
    is read back from the API server first, so a stale cache can never cost a
    live Service its load balancer.
    """
    assert reconciler.kube is not None
    collected: list[LoadBalancerKey] = []
    for key, recorded in sorted(owned.items()):
        if key in reconciler.members:
            continue  # a live Service maps to it: its own reconcile keeps it in shape
        members = sorted(recorded) if key.shared else [key.service] if key.service else []
        if any([_claims(await reconciler.kube.get_service(ref), key, config, reconciler) for ref in members]):
            continue
        logger.info("%s: no Service wants this load balancer any more; deleting it", key,
                    extra={"service": str(key), "action": "garbage-collect"})
        metrics.garbage_collected.inc()
        reconciler.queue.add(key)
        collected.append(key)
    return collected


def _claims(service: dict[str, Any] | None, key: LoadBalancerKey, config: ControllerConfig,
            reconciler: Reconciler) -> bool:
    """Whether this Service, as the API server has it now, still wants (or is still cleaning up) ``key``."""
    if service is None or not class_matches(service, config):
        return False
    if sharing.key_for(service, reconciler.sharing) != key:
        return False
    return not is_leaving(service) or has_finalizer(service)
