"""Long-running operations: RUNNING when a write is accepted, DONE on a later poll."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from google.cloud import compute_v1

from cloudlb_gcp.emulator.errors import not_found
from cloudlb_gcp.emulator.paths import LINK_BASE, ResourcePath

Status = compute_v1.Operation.Status


@dataclass
class _Pending:
    operation: compute_v1.Operation
    polls_left: int


@dataclass
class Operations:
    """Every operation the emulator started, by scope path (``regions/R``, ``zones/Z``, ``global``)."""

    project: str
    polls_until_done: int = 1
    _pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def start(self, target: ResourcePath, operation_type: str, error: str | None = None) -> compute_v1.Operation:
        number = next(self._ids)
        name = f"operation-{number:08d}"
        where = target.where
        operation = compute_v1.Operation(
            kind="compute#operation",
            id=number,
            name=name,
            operation_type=operation_type,
            status=Status.RUNNING if self.polls_until_done > 0 else Status.DONE,
            progress=0,
            target_link=target.link,
            self_link=f"{LINK_BASE}projects/{self.project}/{where}/operations/{name}",
        )
        if error:
            operation.error = compute_v1.Error(errors=[compute_v1.Errors(code=error, message=f"injected {error}")])
            operation.http_error_status_code = 400
        if target.scope == "regions":
            operation.region = target.scope_link()
        elif target.scope == "zones":
            operation.zone = target.scope_link()
        self._pending[(where, name)] = _Pending(operation, self.polls_until_done)
        return compute_v1.Operation(operation)

    def poll(self, where: str, name: str) -> compute_v1.Operation:
        """One look at an operation; each look brings it closer to DONE."""
        pending = self._pending.get((where, name))
        if pending is None:
            raise not_found(f"projects/{self.project}/{where}/operations/{name}")
        if pending.polls_left > 0:
            pending.polls_left -= 1
        if pending.polls_left == 0:
            pending.operation.status = Status.DONE  # type: ignore[assignment]
            pending.operation.progress = 100
        return compute_v1.Operation(pending.operation)
