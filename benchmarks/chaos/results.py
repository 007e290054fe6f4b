"""What the chaos run measured: the figures, their targets, and the record behind them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunSettings:
    provider: str = "aws"
    services: int = 80
    fault_rate: float = 0.1  # cloud requests that fail
    kube_fault_rate: float = 0.05  # API-server requests answered 500
    kube_conflict_rate: float = 0.02  # API-server PATCH/PUT requests answered 409 (nothing changed)
    watch_cut_rate: float = 0.02  # watch events cut in half (stream reset)
    kills: int = 15
    seed: int = 1
    fuzz: int = 1000  # generated Services that reach the controller
    fuzz_batch: int = 50
    nodes: int = 3
    failovers: int = 2  # kills of the leader with the standby timed (part of ``kills``)
    apiserver_restarts: int = 2
    garbage_collection: bool = True  # SIGKILL during GC (its first pass runs 60 s after a start)
    sample_seconds: float = 30.0  # after each convergence, sampled every second
    converge_timeout: float = 120.0
    outage_seconds: float = 5.0


@dataclass
class Kill:
    phase: str
    trigger: str  # the write seen just before the SIGKILL (or why none)
    pod: str
    seconds: float  # since the run's start


@dataclass
class Phase:
    name: str
    started: float
    converged_after: float | None  # seconds, None when it did not converge in time
    unconverged: list[str] = field(default_factory=list)
    duplicates_max: int = 0  # Services with more than one load balancer, worst sample
    duplicate_samples: int = 0  # (Service, second) samples with a duplicate
    stale_max: int = 0  # Services whose status names another load balancer than the current one
    stale_samples: int = 0
    samples: int = 0
    duplicated: dict[str, int] = field(default_factory=dict)  # Service -> samples with two load balancers
    stale: dict[str, int] = field(default_factory=dict)  # Service -> samples with a stale status


@dataclass
class FuzzOutcome:
    drawn: int = 0
    accepted: int = 0  # created through the API
    planted: int = 0  # refused by validation (422), stored through the emulator's helper
    refused: int = 0  # not storable at all: never reached the controller
    refusals: dict[str, int] = field(default_factory=dict)  # the refused ones by HTTP status
    ours: int = 0
    served: int = 0
    named: int = 0  # not served, with a Warning and a failing condition / port error
    unnamed: list[str] = field(default_factory=list)  # ours, neither served nor named
    other_class: int = 0
    touched_other_class: list[str] = field(default_factory=list)
    stuck_deleting: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)  # why the named ones were not served
    seconds: float = 0.0


@dataclass
class ChaosResult:
    settings: RunSettings
    commit: str = ""
    seconds: float = 0.0
    phases: list[Phase] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    # SIGKILL of the leader -> a Service created at that moment is served (by the standby): Services unserved.
    failover_seconds: list[float] = field(default_factory=list)
    failover_first_write_seconds: list[float] = field(default_factory=list)  # ... -> the standby's first cloud write
    lease_takeover_seconds: list[float] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)  # after delete-all
    leaked_before_fuzz: list[str] = field(default_factory=list)
    foreign_writes: list[str] = field(default_factory=list)
    foreign_changed: list[str] = field(default_factory=list)
    unnamed_services: list[str] = field(default_factory=list)  # main run: no status and no event at convergence
    tracebacks: list[str] = field(default_factory=list)  # the log line before each traceback
    unexpected_errors: list[str] = field(default_factory=list)
    unplanned_exits: list[str] = field(default_factory=list)
    startup_crashes: list[str] = field(default_factory=list)  # exit 1 on one failed start-up read of the API
    gc_orphans_left: list[str] = field(default_factory=list)
    stuck_deleting: list[str] = field(default_factory=list)
    cloud_requests: dict[str, int] = field(default_factory=dict)
    cloud_faults: dict[str, int] = field(default_factory=dict)
    cloud_write_faults: dict[str, int] = field(default_factory=dict)
    kube_counts: dict[str, int] = field(default_factory=dict)
    timeline: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds, served, expected)
    fuzz: FuzzOutcome = field(default_factory=FuzzOutcome)
    notes: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return max((p.duplicates_max for p in self.phases), default=0)

    @property
    def stale(self) -> int:
        return max((p.stale_max for p in self.phases), default=0)

    @property
    def unnamed(self) -> int:
        return (len(self.unnamed_services) + len(self.tracebacks) + len(self.unexpected_errors)
                + len(self.fuzz.unnamed))

    @property
    def failover_max(self) -> float | None:
        return max(self.failover_seconds, default=None)

    def targets(self) -> dict[str, tuple[str, bool]]:
        """Each target: the measured figure as text, and whether it is met."""
        failover = self.failover_max
        return {
            "leaked cloud resources after delete-all": (str(len(self.leaked)), not self.leaked),
            "duplicates (Services with two load balancers, after convergence)": (
                str(self.duplicates), self.duplicates == 0),
            "writes to foreign resources": (str(len(self.foreign_writes) + len(self.foreign_changed)),
                                            not self.foreign_writes and not self.foreign_changed),
            "stale statuses (after convergence)": (str(self.stale), self.stale == 0),
            "unnamed errors": (str(self.unnamed), self.unnamed == 0),
            "fail-over seconds (max)": ("—" if failover is None else f"{failover:.1f}",
                                        failover is not None and failover <= 15.0),
        }
