"""``cloudlb plan`` end to end: check the settings as ``run`` does, read the cluster once, plan every load balancer.

The Kubernetes side is two paged list calls (Services, Nodes) with the
controller's own credentials; the cloud side is the provider's sweep and
observe, which only read. Nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import kopf

from cloudlb import connection
from cloudlb.config import ControllerConfig
from cloudlb.planning import PlannedLoadBalancer, plan_cluster
from cloudlb.provider import Provider
from cloudlb.startup import StartupError, start_provider

PAGE = 500
LIST_TIMEOUT = 60.0


def plan(config: ControllerConfig, create: Callable[[], Provider[Any]]) -> list[PlannedLoadBalancer]:
    """Every load balancer's pending changes; ``StartupError`` when the cluster or the cloud cannot be read."""
    provider = start_provider(config.provider, create)
    wants_endpoints = any(offering.targets == "endpoints" for offering in provider.capabilities.offerings)
    services, nodes, slices = asyncio.run(_read_cluster(config, wants_endpoints))
    try:
        return plan_cluster(services, nodes, provider, config, slices)
    except Exception as exc:  # a cloud that cannot be listed: one plain line, as for run's start-up
        raise StartupError(f"could not read the cloud to plan: {type(exc).__name__}: {exc}") from exc


Items = list[dict[str, Any]]


async def _read_cluster(config: ControllerConfig, wants_endpoints: bool) -> tuple[Items, Items, Items]:
    """Services, Nodes and (only for a provider that targets Pods) EndpointSlices."""
    async with connection.ApiSession(kopf.OperatorSettings(), config.api_server) as session:
        await connection.check_api_server(session)
        services, nodes = await _list(session, "/api/v1/services"), await _list(session, "/api/v1/nodes")
        slices = await _list(session, "/apis/discovery.k8s.io/v1/endpointslices") if wants_endpoints else []
        return services, nodes, slices


async def _list(session: connection.ApiSession, path: str) -> list[dict[str, Any]]:
    """All items of a list, page by page (``limit``/``continue``), as large clusters need."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        query = f"?limit={PAGE}" + (f"&continue={token}" if token else "")
        response = await session.request("GET", path + query, seconds=LIST_TIMEOUT)
        if response.status >= 400 or not isinstance(response.body, dict):
            raise StartupError(f"could not list {path} on {session.server}: {response.message}")
        items.extend(response.body.get("items") or [])
        token = str((response.body.get("metadata") or {}).get("continue") or "")
        if not token:
            return items
