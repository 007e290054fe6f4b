"""Kubernetes Events on Services, with the reasons the upstream service controller uses.

They are posted directly (kopf's own ``kopf.event`` works only inside its
per-object handlers, and our workers run beside them). A failure to post is
logged and never fails a reconcile: Events are helpful but auxiliary.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import kopf
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import errors as kopf_errors

logger = logging.getLogger(__name__)

ENSURING = "EnsuringLoadBalancer"
ENSURED = "EnsuredLoadBalancer"
UPDATED = "UpdatedLoadBalancer"
SYNC_FAILED = "SyncLoadBalancerFailed"
DELETING = "DeletingLoadBalancer"
DELETED = "DeletedLoadBalancer"
DELETE_FAILED = "DeleteLoadBalancerFailed"
UNAVAILABLE = "UnAvailableLoadBalancer"
NOT_OWNED = "LoadBalancerNotOwned"
PROVIDER_WARNING = "LoadBalancerWarning"

MAX_MESSAGE_LENGTH = 1024


class EventRecorder:
    def __init__(self, settings: kopf.OperatorSettings) -> None:
        self._settings = settings

    async def normal(self, service: Mapping[str, Any], reason: str, message: str) -> None:
        await self._post(service, "Normal", reason, message)

    async def warning(self, service: Mapping[str, Any], reason: str, message: str) -> None:
        await self._post(service, "Warning", reason, message)

    async def _post(self, service: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        metadata = service.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "default")
        if len(message) > MAX_MESSAGE_LENGTH:
            message = message[: MAX_MESSAGE_LENGTH - 3] + "..."
        now = datetime.datetime.now(datetime.UTC)
        component = self._settings.posting.reporting_component
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"namespace": namespace, "generateName": f"{metadata.get('name', 'service')}."},
            "involvedObject": {"apiVersion": "v1", "kind": "Service", "namespace": namespace,
                               "name": metadata.get("name"), "uid": metadata.get("uid"),
                               "resourceVersion": metadata.get("resourceVersion")},
            "type": type_,
            "reason": reason,
            "message": message,
            "action": reason,
            "source": {"component": component},  # the "From" column of `kubectl describe`
            "reportingComponent": component,
            "reportingInstance": self._settings.posting.reporting_instance,
            "firstTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "count": 1,
        }
        try:
            await kopf_api.post(url=f"/api/v1/namespaces/{namespace}/events", payload=body,
                                headers={"Content-Type": "application/json"}, settings=self._settings,
                                logger=logger, backoffs=[0.5, 1.0])
        except (kopf_errors.APIError, aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("could not post Event %s %s on %s/%s: %s", type_, reason, namespace,
                           metadata.get("name"), exc)
