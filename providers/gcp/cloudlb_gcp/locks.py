"""A readers-writer lock for the cluster's shared instance groups.

Ensures run in parallel worker threads and all use the same groups: many may
use them at once (shared), from creating a group until their backend service
references it; deleting a group nobody references (exclusive) must wait until
no ensure is in that window, or it could delete a group an ensure is about to use.
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
