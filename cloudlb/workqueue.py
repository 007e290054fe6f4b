"""A keyed work queue in the manner of client-go's: one entry per key, never two workers on one key.

A key added while it is being processed is processed again afterwards, so no
change is lost; a key added many times while waiting is processed once.
Delayed adds implement the capped exponential backoff of failed keys.

Two priorities, as controller-runtime's priority queue (``WithLowPriorityWhenUnchanged``):
what only re-checks a key (the initial listing of objects, a full re-sync, a
drift sweep) is ``low`` and waits behind every change a client or the cluster
made (a Service created or edited, a node gone, a retry). A replica that takes
over the lease holds every Service of the cluster in its queue from its initial
listing; a Service created meanwhile must not wait behind all of them.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._high: collections.deque[K] = collections.deque()
        self._low: collections.deque[K] = collections.deque()
        self._ready = asyncio.Event()
        self._waiting: dict[K, bool] = {}  # key -> low priority
        self._active: set[K] = set()
        self._again: dict[K, bool] = {}  # added while active -> low priority
        self._timers: dict[K, asyncio.TimerHandle] = {}

    def add(self, key: K, *, low: bool = False) -> None:
        """Process ``key`` (again); ``low``: only a re-check, after every key added without it."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if key in self._active:
            self._again[key] = self._again.get(key, True) and low
        elif key not in self._waiting:
            self._waiting[key] = low
            (self._low if low else self._high).append(key)
            self._ready.set()
        elif self._waiting[key] and not low:  # promoted: its place in the low line is skipped later
            self._waiting[key] = False
            self._high.append(key)
            self._ready.set()

    def prioritise(self, urgent: Callable[[K], bool]) -> None:
        """Sort the waiting keys again: the ``urgent`` ones first, the rest low, each in its present order."""
        waiting = [k for k in self._high if self._waiting.get(k) is False]
        waiting += [k for k in self._low if self._waiting.get(k) is True]
        self._high.clear()
        self._low.clear()
        for key in waiting:
            low = not urgent(key)
            self._waiting[key] = low
            (self._low if low else self._high).append(key)

    def add_after(self, key: K, delay: float) -> None:
        """Add the key after ``delay`` seconds, unless something adds it sooner."""
        if key in self._waiting or key in self._timers:
            return
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def get(self) -> K:
        while True:
            key = self._next()
            if key is not None:
                self._active.add(key)
                return key
            self._ready.clear()
            await self._ready.wait()

    def _next(self) -> K | None:
        while self._high:
            key = self._high.popleft()
            if self._waiting.get(key) is False:
                del self._waiting[key]
                return key
        while self._low:
            key = self._low.popleft()
            if self._waiting.get(key) is True:
                del self._waiting[key]
                return key
        return None

    def done(self, key: K) -> None:
        self._active.discard(key)
        if key in self._again:
            self.add(key, low=self._again.pop(key))

    def pending(self) -> int:
        return len(self._waiting) + len(self._active) + len(self._timers)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class Backoff(Generic[K]):
    """Per-key capped exponential delays: base, 2*base, 4*base ... cap; reset on success."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[K, int] = {}

    def next_delay(self, key: K) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return float(min(self.cap, self.base * (2**failures)))

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def reset(self, key: K) -> None:
        self._failures.pop(key, None)
