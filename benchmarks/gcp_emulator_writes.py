"""What one write costs the GCE emulator as the number of load balancers it holds grows.

The emulator serves every request under one lock, so a write whose checks scan every stored
resource serialises the controller's workers and makes the scale benchmark measure the
emulator. This fills an in-process ``ComputeCloud`` (no HTTP, no client) with N load
balancers as the provider builds them (address, health check, backend service, one TCP
rule, two firewalls), timing every write, then deletes the last few, timing each delete
(figures are medians of a window of writes). Times are wall-clock on whatever else the machine runs.

Run: ``uv run --frozen --group dev python -m benchmarks.gcp_emulator_writes [--size 1000]``
(prints a Markdown table).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.emulator.cloud import ComputeCloud
from cloudlb_gcp.emulator.kinds import KINDS
from cloudlb_gcp.emulator.paths import ResourcePath
from cloudlb_gcp.sandbox import seed_cluster

REGION = "us-central1"
KIND = {kind.collection: kind for kind in KINDS}
WRITES = ("addresses", "healthChecks", "backendServices", "forwardingRules", "firewalls")


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def create(cloud: ComputeCloud, index: int) -> dict[str, float]:
    """One load balancer; milliseconds per write (the two firewalls averaged)."""
    name = f"lb-{index:05d}"
    regional = f"projects/{cloud.project}/regions/{REGION}"

    def insert(collection: str, body: dict[str, object], location: str = REGION) -> float:
        return timed(lambda: cloud.insert(KIND[collection], location, json.dumps(body).encode()))
    spent = {
        "addresses": insert("addresses", {"name": name}),
        "healthChecks": insert("healthChecks", {"name": name, "type": "HTTP", "httpHealthCheck": {"port": 10256}}),
        "backendServices": insert("backendServices", {
            "name": name, "loadBalancingScheme": "EXTERNAL", "protocol": "TCP",
            "healthChecks": [f"{regional}/healthChecks/{name}"]}),
        "forwardingRules": insert("forwardingRules", {
            "name": name, "IPProtocol": "TCP", "ports": ["80", "443"], "loadBalancingScheme": "EXTERNAL",
            "backendService": f"{regional}/backendServices/{name}"}),
    }
    firewalls = [insert("firewalls", {
        "name": f"{name}-{part}", "network": f"projects/{cloud.project}/global/networks/default",
        "allowed": [{"IPProtocol": "tcp", "ports": ["80"]}], "sourceRanges": ["0.0.0.0/0"]}, "")
        for part in ("traffic", "probes")]
    spent["firewalls"] = sum(firewalls) / len(firewalls)
    return spent


def delete(cloud: ComputeCloud, index: int) -> dict[str, float]:
    name = f"lb-{index:05d}"
    spent: dict[str, float] = {}
    for collection in ("forwardingRules", "backendServices", "healthChecks", "addresses"):
        path = ResourcePath(cloud.project, "regions", REGION, collection, name)
        spent[collection] = timed(lambda path=path: cloud.delete(path))  # type: ignore[misc]
    firewalls = []
    for part in ("traffic", "probes"):
        path = ResourcePath(cloud.project, "global", "", "firewalls", f"{name}-{part}")
        firewalls.append(timed(lambda path=path: cloud.delete(path)))  # type: ignore[misc]
    spent["firewalls"] = sum(firewalls) / len(firewalls)
    return spent


def medians(samples: list[dict[str, float]]) -> str:
    return " | ".join(f"{statistics.median(sample[c] for sample in samples):.2f}" for c in WRITES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--window", type=int, default=20, help="writes per figure (their median)")
    args = parser.parse_args()
    emulator = GCEEmulator(project="bench", region=REGION)
    seed_cluster(emulator, 4)
    cloud = emulator.cloud
    created = [create(cloud, n) for n in range(args.size)]
    starts = sorted({0, 100, args.size // 2, args.size - args.window} & set(range(args.size - args.window + 1)))
    rows = [f"| {start}-{start + args.window - 1} | {medians(created[start:start + args.window])} |"
            for start in starts]
    deleted = [delete(cloud, n) for n in range(args.size - 1, args.size - 1 - args.window, -1)]
    head = "| " + " | ".join(("load balancers held", *WRITES)) + " |\n|" + "---:|" * (len(WRITES) + 1)
    print(f"Insert: ms per write (median of {args.window}), by load balancers held before it:\n\n{head}\n"
          + "\n".join(rows))
    print(f"\nDelete: ms per delete (median of {args.window}), with {args.size} held:\n\n{head}\n"
          f"| {args.size} | {medians(deleted)} |")


if __name__ == "__main__":
    main()
