"""What one run measures, as plain values that are saved as JSON and rendered by ``report``."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.scale.classify import KINDS, Call

# Scenario keys, in the order they run and are shown.
IDLE, CREATE, NODE_ADD, NODE_REMOVE, PORT_EDIT, RESTART, STEADY, DELETE = (
    "idle", "create", "node-add", "node-remove", "port-edit", "restart", "steady", "delete-all")
SCENARIOS = (IDLE, CREATE, NODE_ADD, NODE_REMOVE, PORT_EDIT, RESTART, STEADY, DELETE)
LABELS = {
    IDLE: "controller idle, no Services",
    CREATE: "create N Services (2 TCP ports) → all ingress",
    NODE_ADD: "node added",
    NODE_REMOVE: "node removed",
    PORT_EDIT: "port edit (one Service, 80 → 8080)",
    RESTART: "first re-sync after a restart (SIGKILL, start)",
    STEADY: "steady state, per re-sync period (no change)",
    DELETE: "delete all Services → finalizers gone",
}


def services_touched(scenario: str, services: int) -> int:
    """How many Services a scenario changes: the port edit changes one, every other scenario all N."""
    return 1 if scenario == PORT_EDIT else services


@dataclass(frozen=True)
class Tally:
    """Cloud requests by operation, each operation being a read, a write or an operation poll."""

    by_operation: dict[str, int]
    by_kind: dict[str, int]

    @classmethod
    def of(cls, calls: Counter[Call], periods: int = 1) -> Tally:
        """The calls, divided by ``periods`` (rounded) when they span several equal periods."""
        operations: Counter[str] = Counter()
        kinds: Counter[str] = Counter({kind: 0 for kind in KINDS})
        for call, n in calls.items():
            operations[call.operation] += n
            kinds[call.kind] += n
        return cls({op: round(n / periods) for op, n in sorted(operations.items())},
                   {kind: round(n / periods) for kind, n in kinds.items()})

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    @property
    def reads(self) -> int:
        return self.by_kind.get("read", 0)

    @property
    def writes(self) -> int:
        return self.by_kind.get("write", 0)

    @property
    def polls(self) -> int:
        return self.by_kind.get("poll", 0)


@dataclass(frozen=True)
class FloorResult:
    tally: Tally
    seconds: float


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    tally: Tally
    seconds: float | None  # None: not timed (idle, steady) or never reached
    converged: bool
    note: str
    rss_mib: float
    cpu_seconds: float  # the controller's CPU time during the scenario
    # The core's calls of the provider plugin's methods inside the scenario (from the controller's
    # metrics): ensure, delete, list_owned (a GC pass) before contract v2; sweep, observe, apply... after.
    provider_calls: dict[str, int]
    floor: FloorResult | None = None

    @property
    def ratio(self) -> float | None:
        """Controller time over floor time, measured in the same run."""
        if self.seconds is None or self.floor is None or self.floor.seconds <= 0:
            return None
        return self.seconds / self.floor.seconds


@dataclass(frozen=True)
class SizeResult:
    provider: str
    services: int
    commit: str
    started: str  # UTC, ISO 8601
    cpus: int
    load: tuple[float, float]  # 1-minute load average when the run started and ended
    wall_seconds: float
    scenarios: list[ScenarioResult] = field(default_factory=list)

    def scenario(self, key: str) -> ScenarioResult | None:
        return next((s for s in self.scenarios if s.scenario == key), None)

    def calls_per_service(self, key: str) -> float | None:
        found = self.scenario(key)
        if found is None or key == IDLE:
            return None
        return found.tally.total / services_touched(key, self.services)


def _tally(data: dict[str, Any]) -> Tally:
    return Tally(data["by_operation"], data["by_kind"])


def _scenario(data: dict[str, Any]) -> ScenarioResult:
    floor = data.get("floor")
    return ScenarioResult(**{**data, "tally": _tally(data["tally"]),
                             "floor": FloorResult(_tally(floor["tally"]), floor["seconds"]) if floor else None})


def load(path: Path) -> list[SizeResult]:
    if not path.exists():
        return []
    return [SizeResult(**{**size, "load": tuple(size["load"]), "scenarios": [_scenario(s) for s in size["scenarios"]]})
            for size in json.loads(path.read_text())]


def save(path: Path, sizes: list[SizeResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(size) for size in sorted(sizes, key=lambda s: s.services)], indent=1) + "\n")


def merged(earlier: list[SizeResult], new: list[SizeResult]) -> list[SizeResult]:
    """The new runs, plus the earlier runs of sizes not run again."""
    sizes = {size.services for size in new}
    return [size for size in earlier if size.services not in sizes] + new
