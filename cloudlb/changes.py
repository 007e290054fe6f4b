"""What a provider's ``plan`` decides: the ordered cloud changes for one load balancer, each with its reason.

A plan is a value: it is computed without I/O from the desired load balancer
and the observed inventory, printed by ``cloudlb plan``, compared in unit tests
and executed by the provider's ``apply``. Each change carries a
provider-private ``payload`` (the request to send), which is neither printed
nor compared.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudlb.model import LoadBalancerKey

logger = logging.getLogger(__name__)


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class Change:
    """One write to the cloud: what is done to which resource, and why.

    ``resource`` is the kind ("load-balancer", "listener", "targets", ...),
    ``name`` the cloud's name or id of the one resource, ``reason`` what the plan
    saw that makes the write necessary ("missing", "port 80: TCP -> UDP", ...).
    """

    action: Action
    resource: str
    name: str
    reason: str
    payload: Any = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.action} {self.resource} {self.name}: {self.reason}"


@dataclass(frozen=True)
class ChangePlan:
    """The changes that make one load balancer what its Services want, in the order they must run.

    ``retire`` holds what those changes replace (a load balancer of the other
    scheme or type, which AWS cannot change in place): it is deleted only once
    every member's status names the replacement, so clients are never left
    with an address that no longer answers.
    """

    key: LoadBalancerKey
    changes: tuple[Change, ...] = ()
    retire: tuple[Change, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes and not self.retire

    def all_changes(self) -> tuple[Change, ...]:
        return self.changes + self.retire

    def retiring(self) -> tuple[Change, ...]:
        """What is to be retired once this plan was applied.

        A provider whose plan had to read facts first plans again inside ``apply``; it overrides
        this so that the replacement that second plan found is retired too.
        """
        return self.retire


def run_changes(key: LoadBalancerKey, changes: Iterable[Change], run_one: Callable[[Change], None]) -> None:
    """Run ``changes`` in order, one log line per cloud write; the first failure stops the rest.

    Stopping is safe because every plan is recomputed from the inventory on
    the next attempt: what was done is not done again, what was not is planned again.
    """
    for done, change in enumerate(changes):
        started = time.monotonic()
        try:
            run_one(change)
        except Exception as error:
            logger.warning("%s: %s failed after %.2fs: %s", key, change, time.monotonic() - started, error)
            if done:  # changes before this one were done
                setattr(error, _PROGRESS, True)
            raise
        logger.info("%s: %s (%.2fs)", key, change, time.monotonic() - started)


_PROGRESS = "_cloudlb_made_progress"


def made_progress(error: BaseException) -> bool:
    """Whether ``error`` stopped a run of changes after at least one of them was done.

    Such a failure is not the same failure again: the next attempt starts where this one stopped, so
    the core retries it after the base delay instead of backing off further (with a few faulty calls
    among a dozen writes, doubling on every one of them reached minutes).
    """
    return bool(getattr(error, _PROGRESS, False))
