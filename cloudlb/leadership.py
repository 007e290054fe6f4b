"""Which replica acts: the holder of a coordination.k8s.io/v1 Lease, taken and renewed as client-go does it.

Every replica watches Services and Nodes, so a standby's cache is warm, but
only the holder of the lease reconciles, collects garbage or calls the cloud.
The timings are client-go's (and kube-controller-manager's ``--leader-elect-*``
flags): a claim stands for the *lease duration* (15 s) after its last renewal;
the holder renews every *retry period* (2 s) and gives up leading when it could
not renew for the *renew deadline* (10 s); standbys try every retry period.

Three choices make fail-over fast without ever letting two replicas lead:

- **Identity is the pod's name** (``POD_NAME``, else the hostname inside a
  pod). A container restarted in the same pod finds its own name on the lease
  and takes it back at once, instead of waiting out its own dead claim.
- **A clean shutdown releases the lease** (client-go's ``ReleaseOnCancel``):
  the standby takes over on its next try, not a lease duration later.
- **A standby counts from the holder's renewTime**, when that is earlier than
  its own first sight of the renewal, by at most ``observation_lag`` =
  min(retry period, lease duration - renew deadline). Polling every retry
  period, a standby sees each renewal up to a retry period late; this takes
  that lag back, so that it acts one lease duration after the holder's last
  renewal. It never acts too early, whatever the clocks say: the holder counts
  its renew deadline from the *start* of its last successful renewal, so it
  has stopped by then + renew deadline, and the standby waits at least
  (its first sight of that renewal) - lag + lease duration, which is later.

Losing the lease while leading ends the process (as client-go's controllers
do): work in flight cannot be recalled, and a fresh start campaigns cleanly.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import aiohttp

from cloudlb.config import LeaderElection, LeaseTimings
from cloudlb.connection import ApiResponse, ApiSession
from cloudlb.events import micro_time
from cloudlb.startup import StartupError

logger = logging.getLogger(__name__)

LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
# A released lease's duration (client-go): whoever tries next takes it.
RELEASED_DURATION = 1


@dataclass(frozen=True)
class LeaseRecord:
    """The ``spec`` of a Lease: who holds it, since when, renewed when, for how long."""

    holder: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime.datetime | None = None
    renew_time: datetime.datetime | None = None
    transitions: int = 0

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LeaseRecord:
        return cls(holder=str(spec.get("holderIdentity") or ""),
                   lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
                   acquire_time=_parse_time(spec.get("acquireTime")), renew_time=_parse_time(spec.get("renewTime")),
                   transitions=int(spec.get("leaseTransitions") or 0))

    def to_spec(self) -> dict[str, Any]:
        return {"holderIdentity": self.holder, "leaseDurationSeconds": self.lease_duration_seconds,
                "acquireTime": micro_time(self.acquire_time) if self.acquire_time else None,
                "renewTime": micro_time(self.renew_time) if self.renew_time else None,
                "leaseTransitions": self.transitions}


def _parse_time(value: object) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def claimed_by_another(record: LeaseRecord, identity: str) -> bool:
    """Whether someone else's claim is on the lease (an empty holder is a released lease; ours is ours)."""
    return bool(record.holder) and record.holder != identity


def claim_expiry(record: LeaseRecord, observed: float, now: float, wall_now: datetime.datetime,
                 timings: LeaseTimings) -> float:
    """When (monotonic seconds) the claim in ``record``, first seen at ``observed``, lapses."""
    start = observed
    if record.renew_time is not None:
        renewed = now - (wall_now - record.renew_time).total_seconds()
        start = max(min(observed, renewed), observed - timings.observation_lag)
    return start + record.lease_duration_seconds


def taken_over(previous: LeaseRecord | None, identity: str, wall_now: datetime.datetime,
               timings: LeaseTimings) -> LeaseRecord:
    """The record that makes ``identity`` the holder: renewed if it held it, newly acquired otherwise."""
    # Whole seconds in the API: rounded up, so that the recorded claim is never shorter than the holder's own.
    duration = max(1, math.ceil(timings.lease_duration))
    if previous is not None and previous.holder == identity:
        return replace(previous, lease_duration_seconds=duration, renew_time=wall_now,
                       acquire_time=previous.acquire_time or wall_now)
    transitions = previous.transitions + 1 if previous is not None else 0
    return LeaseRecord(identity, duration, wall_now, wall_now, transitions)


def released(previous: LeaseRecord, wall_now: datetime.datetime) -> LeaseRecord:
    """What a holder writes when it stops cleanly (client-go's release)."""
    return LeaseRecord("", RELEASED_DURATION, wall_now, wall_now, previous.transitions)


