"""What google-cloud-compute costs the controller in memory, step by step, each configuration in a fresh process.

Each step imports more, in the order the controller loads it, and the resident set size
(``VmRSS``) is read after it: the controller without its provider (kopf, the core), the GCP
provider's own modules, then what the SDK brings (the controller loads only the message types
its clients need: ``cloudlb_gcp.sdk``). The other rows compare the alternatives: every message
type loaded (as before that), also without ``malloc_trim`` and with the pure-Python protobuf
runtime instead of upb, and the whole ``compute_v1`` package (every client, as
``from google.cloud import compute_v1`` loads it).

Run: ``uv run python benchmarks/gcp_sdk_memory.py`` (prints a Markdown table and saves it to
``benchmarks/results/gcp_sdk_memory.md``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "gcp_sdk_memory.md"
# Run in the child: ``steps`` are (label, Python statements); prints one JSON line per step.
CHILD = """
import gc, json, sys, time
def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS"))
for label, code in json.loads(sys.argv[1]):
    started = time.perf_counter()
    exec(code)
    gc.collect()
    print(json.dumps([label, rss(), time.perf_counter() - started, len(sys.modules)]), flush=True)
"""

CORE = ("Python, kopf and the cloudlb core",
        "import kopf, aiohttp, prometheus_client, click\nimport cloudlb.cli, cloudlb.operator, cloudlb.reconciler")
TRANSPORT = ("+ compute.py's imports (google-auth, google-api-core, protobuf, proto-plus; grpc through api-core)",
             "import cloudlb_gcp.compute, cloudlb_gcp.provider")
FIRST = ("+ the first client (forwarding rules) with all of compute_v1's message types (types/compute.py)",
         "from cloudlb_gcp import sdk\nsdk.client_class('forwarding_rules')")
CREATE = ("from cloudlb.provider import ProviderSettings\nfrom cloudlb_gcp.plugin import plugin\n"
          "provider = plugin.create(ProviderSettings('c', {'gcp_project': 'p', 'gcp_region': 'r', "
          "'gcp_endpoint': 'http://127.0.0.1:9'}))")
PROVIDER = ("+ the provider created: its clients, with only the message types they need (as the controller does)",
            CREATE)
PROVIDER_AFTER_FIRST = ("+ the provider created: its other clients (addresses ... instances, the operations clients)",
                        CREATE)
NO_TRIM = "from cloudlb_gcp import sdk\nsdk.release_freed_heap = lambda: None"


@dataclass(frozen=True)
class Step:
    label: str
    rss: float  # MiB after the step
    seconds: float
    modules: int


def run(steps: list[tuple[str, str]], environment: dict[str, str] | None = None) -> list[Step]:
    answer = subprocess.run([sys.executable, "-c", CHILD, json.dumps(steps)], capture_output=True, text=True,
                            check=True, env={**os.environ, **(environment or {})}, timeout=300)
    return [Step(*json.loads(line)) for line in answer.stdout.splitlines()]


def measure() -> dict[str, list[Step]]:
    controller = [CORE, TRANSPORT, PROVIDER]
    all_types = [CORE, TRANSPORT, FIRST, PROVIDER_AFTER_FIRST]
    without_trim = [CORE, (TRANSPORT[0], TRANSPORT[1] + "\n" + NO_TRIM), FIRST, PROVIDER_AFTER_FIRST]
    whole = [CORE, ("+ `from google.cloud import compute_v1` (every client, no client made)",
                    "from google.cloud import compute_v1\ncompute_v1.DisksClient")]
    return {
        "the controller (upb protobuf, the default)": run(controller),
        "every message type loaded (before cloudlb_gcp.sdk trimmed them)": run(all_types),
        "every message type, without malloc_trim after loading": run(without_trim),
        "every message type, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python": run(
            all_types, {"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}),
        "the whole compute_v1 package instead": run(whole),
    }


def table(measured: dict[str, list[Step]]) -> str:
    lines = ["| configuration | step | RSS after (MiB) | step adds (MiB) | step time (s) | modules |",
             "|---|---|---:|---:|---:|---:|"]
    for configuration, steps in measured.items():
        before = 0.0
        for step in steps:
            added = f"{step.rss - before:+.0f}" if before else "—"
            lines.append(f"| {configuration} | {step.label} | {step.rss:.0f} | {added} | {step.seconds:.2f} | "
                         f"{step.modules} |")
            before = step.rss
    return "\n".join(lines) + "\n"


def main() -> None:
    text = ("# google-cloud-compute in the controller: memory step by step\n\n"
            "Resident set size of a fresh process after each step (`benchmarks/gcp_sdk_memory.py`); "
            "times are wall-clock on a shared machine.\n\n" + table(measure()))
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
