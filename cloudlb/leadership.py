"""Which replica may act: kopf peering decides, and this gate makes our own workers obey it.

kopf pauses its watch streams when a peer of higher priority is alive, but the
controller's workers, resync and garbage collection run beside kopf's handlers
and would go on acting on what they already hold. This gate reads the same
peering object kopf keeps and applies kopf's own rule (pause while any other
live peer has a priority higher than or equal to ours), so that two replicas
never call the cloud at once.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import errors as kopf_errors

logger = logging.getLogger(__name__)


def is_leader(peers: Mapping[str, Mapping[str, Any]], identity: str, priority: int,
              now: datetime.datetime) -> bool:
    """kopf's rule: we may act unless another live peer's priority is at least ours."""
    for peer_id, info in peers.items():
        if peer_id == identity:
            continue
        try:
            lastseen = datetime.datetime.fromisoformat(str(info["lastseen"]))
            lifetime = datetime.timedelta(seconds=int(info.get("lifetime", 60)))
            peer_priority = int(info.get("priority", 0))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed entry is kopf's to clean up
        if lastseen.tzinfo is None:
            lastseen = lastseen.replace(tzinfo=datetime.UTC)
        if lastseen + lifetime > now and peer_priority >= priority:
            return False
    return True


class LeadershipGate:
    """``active`` is set while this replica may reconcile; standalone replicas are always active."""

    def __init__(self, *, standalone: bool, peering: str, identity: str, priority: int,
                 interval: float = 5.0) -> None:
        self.standalone = standalone
        self.peering = peering
        self.identity = identity
        self.priority = priority
        self.interval = interval
        self.active = asyncio.Event()
        if standalone:
            self.active.set()

    async def watch(self, settings: kopf.OperatorSettings) -> None:
        if self.standalone:
            return
        url = f"/apis/kopf.dev/v1/clusterkopfpeerings/{self.peering}"
        while True:
            try:
                body = cast(dict[str, Any], await kopf_api.get(url=url, settings=settings, logger=logger))
                leader = is_leader(body.get("status") or {}, self.identity, self.priority,
                                   datetime.datetime.now(datetime.UTC))
            except (kopf_errors.APIError, OSError, TimeoutError) as exc:
                logger.warning("cannot read peering %s, pausing until it can be read: %s", self.peering, exc)
                leader = False
            if leader and not self.active.is_set():
                logger.info("this replica is active (peering %s)", self.peering)
                self.active.set()
            elif not leader and self.active.is_set():
                logger.info("another replica is active; pausing (peering %s)", self.peering)
                self.active.clear()
            await asyncio.sleep(self.interval)