class LeaseUnavailable(Exception):
    """The lease cannot exist here: the API serves no leases, or the namespace does not exist."""


class LeaseForbidden(Exception):
    """RBAC does not let the controller use the lease: a configuration error, not a passing one."""


class LeaseRequestFailed(Exception):
    """A lease request that failed in a way worth retrying (a 5xx, an unexpected answer)."""


class LeaseApi:
    """GET, POST and PUT of one Lease, with the answers leader election cares about."""

    def __init__(self, session: ApiSession, namespace: str, name: str, timeout: float) -> None:
        self.session = session
        self.namespace = namespace
        self.name = name
        self.timeout = timeout

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}"

    async def get(self) -> dict[str, Any] | None:
        """The Lease, or None when it does not exist yet."""
        response = await self._request("GET", f"/{self.name}")
        if response.status == 404 and response.details_kind == "leases":
            return None
        if response.status == 404:
            raise LeaseUnavailable("this API server does not serve leases (coordination.k8s.io/v1)")
        self._raise_for(response, "read")
        return dict(response.body)

    async def create(self, record: LeaseRecord) -> dict[str, Any] | None:
        """The created Lease, or None when another replica created it first."""
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": record.to_spec()}
        response = await self._request("POST", "", body)
        if response.status == 409:
            return None
        if response.status == 404 and response.details_kind == "namespaces":
            raise LeaseUnavailable(f"the namespace {self.namespace!r} does not exist")
        self._raise_for(response, "create")
        return dict(response.body)

    async def replace(self, lease: Mapping[str, Any], record: LeaseRecord) -> dict[str, Any] | None:
        """The updated Lease, or None when it changed since it was read (resourceVersion moved on)."""
        body = {**lease, "spec": record.to_spec()}
        response = await self._request("PUT", f"/{self.name}", body)
        if response.status == 409:
            return None
        self._raise_for(response, "update")
        return dict(response.body)

    async def _request(self, method: str, suffix: str, body: object | None = None) -> ApiResponse:
        path = LEASES.format(namespace=self.namespace) + suffix
        return await self.session.request(method, path, body, seconds=self.timeout)

    def _raise_for(self, response: ApiResponse, verb: str) -> None:
        if response.status == 403:
            raise LeaseForbidden(f"the controller may not {verb} the lease {self.where} (403 Forbidden): grant "
                                 "get, create and update on leases.coordination.k8s.io in that namespace (the "
                                 "chart's Role does)")
        if response.status >= 400 or not isinstance(response.body, dict):
            raise LeaseRequestFailed(f"could not {verb} the lease {self.where}: {response.status} {response.message}")


