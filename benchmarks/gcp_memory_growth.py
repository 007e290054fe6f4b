"""Where the controller's memory goes as Services are added: RSS (and optionally tracemalloc) at N = 0, 100, 1000.

Written for GCP (the SDK's message types); ``--provider aws`` runs the same steps on moto, and ``--restart``
adds the RSS of a second controller after its first re-sync over the last step's Services.

One ``cloudlb run --provider gcp`` process, as the scale benchmark runs it (the GCE emulator in a
process of its own behind the counting door, the emulated Kubernetes API in this one), takes the
Services in steps (``--steps 100,1000``: cumulative totals). After each step, once every Service has
its ingress and the controller is idle, its RSS is read from ``/proc``. With ``--tracemalloc`` the
controller runs under ``tracemalloc`` (slower, and its own RSS then includes tracemalloc's tables) and
dumps a snapshot at each step on ``SIGUSR1``; the growth between steps is printed by file and line.

Run: ``uv run --frozen --group dev python -m benchmarks.gcp_memory_growth --steps 100,1000 [--tracemalloc]
[--whole-types]`` (``--whole-types``: every message type loaded, as before ``cloudlb_gcp.sdk`` trimmed them).
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchmarks.scale.cloud import CloudProcess
from benchmarks.scale.cluster import Cluster, service_names
from benchmarks.scale.controller import ControllerProcess, Settings
from cloudlb.kubeapi import EmulatedKubernetes

CLUSTER = "bench"
NODES = 3
# Run in the controller's process before ``cloudlb run``. With $SNAPSHOT_DIR set, the first SIGUSR1 starts
# tracemalloc (so that start-up's imports are not traced, which would take minutes) and every SIGUSR1 writes
# a snapshot there: the growth between two snapshots is what stayed allocated between them.
HOOK = """
import os, signal, sys, tracemalloc
count = [0]
def dump(signum, frame):
    if not tracemalloc.is_tracing():
        tracemalloc.start(int(os.environ.get("TRACE_FRAMES", "10")))
    count[0] += 1
    tracemalloc.take_snapshot().dump(os.path.join(os.environ["SNAPSHOT_DIR"], f"snap-{count[0]}.bin"))
    open(os.path.join(os.environ["SNAPSHOT_DIR"], f"snap-{count[0]}.done"), "w").close()
if os.environ.get("SNAPSHOT_DIR"):
    signal.signal(signal.SIGUSR1, dump)
if os.environ.get("WHOLE_TYPES"):
    # As before cloudlb_gcp.sdk trimmed them: every message type of the API (the clients still load one by one).
    from cloudlb_gcp import sdk
    sdk._install_deferred_package()
    import google.cloud.compute_v1.types.compute
