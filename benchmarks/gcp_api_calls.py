"""How many Compute API calls the GCP provider makes per scenario, counted from the GCE emulator's request log.

Scenarios on a 3-node cluster over two zones: create a 2-port TCP Service, resync
it with nothing changed, add a node, delete the Service. The provider calls the API
through google-cloud-compute's REST clients; each call is an HTTP request to the
emulator; operation waits are counted (one per write, as
``operations.wait`` returns when the operation is done).

Run: ``uv run python benchmarks/gcp_api_calls.py`` (prints a Markdown table and
saves it to ``benchmarks/results/gcp_api_calls.md``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.plugin import plugin
from cloudlb_gcp.provider import GCPProvider
from cloudlb_gcp.sandbox import seed_cluster

from cloudlb.model import (
    KUBE_PROXY_HEALTH_CHECK,
    Backend,
    DesiredLoadBalancer,
    LoadBalancerKey,
    LoadBalancerSpec,
    Port,
    Protocol,
    ServiceRef,
)
from cloudlb.provider import ProviderSettings
from cloudlb.sandbox_cloud import SandboxInstance

RESULTS = Path(__file__).parent / "results" / "gcp_api_calls.md"
PROJECT, REGION = "bench-project", "us-central1"


@dataclass(frozen=True)
class Measured:
    scenario: str
    total: int
    waits: int
    seconds: float
    written: Counter[str]  # write calls by method

    @property
    def writes(self) -> int:
        return self.written.total()

    @property
    def reads(self) -> int:
        return self.total - self.writes - self.waits


def spec_for(instances: list[SandboxInstance]) -> LoadBalancerSpec:
    return LoadBalancerSpec(
        service=ServiceRef("default", "web"), uid="uid-web",
        ports=(Port(80, Protocol.TCP, 30080, "http"), Port(443, Protocol.TCP, 30443, "https")),
        backends=tuple(Backend(i.name, i.provider_id, i.internal_ip, i.zone) for i in instances),
        health_check=KUBE_PROXY_HEALTH_CHECK,
    )


def measure(emulator: GCEEmulator, scenario: str, action: Callable[[], object]) -> Measured:
    emulator.clear_requests()
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    calls = emulator.requests
    waits = sum(1 for call in calls if call.method.endswith("Operations.wait"))
    written = Counter(call.method for call in calls if call.is_write)
    return Measured(scenario, len(calls), waits, seconds, written)


def run() -> list[Measured]:
    with GCEEmulator(project=PROJECT, region=REGION) as emulator:
        instances = seed_cluster(emulator, nodes=4)
        provider = cast(GCPProvider, plugin.create(ProviderSettings(cluster_name="bench", options={
            "gcp_project": PROJECT, "gcp_region": REGION, "gcp_endpoint": emulator.url})))
        spec = spec_for(instances[:3])
        results = [
            measure(emulator, "create (TCP, 2 ports, 3 nodes in 2 zones)",
                    lambda: provider.ensure(DesiredLoadBalancer.single(spec))),
            measure(emulator, "no-change resync", lambda: provider.ensure(DesiredLoadBalancer.single(spec))),
            measure(emulator, "node added", lambda: provider.ensure(DesiredLoadBalancer.single(spec_for(instances)))),
            measure(emulator, "delete", lambda: provider.delete(LoadBalancerKey.of(spec.service))),
        ]
        if emulator.leftovers():
            raise SystemExit(f"leftovers after delete: {emulator.leftovers()}")
        return results


def table(results: list[Measured]) -> str:
    lines = [
        "| scenario | Compute calls | reads | writes | operation waits | time (ms, emulator) | writes by method |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        written = ", ".join(f"{m} x{n}" for m, n in sorted(r.written.items()))
        lines.append(f"| {r.scenario} | {r.total} | {r.reads} | {r.writes} | {r.waits} | "
                     f"{r.seconds * 1000:.0f} | {written or '—'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    results = run()
    text = ("# GCP provider: Compute API calls per scenario\n\n"
            "Counted from the GCE emulator's request log (`benchmarks/gcp_api_calls.py`).\n\n" + table(results))
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
