"""Kubernetes Events on Services, with the reasons the upstream service controller uses.

They are posted directly (kopf's own ``kopf.event`` works only inside its
per-object handlers, and our workers run beside them). A failure to post is
logged and never fails a reconcile: Events are helpful but auxiliary.

Repeats are aggregated the way client-go's event recorder does it: the same
(type, reason, message) on the same object within ``AGGREGATION_WINDOW`` of
its last occurrence updates the existing Event (``count``, ``lastTimestamp``,
``series``) instead of posting another, so a Service failing for an hour
shows one Warning "x120", not 120 objects. Each Event also carries a
microsecond ``eventTime`` and a name that sorts by time (as client-go names
them), so two Events of the same second still list in the order they happened.
Messages are redacted like log lines: no credential ever reaches an Event.
"""

from __future__ import annotations

import collections
import datetime
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import kopf
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import errors as kopf_errors

from cloudlb.redaction import redact

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
# A repeat within this many seconds of the previous occurrence updates the same Event.
AGGREGATION_WINDOW = 600.0
# Events remembered for aggregation, as in client-go's recorder (maxLruCacheEntries).
REMEMBERED_EVENTS = 4096

# (namespace, object name, object uid, type, reason, message): what makes two Events the same.
EventKey = tuple[str, str, str, str, str, str]


@dataclass
class _Posted:
    name: str
    count: int
    last_seen: float  # monotonic seconds


def micro_time(moment: datetime.datetime) -> str:
    """Kubernetes ``MicroTime``: RFC 3339 with exactly six fractional digits."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds_time(moment: datetime.datetime) -> str:
    """Kubernetes ``Time``: RFC 3339 to the second (the API server drops any fraction)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_name(object_name: str, moment: datetime.datetime) -> str:
    """``<object>.<hex nanoseconds>``, as client-go names Events: names sort in time order."""
    nanoseconds = int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
    return f"{object_name}.{nanoseconds:x}"


class EventRecorder:
    def __init__(self, settings: kopf.OperatorSettings, *,
                 wall_clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self.wall_clock = wall_clock
        self.clock = clock  # monotonic seconds; measures the aggregation window
        self._posted: collections.OrderedDict[EventKey, _Posted] = collections.OrderedDict()

    async def normal(self, service: Mapping[str, Any], reason: str, message: str) -> None:
        await self._record(service, "Normal", reason, message)

    async def warning(self, service: Mapping[str, Any], reason: str, message: str) -> None:
        await self._record(service, "Warning", reason, message)

    async def _record(self, service: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        metadata = service.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "default")
        name = str(metadata.get("name") or "service")
        message = redact(message)
        if len(message) > MAX_MESSAGE_LENGTH:
            message = message[: MAX_MESSAGE_LENGTH - 3] + "..."
        key: EventKey = (namespace, name, str(metadata.get("uid") or ""), type_, reason, message)
        now, moment = self.clock(), self.wall_clock()
        try:
            previous = self._posted.get(key)
            recent = previous is not None and now - previous.last_seen <= AGGREGATION_WINDOW
            if recent and previous is not None and await self._repeat(namespace, previous, moment):
                previous.last_seen = now
                self._posted.move_to_end(key)
                return
            posted = await self._create(service, namespace, name, type_, reason, message, moment)
        except (kopf_errors.APIError, aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("could not post Event %s %s on %s/%s: %s", type_, reason, namespace, name, exc)
            return
        self._posted[key] = _Posted(posted, 1, now)
        self._posted.move_to_end(key)
        while len(self._posted) > REMEMBERED_EVENTS:
            self._posted.popitem(last=False)

    async def _repeat(self, namespace: str, previous: _Posted, moment: datetime.datetime) -> bool:
        """Count one more occurrence on the existing Event; False if it is gone (Events expire after an hour)."""
        count = previous.count + 1
        patch = {"count": count, "lastTimestamp": seconds_time(moment),
                 "series": {"count": count, "lastObservedTime": micro_time(moment)}}
        try:
            await kopf_api.patch(url=f"/api/v1/namespaces/{namespace}/events/{previous.name}", payload=patch,
                                 headers={"Content-Type": "application/merge-patch+json"},
                                 settings=self._settings, logger=logger)
        except kopf_errors.APINotFoundError:
            return False
        previous.count = count
        return True

    async def _create(self, service: Mapping[str, Any], namespace: str, name: str, type_: str, reason: str,
                      message: str, moment: datetime.datetime) -> str:
        metadata = service.get("metadata") or {}
        component = self._settings.posting.reporting_component
        event_object_name = event_name(name, moment)
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"namespace": namespace, "name": event_object_name},
            "involvedObject": {"apiVersion": "v1", "kind": "Service", "namespace": namespace,
                               "name": name, "uid": metadata.get("uid"),
                               "resourceVersion": metadata.get("resourceVersion")},
            "type": type_,
            "reason": reason,
            "message": message,
            "action": reason,
            "source": {"component": component},  # the "From" column of `kubectl describe`
            "reportingComponent": component,
            "reportingInstance": self._settings.posting.reporting_instance,
            "eventTime": micro_time(moment),
            "firstTimestamp": seconds_time(moment),
            "lastTimestamp": seconds_time(moment),
            "count": 1,
        }
        await kopf_api.post(url=f"/api/v1/namespaces/{namespace}/events", payload=body,
                            headers={"Content-Type": "application/json"}, settings=self._settings,
                            logger=logger, backoffs=[0.5, 1.0])
        return event_object_name