class LeaderElector:
    """Campaigns for the lease, keeps it, and says so through ``active`` (set while leading)."""

    def __init__(self, api: LeaseApi, identity: str, timings: LeaseTimings, *,
                 on_change: Callable[[bool], None] = lambda leading: None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)) -> None:
        self.api = api
        self.identity = identity
        self.timings = timings
        self.active = asyncio.Event()
        self.lost = asyncio.Event()  # set when the lease was lost while leading: the process should end
        self._on_change = on_change
        self._clock = clock
        self._wall_clock = wall_clock
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        self._lease: dict[str, Any] | None = None
        self._last_renewal_start = 0.0
        self._retry_at = 0.0

    @property
    def leading(self) -> bool:
        return self.active.is_set()

    async def try_acquire_or_renew(self) -> bool:
        """One attempt (client-go's tryAcquireOrRenew); the Lease* errors and connection errors are raised."""
        started = self._clock()
        wall_now = self._wall_clock()
        if await self._renew_optimistically(started, wall_now):
            return True
        lease = await self.api.get()
        if lease is None:
            record = taken_over(None, self.identity, wall_now, self.timings)
            created = await self.api.create(record)
            return self._took(created, record, started)
        current = LeaseRecord.from_spec(lease.get("spec") or {})
        now = self._clock()
        if current != self._observed:
            self._observed, self._observed_at = current, now
        if claimed_by_another(current, self.identity):
            expiry = claim_expiry(current, self._observed_at, now, self._wall_clock(), self.timings)
            if now < expiry:
                self._retry_at = expiry
                return False
        record = taken_over(current, self.identity, wall_now, self.timings)
        return self._took(await self.api.replace(lease, record), record, started)

    async def _renew_optimistically(self, started: float, wall_now: datetime.datetime) -> bool:
        """client-go's fast path: the leader writes over the lease it last wrote, without reading it first.

        One request instead of two per renewal; if it fails (the lease moved on, or the API server erred), the
        same attempt reads the lease and tries again, so one failed request does not cost a retry period."""
        observed, lease = self._observed, self._lease
        if not self.leading or observed is None or lease is None or observed.holder != self.identity or (
                started - self._last_renewal_start >= self.timings.lease_duration):
            return False
        record = taken_over(observed, self.identity, wall_now, self.timings)
        try:
            renewed = await self.api.replace(lease, record)
        except (LeaseRequestFailed, aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.debug("leader election: renewing without reading the lease failed (%s); reading it", exc)
            return False
        return renewed is not None and self._took(renewed, record, started)

    def _took(self, lease: dict[str, Any] | None, record: LeaseRecord, started: float) -> bool:
        if lease is None:  # another replica wrote first; it holds the lease now
            self._retry_at = 0.0
            return False
        self._lease = lease
        self._observed, self._observed_at = record, self._clock()
        self._last_renewal_start = started
        return True

    async def campaign_once(self) -> None:
        """The first attempt, at start-up: a missing namespace, no leases or a 403 is the caller's to report."""
        try:
            acquired = await self.try_acquire_or_renew()
        except (LeaseRequestFailed, aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.warning("leader election: %s; trying again every %.0fs", exc, self.timings.retry_period)
            return
        if acquired:
            self._set_leading(True)
        else:
            logger.info("the lease %s is held by %s; standing by", self.api.where,
                        self._observed.holder if self._observed else "another replica")

    async def run(self) -> None:
        """Campaign until leading, then renew until the lease is lost (``lost`` is set) or the task is cancelled."""
        while not self.leading:
            await self._sleep_until_next_try()
            if await self._attempt():
                self._set_leading(True)
        while True:
            await asyncio.sleep(self.timings.retry_period)
            if await self._attempt():
                continue
            if self._clock() - self._last_renewal_start >= self.timings.renew_deadline:
                logger.error("lost the lease %s: not renewed within %.0fs; stopping so that a fresh start can "
                             "campaign again", self.api.where, self.timings.renew_deadline)
                self._set_leading(False)
                self.lost.set()
                return

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except (LeaseRequestFailed, LeaseUnavailable, LeaseForbidden, aiohttp.ClientError, TimeoutError,
                OSError) as exc:
            logger.warning("leader election: %s", exc)
            return False

    async def _sleep_until_next_try(self) -> None:
        """Until the next retry period, or sooner when the current claim lapses before it."""
        now = self._clock()
        wake = now + self.timings.retry_period
        if now < self._retry_at < wake:
            wake = self._retry_at
        await asyncio.sleep(max(0.0, wake - now))

    def _set_leading(self, leading: bool) -> None:
        if leading:
            holder = self._observed.holder if self._observed else self.identity
            logger.info("became the leader: holding the lease %s as %s", self.api.where, holder)
            self.active.set()
        else:
            self.active.clear()
        self._on_change(leading)

    async def release(self) -> None:
        """Give the lease up (a clean shutdown): the next replica to try takes it at once."""
        if not self.leading or self._lease is None or self._observed is None:
            return
        self._set_leading(False)
        try:
            done = await self.api.replace(self._lease, released(self._observed, self._wall_clock()))
        except (LeaseRequestFailed, LeaseForbidden, aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.warning("could not release the lease %s (it expires by itself): %s", self.api.where, exc)
            return
        if done is not None:
            logger.info("released the lease %s", self.api.where)


async def join_election(session: ApiSession, election: LeaderElection, namespace: str, identity: str,
                        on_change: Callable[[bool], None]) -> LeaderElector | None:
    """The elector after its first attempt, or None to run without one (no lease can exist, nobody named one).

    A lease the user named explicitly must work: if it cannot exist the controller stops (StartupError), as
    it does on a 403; a default lease that cannot exist is reported once at WARNING and the controller runs
    alone, as kopf does without its peering resource.
    """
    api = LeaseApi(session, namespace, election.lease_name, election.timings.request_timeout)
    elector = LeaderElector(api, identity, election.timings, on_change=on_change)
    try:
        await elector.campaign_once()
    except LeaseForbidden as exc:
        raise StartupError(str(exc)) from exc
    except LeaseUnavailable as exc:
        if election.explicit:
            raise StartupError(f"leader election: {exc}, so the lease {api.where} cannot exist: fix "
                               "--leader-elect-resource-namespace / --leader-elect-resource-name, or run a single "
                               "replica with --leader-elect=false") from exc
        logger.warning("leader election: %s, so the lease %s cannot exist; running without leader election: "
                       "run a single replica, or name an existing namespace with --leader-elect-resource-namespace",
                       exc, api.where)
        return None
    return elector
