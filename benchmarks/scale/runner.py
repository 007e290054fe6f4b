"""Every scenario at one size, for one provider: the floor script first, then ``cloudlb run``.

The controller runs four times against the same cloud and cluster:

1. long intervals: idle with no Services, create N, node added, node removed, port edit; then SIGKILL;
2. long intervals: the first re-sync after that restart, until idle; then stopped;
3. re-sync and GC every R seconds (R from the restart's length, so that one sweep ends before
   the next begins): ``steady_periods`` no-change periods; then stopped;
4. long intervals: delete every Service, until every finalizer is gone and the cloud is empty.

"Idle" is seen from outside only: the queue-depth metric is 0 and no cloud request came
through the controller's door for ``quiet`` seconds. A scenario's time is when the
Kubernetes side shows the result (create: all ingresses; delete: all Services gone), else
the time of the scenario's last cloud request; the check that it converged reads the cloud.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.scale import results as r
from benchmarks.scale.cloud import CloudProcess
from benchmarks.scale.cluster import NAMESPACE, Cluster, service_names
from benchmarks.scale.controller import ControllerMetrics, ControllerProcess, Settings
from benchmarks.scale.counting import DoorCounts
from benchmarks.scale.floor import Floor
from benchmarks.scale.floor_aws import AWSFloor
from benchmarks.scale.floor_gcp import GCPFloor
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.sandbox_cloud import SandboxInstance

logger = logging.getLogger(__name__)

CLUSTER = "bench"
LONG_INTERVAL = 3600.0
MIN_PERIOD = 5.0
POLL = 0.25
FloorScript = Callable[[CloudProcess, list[str], list[SandboxInstance]], Floor]
FLOORS: dict[str, FloorScript] = {"aws": AWSFloor, "gcp": GCPFloor}

Check = Callable[[], tuple[bool, str]]


@dataclass(frozen=True)
class RunSettings:
    logs: Path  # the cloud's and the controller's logs
    commit: str
    quiet: float = 1.5  # seconds without a cloud request, queue empty: the controller is idle
    steady_periods: int = 2
    nodes: int = 3
    timeout: float | None = None  # per scenario; default 120 s + 3 s per Service

    def timeout_for(self, services: int) -> float:
        return self.timeout or 120.0 + 3.0 * services


def run_size(provider: str, services: int, settings: RunSettings) -> r.SizeResult:
    started, load, clock = datetime.now(UTC), os.getloadavg()[0], time.monotonic()
    settings.logs.mkdir(parents=True, exist_ok=True)
    with (CloudProcess(provider, settings.nodes + 1, CLUSTER, settings.logs / "cloud.log") as cloud,
          EmulatedKubernetes() as kube):
        names = service_names(services)
        floors = measure_floor(FLOORS[provider](cloud, names, cloud.instances[:settings.nodes]), cloud, names)
        kubeconfig = kube.write_kubeconfig(settings.logs / "kubeconfig")
        run = ControllerRun(provider, cloud, Cluster(kube, provider), kubeconfig, names, settings, floors)
        scenarios = run.all()
    return r.SizeResult(provider, services, settings.commit, started.isoformat(timespec="seconds"),
                        os.cpu_count() or 0, (load, os.getloadavg()[0]), time.monotonic() - clock, scenarios)


def measure_floor(floor: Floor, cloud: CloudProcess, names: list[str]) -> dict[str, r.FloorResult]:
    spare = cloud.instances[-1]
    measured: dict[str, r.FloorResult] = {}
    steps: list[tuple[str, Callable[[], None]]] = [
        (r.CREATE, floor.create), (r.NODE_ADD, lambda: floor.add_node(spare)),
        (r.NODE_REMOVE, lambda: floor.remove_node(spare)), (r.PORT_EDIT, lambda: floor.edit_port(names[0])),
        (r.DELETE, floor.delete_all),
    ]
    try:
        for key, step in steps:
            before, clock = cloud.counts("floor"), time.monotonic()
            step()
            seconds = time.monotonic() - clock
            measured[key] = r.FloorResult(r.Tally.of(cloud.counts("floor").since(before)), seconds)
            logger.info("floor %s: %d calls, %.1f s", key, measured[key].tally.total, seconds)
    finally:
        floor.close()
    if left := cloud.leftovers():
        raise RuntimeError(f"the floor script left {len(left)} resources behind: {left[:5]}")
    return measured


class ControllerRun:
    def __init__(self, provider: str, cloud: CloudProcess, cluster: Cluster, kubeconfig: Path, names: list[str],
                 settings: RunSettings, floors: dict[str, r.FloorResult]) -> None:
        self.provider, self.cloud, self.cluster, self.kubeconfig = provider, cloud, cluster, kubeconfig
        self.names, self.settings, self.floors = names, settings, floors
        self.timeout = settings.timeout_for(len(names))
        self.nodes = list(cloud.instances[:settings.nodes])
        self.spare = cloud.instances[-1]
        self.results: list[r.ScenarioResult] = []

    def start(self, interval: float) -> ControllerProcess:
        return ControllerProcess(Settings(self.provider, CLUSTER, self.kubeconfig, self.cloud.options,
                                          self.cloud.environment, interval, interval),
                                 self.settings.logs / "controller.log")

    def all(self) -> list[r.ScenarioResult]:
        for node in self.nodes:
            self.cluster.add_node(node)
        spawned = self.cloud.counts("controller")
        ctl = self.start(LONG_INTERVAL)
        try:
            self.idle(ctl, spawned)
            self.create(ctl)
            self.node_change(ctl, r.NODE_ADD, self.spare, add=True)
            self.node_change(ctl, r.NODE_REMOVE, self.spare, add=False)
            self.port_edit(ctl)
        finally:
            ctl.kill()
        sync = self.restart()
        self.steady(period=max(MIN_PERIOD, math.ceil(1.5 * (sync or self.timeout) + 2 * self.settings.quiet)))
        self.delete_all()
        return self.results

    # -- observing the controller ------------------------------------------------------------------

    def idle_counts(self, ctl: ControllerProcess, since: DoorCounts, *, need_calls: bool = True) -> DoorCounts | None:
        """The door's counts if the controller is idle now (queue empty, quiet), else None."""
        ctl.check_alive()
        counts = self.cloud.counts("controller")
        last = counts.last_answered if counts.last_answered is not None else ctl.started
        if need_calls and counts.total == since.total:
            return None
        if time.monotonic() - last < self.quiet or ctl.metrics().queue_depth:
            return None
        return counts

    @property
    def quiet(self) -> float:
        """Quiet long enough to mean idle: longer at large N, where the watch delivers a thousand events
        over seconds and the queue can be empty between them (N = 1,000 was once called idle mid-delete)."""
        return max(self.settings.quiet, len(self.names) / 250)

    def wait_planned_all(self, ctl: ControllerProcess, deadline: float) -> None:
        """Until a (re)started controller has planned every load balancer once: its start-up re-sync is done."""
        while ctl.metrics().provider_calls["plan"] < len(self.names) and time.monotonic() < deadline:
            ctl.check_alive()
            time.sleep(POLL)

    def wait_idle(self, ctl: ControllerProcess, since: DoorCounts, deadline: float, *,
                  need_calls: bool = True) -> DoorCounts | None:
        while time.monotonic() < deadline:
            if (counts := self.idle_counts(ctl, since, need_calls=need_calls)) is not None:
                return counts
            time.sleep(POLL)
        return None

    def wait_reached(self, ctl: ControllerProcess, since: DoorCounts, reached: Callable[[], bool],
                     clock: float, deadline: float) -> float | None:
        """Seconds from ``clock`` until ``reached()``; None if the controller went idle first, or time ran out."""
        interval = 0.1 + len(self.names) / 5000  # listing the Services costs the API server more at large N
        while time.monotonic() < deadline:
            checked = time.monotonic()
            if reached():
                return time.monotonic() - clock
            # The listing runs in the process that serves the controller's API too: at most a fifth of its time.
            cost = time.monotonic() - checked
            if self.idle_counts(ctl, since) is not None:
                return None
            time.sleep(max(interval, 4 * cost))
        return None

    def record(self, key: str, ctl: ControllerProcess, before: DoorCounts, after: DoorCounts | None,
               seconds: float | None, check: Check, baseline: ControllerMetrics | None, cpu_before: float,
               periods: int = 1, note: str = "") -> None:
        converged, checked = check()
        if after is None:
            after, converged = self.cloud.counts("controller"), False
            checked = f"still busy after {self.timeout:.0f}s; {checked}"
        provider_calls = ctl.metrics().provider_calls - (baseline.provider_calls if baseline else Counter())
        result = r.ScenarioResult(
            key, r.Tally.of(after.since(before), periods), seconds, converged,
            "; ".join(n for n in (note, checked) if n), ctl.rss_mib(), ctl.cpu_seconds() - cpu_before,
            dict(sorted(provider_calls.items())), self.floors.get(key))
        self.results.append(result)
        # Progress for long runs: what is measured so far survives a run that is stopped.
        logger.info("%s: %d calls (%d reads, %d writes), %s s, converged: %s %s", key, result.tally.total,
                    result.tally.reads, result.tally.writes, "—" if seconds is None else f"{seconds:.1f}",
                    converged, result.note)

    def measure(self, key: str, ctl: ControllerProcess, action: Callable[[], None], check: Check,
                reached: Callable[[], bool] | None = None) -> None:
        before, baseline, cpu = self.cloud.counts("controller"), ctl.metrics(), ctl.cpu_seconds()
        clock = time.monotonic()
        deadline = clock + self.timeout
        action()
        seconds = self.wait_reached(ctl, before, reached, clock, deadline) if reached else None
        after = self.wait_idle(ctl, before, deadline)
        last = after.last_answered - clock if after is not None and after.last_answered is not None else None
        note = ""
        if reached is None:
            seconds = last
        elif seconds is None and last is not None:
            note = f"never reached: the controller went idle {last:.1f}s after the start"
        self.record(key, ctl, before, after, seconds, check, baseline, cpu, note=note)

    # -- the checks, read from the cloud and the cluster ------------------------------------------

    def backends_match(self) -> tuple[bool, str]:
        found = self.cloud.backends([node.provider_id for node in self.nodes])
        if not found["groups"]:
            return False, "no target or instance group found"
        if found["mismatched"]:
            mismatched = found["mismatched"]
            return False, f"{len(mismatched)} of {found['groups']} groups differ, e.g. {mismatched[0]}"
        return True, ""

    def ingresses(self) -> tuple[bool, str]:
        ready, wanted = self.cluster.with_ingress(), len(self.names)
        return ready == wanted, "" if ready == wanted else f"{ready}/{wanted} have an ingress"

    # -- the scenarios -----------------------------------------------------------------------------

    def idle(self, ctl: ControllerProcess, spawned: DoorCounts) -> None:
        """Started, watching, nothing to do: what it costs to exist (RSS, calls)."""
        # Its provider may take seconds to create (loading a cloud SDK): not a Service's time.
        acting = ctl.wait_acting()
        time.sleep(self.settings.quiet)  # let its watches start before it is called idle
        after = self.wait_idle(ctl, spawned, time.monotonic() + self.timeout, need_calls=False)
        self.record(r.IDLE, ctl, spawned, after, None, lambda: (True, ""), None, 0.0,
                    note=f"acting {acting:.1f}s after its start (provider created)")

    def create(self, ctl: ControllerProcess) -> None:
        self.measure(r.CREATE, ctl, lambda: self.cluster.create_services(self.names), self.ingresses,
                     reached=lambda: self.cluster.with_ingress() == len(self.names))

    def node_change(self, ctl: ControllerProcess, key: str, node: SandboxInstance, *, add: bool) -> None:
        def change() -> None:
            if add:
                self.nodes.append(node)
                self.cluster.add_node(node)
            else:
                self.nodes.remove(node)
                self.cluster.remove_node(node)
        self.measure(key, ctl, change, self.backends_match)

    def port_edit(self, ctl: ControllerProcess) -> None:
        name, wanted = self.names[0], self.cluster.edited_ports()

        def check() -> tuple[bool, str]:
            ports = self.cloud.frontend_ports(NAMESPACE, name)
            return ports == wanted, "" if ports == wanted else f"{name} listens on {ports}, not {wanted}"
        self.measure(r.PORT_EDIT, ctl, lambda: self.cluster.edit_port(name), check)

    def restart(self) -> float | None:
        """The first re-sync of a new process over N existing Services, timed from the process start.

        Returns how long the sync itself took (from the controller's start-up handlers to its
        last cloud request), which sets the re-sync period of the steady state.
        """
        ready = self.cluster.with_ingress()
        before, clock = self.cloud.counts("controller"), time.monotonic()
        ctl = self.start(LONG_INTERVAL)
        try:
            # Idle only once it has planned every load balancer: at large N the first plan comes seconds after
            # the start-up check's read, long enough to look quiet (N = 1,000 once counted 1 read in all).
            deadline = clock + self.timeout
            self.wait_planned_all(ctl, deadline)
            after = self.wait_idle(ctl, before, deadline)
            seconds = after.last_answered - clock if after and after.last_answered else None

            def unchanged() -> tuple[bool, str]:
                now = self.cluster.with_ingress()
                return now == ready, f"{now}/{len(self.names)} have an ingress"
            self.record(r.RESTART, ctl, before, after, seconds, unchanged, None, 0.0)
        finally:
            ctl.stop()
        return after.last_answered - ctl.ready_at if after and after.last_answered else None

    def steady(self, period: float) -> None:
        """``steady_periods`` re-sync periods with nothing to change, averaged."""
        spawned = self.cloud.counts("controller")
        ctl = self.start(period)
        try:
            ctl.wait_acting()
            # Its start-up re-sync is not a period's cost: at N = 1,000 it was still running when the count began.
            self.wait_planned_all(ctl, time.monotonic() + self.timeout)
            before = self.wait_idle(ctl, spawned, time.monotonic() + self.timeout) or self.cloud.counts("controller")
            baseline, cpu, opened = ctl.metrics(), ctl.cpu_seconds(), time.monotonic()
            periods = self.settings.steady_periods
            time.sleep(periods * period)
            after = self.wait_idle(ctl, before, time.monotonic() + self.timeout, need_calls=False)
            note = f"{periods} periods of {period:.0f}s (re-sync and GC interval); provider calls for all periods"
            if opened - ctl.ready_at > period:
                note += "; the start-up sync outlasted one period, so a period may be counted twice"
            self.record(r.STEADY, ctl, before, after, None, self.backends_match, baseline, cpu, periods, note)
        finally:
            ctl.stop()

    def delete_all(self) -> None:
        spawned = self.cloud.counts("controller")
        ctl = self.start(LONG_INTERVAL)
        try:
            ctl.wait_acting()
            self.wait_planned_all(ctl, time.monotonic() + self.timeout)
            self.wait_idle(ctl, spawned, time.monotonic() + self.timeout)

            def cloud_empty() -> tuple[bool, str]:
                left = self.cloud.leftovers()
                return not left and not self.cluster.services(), f"{len(left)} cloud resources left" if left else ""
            self.measure(r.DELETE, ctl, lambda: self.cluster.delete_services(self.names), cloud_empty,
                         reached=lambda: not self.cluster.services())
        finally:
            ctl.stop()
