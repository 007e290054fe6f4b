"""What every provider does around each cloud API request: rate limiting, shared slow-down, reporting.

Cloud API rate limits, not CPU, are what break load-balancer controllers at
scale. Each provider sorts its requests into *families* (for AWS e.g.
``elbv2-read``, ``elbv2-write``, ``ec2-read``; for GCP ``compute-read``,
``compute-write``), each with a client-side token bucket, and reports every
request's outcome. A throttling answer from the cloud pauses *every* worker's
requests of that family for a while, not just the one that was refused: the
refill rate is per account and region, so one worker backing off alone only
lets the others use up the budget again.
"""

from __future__ import annotations

import enum
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# A family with no configured limit is not rate-limited on the client (the cloud's own throttling still applies).
UNLIMITED = float("inf")
# How long every request of a family waits after a throttling answer, unless the cloud said how long.
THROTTLED_PAUSE = 2.0
MAX_PAUSE = 60.0


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    THROTTLED = "throttled"
    CLIENT_ERROR = "client_error"
    SERVER_ERROR = "server_error"


@dataclass(frozen=True)
class CloudCall:
    """One finished request to a cloud API, as metrics and logs see it."""

    provider: str
    service: str  # the cloud's API: "elbv2", "ec2", "compute", ...
    operation: str  # "DescribeLoadBalancers", "forwardingRules.insert", ...
    outcome: Outcome
    seconds: float
    error_code: str = ""


@dataclass(frozen=True)
class Rate:
    """A token bucket's refill rate (requests per second) and its burst size."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs requests per second > 0 and a burst >= 1")


_RATE = re.compile(r"^\s*([a-z0-9][a-z0-9-]*)\s*=\s*([0-9]+(?:\.[0-9]+)?)(?:\s*/\s*([0-9]+))?\s*$")


def parse_rates(text: str) -> dict[str, Rate]:
    """``"elbv2-read=10/20, ec2-read=20"`` -> per family: rate per second and burst (default: twice the rate).

    Only ASCII digits are accepted: the pattern is spelt out, since ``\\d`` and
    ``str.isdigit`` also take other scripts' digits that ``float`` refuses or misreads.
    """
    rates: dict[str, Rate] = {}
    for item in (part for part in text.split(",") if part.strip()):
        match = _RATE.match(item)
        if match is None:
            raise ValueError(f"{item.strip()!r} is not FAMILY=REQUESTS_PER_SECOND[/BURST], e.g. elbv2-read=10/20")
        family, per_second, burst = match.group(1), float(match.group(2)), match.group(3)
        rates[family] = Rate(per_second, int(burst) if burst else max(1, int(per_second * 2)))
    return rates


class TokenBucket:
    """Thread-safe: ``take`` blocks until a token is free; tokens refill at ``rate.per_second``."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(rate.burst)
        self._stamp = clock()

    def take(self) -> float:
        """Take one token; returns the seconds waited for it."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(float(self._rate.burst), self._tokens + (now - self._stamp) * self._rate.per_second)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                wait = (1 - self._tokens) / self._rate.per_second
            self._sleep(wait)
            waited += wait


class CloudApi:
    """The gate every provider request passes: ``before(family)``, then ``after(call, family)``.

    One instance serves one provider in one process; the core builds it from
    ``--cloud-api-rates`` and hands it to the plugin in ``ProviderSettings``.
    """

    def __init__(self, provider: str, rates: Mapping[str, Rate] | None = None,
                 observer: Callable[[CloudCall], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.provider = provider
        self._rates = dict(rates or {})
        self._observers: list[Callable[[CloudCall], None]] = [observer] if observer else []
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self._paused_until: dict[str, float] = {}

    def add_observer(self, observer: Callable[[CloudCall], None]) -> None:
        with self._lock:
            self._observers.append(observer)

    def _bucket(self, family: str) -> TokenBucket | None:
        rate = self._rates.get(family)
        if rate is None:
            return None
        with self._lock:
            bucket = self._buckets.get(family)
            if bucket is None:
                bucket = self._buckets[family] = TokenBucket(rate, self._clock, self._sleep)
            return bucket

    def before(self, family: str) -> None:
        """Wait out a shared pause after throttling, then for a token of the family's bucket."""
        with self._lock:
            pause = self._paused_until.get(family, 0.0) - self._clock()
        if pause > 0:
            self._sleep(pause)
        bucket = self._bucket(family)
        if bucket is not None:
            bucket.take()

    def after(self, call: CloudCall, family: str, retry_after: float | None = None) -> None:
        """Report a finished request; a throttled one pauses the whole family."""
        if call.outcome is Outcome.THROTTLED:
            self.throttled(family, retry_after)
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            observer(call)

    def throttled(self, family: str, retry_after: float | None = None) -> None:
        pause = min(MAX_PAUSE, retry_after if retry_after is not None else THROTTLED_PAUSE)
        with self._lock:
            until = self._clock() + pause
            self._paused_until[family] = max(self._paused_until.get(family, 0.0), until)
