"""A readers-writer lock for the cluster's shared instance groups.

Workers write at once and all use the same groups: many may create a group or
write a backend service (which names groups) at the same time (shared);
deleting a group (exclusive) waits until none of those writes is in flight, so
that its check that no backend service uses the group sees every one of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SharedUse:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._users = 0
        self._removing = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._removing)
            self._users += 1
        try:
            yield
        finally:
            with self._condition:
                self._users -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._removing and self._users == 0)
            self._removing = True
        try:
            yield
        finally:
            with self._condition:
                self._removing = False
                self._condition.notify_all()
