"""Fail-over: how long Services go unserved when the leading replica dies, restarts or hands over.

Real ``cloudlb run`` processes (the example provider) against the emulated
Kubernetes API over HTTP, with leader election on a Lease and client-go's
timings (15 s / 10 s / 2 s unless given). Each scenario measures from the event
(SIGKILL of the leader, the restart of a killed replica, SIGTERM of the leader)
until a Service created right after it has an ingress address, i.e. until some
replica acts again:

- ``kill leader``: two replicas, the leader is SIGKILLed; the standby takes over
  once the dead leader's claim lapses. Target: <= 15 s.
- ``restart, same pod``: one replica, SIGKILLed and started again under the same
  pod name (a container restart); includes the process start. Target: <= 5 s.
- ``restart, new pod``: the same with another name (a replacement pod): it must
  wait out the dead claim, for comparison.
- ``SIGTERM leader``: two replicas, the leader stops cleanly and releases the Lease.

Prints a Markdown table and saves it with a PNG plot under benchmarks/results/.

    uv run --group dev python benchmarks/failover.py [--runs 3] [--lease-duration 15]
        [--renew-deadline 10] [--retry-period 2]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cloudlb.config import LeaseTimings
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import node_manifest, service_manifest, wait_for

RESULTS = Path(__file__).resolve().parent / "results"
CLOUDLB = str(Path(sys.executable).parent / "cloudlb")
LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "cloudlb"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Replica:
    pod: str
    health: int
    process: subprocess.Popen[bytes]
    log: Path

    def ready(self) -> bool:
        return _ready(self.health)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class FailoverCluster:
    """The emulated API with two nodes, and the controller replicas started against it."""

    kube: EmulatedKubernetes
    folder: Path
    timings: LeaseTimings
    replicas: list[Replica] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    _services: int = 0

    def start(self, pod: str) -> Replica:
        health = _free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith(("KUBECONFIG", "CLOUDLB_"))}
        env.update(KUBECONFIG=str(self.kube.write_kubeconfig(self.folder / "kubeconfig")), POD_NAME=pod,
                   HOME=str(self.folder))
        t = self.timings
        args = [CLOUDLB, "run", "--provider", "example", "--cluster-name", "failover", "--serve-unclassed",
                "--metrics-port", "0", "--health-port", str(health), "--leader-elect-resource-name", LEASE_NAME,
                "--leader-elect-resource-namespace", LEASE_NAMESPACE,
                f"--leader-elect-lease-duration={t.lease_duration}s",
                f"--leader-elect-renew-deadline={t.renew_deadline}s", f"--leader-elect-retry-period={t.retry_period}s"]
        log = self.folder / f"{pod}-{len(self.replicas)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(args, env=env, stdout=sink, stderr=subprocess.STDOUT)
        replica = Replica(pod, health, process, log)
        self.replicas.append(replica)
        return replica

    def holder(self) -> str:
        lease = self.kube.get("coordination.k8s.io/v1", "leases", LEASE_NAMESPACE, LEASE_NAME) or {}
        return str((lease.get("spec") or {}).get("holderIdentity") or "")

    def leader(self, among: list[Replica]) -> Replica:
        """The replica holding the Lease, once all of ``among`` are ready."""
        def found() -> Replica | None:
            if not all(replica.ready() for replica in among):
                return None
            return next((replica for replica in among if replica.pod == self.holder()), None)
        return wait_for(found, timeout=120, interval=0.1, message="ready replicas and a Lease holder")

    def serve_new_service(self) -> float:
        """Create a Service now; the monotonic time at which it has an ingress address."""
        self._services += 1
        name = f"probe-{self._services}"
        self.kube.create(service_manifest(name))

        def served() -> bool:
            status = (self.kube.get("v1", "services", "default", name) or {}).get("status") or {}
            return bool((status.get("loadBalancer") or {}).get("ingress"))
        wait_for(served, timeout=180, interval=0.05, message=f"an ingress on {name}")
        return time.monotonic()

    def stop_all(self) -> None:
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in self.replicas:
            try:
                replica.process.wait(30)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait(10)


@contextmanager
def failover_cluster(timings: LeaseTimings, seed: int = 0) -> Iterator[FailoverCluster]:
    with tempfile.TemporaryDirectory(prefix="cloudlb-failover-") as folder, EmulatedKubernetes() as kube:
        for index in range(2):
            kube.create(node_manifest(f"node-{index}", provider_id=f"example://z/vm-{index}",
                                      internal_ip=f"10.0.0.{index + 1}", zone="z"))
        cluster = FailoverCluster(kube, Path(folder), timings, rng=random.Random(seed))
        try:
            yield cluster
        finally:
            cluster.stop_all()


def kill_leader(cluster: FailoverCluster) -> float:
    """Seconds from SIGKILL of the leader until the standby serves a new Service.

    The kill comes at a random point of the leader's renewal cycle (seeded, so runs repeat): right after a
    renewal is the worst case, a full lease duration of waiting.
    """
    replicas = [cluster.start("pod-a"), cluster.start("pod-b")]
    leader = cluster.leader(replicas)
    retry = cluster.timings.retry_period
    time.sleep(retry * 1.5 + cluster.rng.uniform(0, retry))  # the standby has seen the leader renew
    killed = time.monotonic()
    leader.process.kill()
    return cluster.serve_new_service() - killed


def restart(cluster: FailoverCluster, *, same_pod: bool) -> float:
    """Seconds from starting a replacement of the SIGKILLed leader until it serves a new Service."""
    first = cluster.start("pod-a")
    cluster.leader([first])
    time.sleep(cluster.timings.retry_period * 1.5)
    first.process.kill()
    first.process.wait(10)
    restarted = time.monotonic()
    cluster.start("pod-a" if same_pod else "pod-c")
    return cluster.serve_new_service() - restarted


def terminate_leader(cluster: FailoverCluster) -> float:
    """Seconds from SIGTERM of the leader until the standby serves a new Service."""
    replicas = [cluster.start("pod-a"), cluster.start("pod-b")]
    leader = cluster.leader(replicas)
    stopped = time.monotonic()
    leader.process.send_signal(signal.SIGTERM)
    return cluster.serve_new_service() - stopped


SCENARIOS: dict[str, tuple[Callable[[FailoverCluster], float], str]] = {
    "kill leader": (kill_leader, "<= 15 s"),
    "restart, same pod": (lambda cluster: restart(cluster, same_pod=True), "<= 5 s"),
    "restart, new pod": (lambda cluster: restart(cluster, same_pod=False), "(waits out the claim)"),
    "SIGTERM leader": (terminate_leader, "(released)"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lease-duration", type=float, default=15.0)
    parser.add_argument("--renew-deadline", type=float, default=10.0)
    parser.add_argument("--retry-period", type=float, default=2.0)
    args = parser.parse_args()
    timings = LeaseTimings(args.lease_duration, args.renew_deadline, args.retry_period)
    measured: dict[str, list[float]] = {}
    for name, (scenario, _) in SCENARIOS.items():
        for run in range(args.runs):
            with failover_cluster(timings, seed=run) as cluster:
                measured.setdefault(name, []).append(scenario(cluster))
            print(f"{name}: {measured[name][-1]:.2f}s", flush=True)
    lines = ["| scenario | runs | min (s) | median (s) | max (s) | target |", "|---|---:|---:|---:|---:|---|"]
    for name, values in measured.items():
        lines.append(f"| {name} | {len(values)} | {min(values):.1f} | {statistics.median(values):.1f} | "
                     f"{max(values):.1f} | {SCENARIOS[name][1]} |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "failover.md").write_text(
        f"# Fail-over (example provider, lease {timings.lease_duration:g} s / renew {timings.renew_deadline:g} s / "
        f"retry {timings.retry_period:g} s)\n\nSeconds from the event until a Service created right after it is "
        f"served. Restarts include the process start (imports, login, watches).\n\n{table}\n")
    _plot(measured, timings)


def _plot(measured: dict[str, list[float]], timings: LeaseTimings) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axis = plt.subplots(figsize=(7, 4))
    names = list(measured)
    for index, name in enumerate(names):
        axis.scatter([index] * len(measured[name]), measured[name], zorder=3)
    axis.axhline(timings.lease_duration, linestyle="--", color="grey", label="lease duration")
    axis.set_xticks(range(len(names)), names)
    axis.set_ylabel("seconds until a new Service is served")
    axis.set_title("cloudlb fail-over")
    axis.legend()
    figure.tight_layout()
    figure.savefig(RESULTS / "failover.png", dpi=120)
    plt.close(figure)


def measure(kind: str, timings: LeaseTimings) -> float:
    """One run of a scenario by name (for the tests)."""
    with failover_cluster(timings) as cluster:
        return SCENARIOS[kind][0](cluster)


if __name__ == "__main__":
    main()