sys.argv = ["cloudlb", *sys.argv[1:]]
from cloudlb.cli import main
main()
"""


def hooked_python(snapshots: Path | None) -> Path:
    """A stand-in for the interpreter that ``ControllerProcess`` starts as ``python -m cloudlb ...``."""
    script = Path(tempfile.mkdtemp(prefix="cloudlb-hook-")) / "python"
    hook = Path(script.parent / "hook.py")
    hook.write_text(HOOK)
    environment = f"SNAPSHOT_DIR={snapshots} " if snapshots is not None else ""
    # ``-m cloudlb`` is replaced by the hook, which runs the same main with the same arguments.
    script.write_text(f'#!/bin/sh\nshift 2\nexec env {environment}{sys.executable} {hook} "$@"\n')
    script.chmod(0o755)
    return script


class HookedController(ControllerProcess):
    """``cloudlb run`` started through ``HOOK`` (same arguments, same measurements from outside)."""

    def __init__(self, settings: Settings, log: Path, snapshots: Path | None) -> None:
        self._snapshots = snapshots
        real = sys.executable
        sys.executable = str(hooked_python(snapshots))
        try:
            super().__init__(settings, log)
        finally:
            sys.executable = real
        self.taken = 0

    def snapshot(self) -> Path | None:
        if self._snapshots is None:
            return None
        self.taken += 1
        os.kill(self.pid, signal.SIGUSR1)
        done = self._snapshots / f"snap-{self.taken}.done"
        while not done.exists():
            self.check_alive()
            time.sleep(0.2)
        return self._snapshots / f"snap-{self.taken}.bin"


def wait_converged(ctl: ControllerProcess, cluster: Cluster, wanted: int, cloud: CloudProcess) -> float:
    started = time.monotonic()
    while cluster.with_ingress() < wanted:
        ctl.check_alive()
        time.sleep(0.5)
    took = time.monotonic() - started
    # Idle: the queue is empty and no cloud request for 2 s.
    while True:
        last = cloud.counts("controller").last_answered
        if ctl.metrics().queue_depth == 0 and (last is None or time.monotonic() - last > 2.0):
            return took
        time.sleep(0.5)


def growth(before: Path, after: Path, top: int) -> str:
    old, new = tracemalloc.Snapshot.load(str(before)), tracemalloc.Snapshot.load(str(after))
    keep = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    old, new = old.filter_traces(keep), new.filter_traces(keep)
    lines = []
    total = sum(s.size for s in new.statistics("filename")) - sum(s.size for s in old.statistics("filename"))
    lines.append(f"traced growth: {total / 2**20:+.1f} MiB")
    for stat in new.compare_to(old, "lineno")[:top]:
        lines.append(f"{stat.size_diff / 2**20:+7.2f} MiB {stat.count_diff:+8d} blocks  {stat.traceback[0]}")
    lines.append("-- by traceback (largest growth) --")
    for stat in new.compare_to(old, "traceback")[:8]:
        lines.append(f"{stat.size_diff / 2**20:+7.2f} MiB {stat.count_diff:+8d} blocks")
        lines.extend(f"      {frame}" for frame in stat.traceback.format()[-16:])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", default="100,1000", help="cumulative Service counts")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--provider", choices=("aws", "gcp"), default="gcp")
    parser.add_argument("--restart", action="store_true",
                        help="then start a second controller over the last step's Services and read its RSS after "
                             "its first re-sync (every load balancer planned)")
    parser.add_argument("--whole-types", action="store_true",
                        help="load every message type of the API, as before cloudlb_gcp.sdk trimmed them")
    args = parser.parse_args()
    if args.whole_types:
        os.environ["WHOLE_TYPES"] = "1"  # read by HOOK in the controller's process
    steps = [int(s) for s in args.steps.split(",")]
    logs = Path(tempfile.mkdtemp(prefix=f"cloudlb-{args.provider}-memory-"))
    snapshots = logs if args.tracemalloc else None
    print(f"logs: {logs}", flush=True)
    with (CloudProcess(args.provider, NODES + 1, CLUSTER, logs / "cloud.log") as cloud,
          EmulatedKubernetes() as kube):
        cluster = Cluster(kube, args.provider)
        for node in cloud.instances[:NODES]:
            cluster.add_node(node)
        settings = Settings(args.provider, CLUSTER, kube.write_kubeconfig(logs / "kubeconfig"), cloud.options,
                            cloud.environment, 3600.0, 3600.0)
        ctl = HookedController(settings, logs / "controller.log", snapshots)
        try:
            acting = ctl.wait_acting()
            time.sleep(3)
            rows = [(0, ctl.rss_mib(), acting, ctl.snapshot())]
            print(f"N=0: RSS {rows[-1][1]:.1f} MiB (acting after {acting:.1f}s)", flush=True)
            names = service_names(steps[-1])
            done = 0
            for step in steps:
                cluster.create_services(names[done:step])
                took = wait_converged(ctl, cluster, step, cloud)
                done = step
                rows.append((step, ctl.rss_mib(), took, ctl.snapshot()))
                print(f"N={step}: RSS {rows[-1][1]:.1f} MiB ({took:.1f}s to converge)", flush=True)
            for (n0, _, _, s0), (n1, _, _, s1) in itertools.pairwise(rows):
                if s0 is not None and s1 is not None:
                    print(f"\n== growth N={n0} -> N={n1} ==\n{growth(s0, s1, args.top)}", flush=True)
        finally:
            ctl.stop()
        if args.restart:
            restarted = HookedController(settings, logs / "controller-restarted.log", None)
            try:
                restarted.wait_acting()
                started = time.monotonic()
                while restarted.metrics().provider_calls["plan"] < steps[-1]:
                    restarted.check_alive()
                    time.sleep(0.5)
                took = wait_converged(restarted, cluster, steps[-1], cloud)
                rows.append((steps[-1], restarted.rss_mib(), time.monotonic() - started + took, None))
                print(f"N={steps[-1]} after a restart's re-sync: RSS {rows[-1][1]:.1f} MiB", flush=True)
            finally:
                restarted.stop()
    print(f"\n{args.provider}\n| N | RSS (MiB) |\n|---:|---:|")
    for index, (n, rss, _, _) in enumerate(rows):
        print(f"| {n}{' (restarted)' if args.restart and index == len(rows) - 1 else ''} | {rss:.1f} |")
    print(f"(python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
