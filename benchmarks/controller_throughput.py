"""How fast the controller converges many Services, and what a node change costs.

Runs the real controller (kopf, the emulated Kubernetes API over HTTP) with the
example provider, whose cloud is in memory: what is measured is the core's own
cost (watch, translate, queue, status and Event writes), not a cloud's latency.
Prints a Markdown table and saves it with a PNG plot under benchmarks/results/.

    uv run python benchmarks/controller_throughput.py [--sizes 25 100 200]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import node_manifest, run_controller, service_manifest, wait_for

RESULTS = Path(__file__).resolve().parent / "results"


def ready_count(kube: EmulatedKubernetes) -> int:
    return sum(1 for s in kube.list("v1", "services", "bench")
               if ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress"))


def run(size: int, workers: int) -> dict[str, float]:
    with EmulatedKubernetes() as kube:
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        for index in range(3):
            kube.create(node_manifest(f"node-{index}", provider_id=f"example://z/vm-{index}",
                                      internal_ip=f"10.0.0.{index + 1}", zone="z"))
        with run_controller(kube, provider="example", workers=workers) as ctl:
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.monotonic()
            for index in range(size):
                kube.create(service_manifest(f"svc-{index}", ports=[(80, "TCP"), (443, "TCP")], namespace="bench"))
            wait_for(lambda: ready_count(kube) == size, timeout=600, interval=0.2, message=f"{size} ingresses")
            converge = time.monotonic() - started
            wait_for(ctl.idle, timeout=60)
            ensures_before = ctl.reconciler.metrics.provider_calls.labels("ensure", "ok")._value.get()
            started = time.monotonic()
            kube.create(node_manifest("node-new", provider_id="example://z/vm-new", internal_ip="10.0.0.99", zone="z"))
            wait_for(lambda: all(s.ensured is not None and len(s.ensured.backends) == 4
                                 for s in ctl.reconciler.states.values() if s.ensured is not None)
                     and ctl.idle(), timeout=600, interval=0.1, message="node fan-out")
            fan_out = time.monotonic() - started
            ensures = ctl.reconciler.metrics.provider_calls.labels("ensure", "ok")._value.get() - ensures_before
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"services": size, "converge_s": converge, "per_second": size / converge, "node_fan_out_s": fan_out,
            "ensures_for_node_add": ensures, "max_rss_growth_mib": (rss_after - rss_before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100, 200])
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    rows = [run(size, args.workers) for size in args.sizes]
    lines = ["| Services | converge (s) | Services/s | node add fan-out (s) | ensures for node add | "
             "peak RSS growth (MiB) |", "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['services']:.0f} | {r['converge_s']:.2f} | {r['per_second']:.1f} | "
                     f"{r['node_fan_out_s']:.2f} | {r['ensures_for_node_add']:.0f} | {r['max_rss_growth_mib']:.1f} |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "controller_throughput.md").write_text(
        f"# Controller throughput (example provider, {args.workers} workers, one run)\n\n{table}\n")
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot([r["services"] for r in rows], [r["converge_s"] for r in rows], marker="o", label="create → ingress")
    axis.plot([r["services"] for r in rows], [r["node_fan_out_s"] for r in rows], marker="s", label="node add fan-out")
    axis.set_xlabel("Services")
    axis.set_ylabel("seconds")
    axis.set_title("cloudlb core: time to converge")
    axis.legend()
    figure.tight_layout()
    figure.savefig(RESULTS / "controller_throughput.png", dpi=100)


if __name__ == "__main__":
    main()
