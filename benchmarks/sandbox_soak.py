"""Does a long-running ``cloudlb sandbox`` keep its memory flat? One Service change a second, RSS sampled.

Starts ``cloudlb sandbox`` as a user does (a subprocess: the emulated API, the
emulated cloud and the real controller in one process), then for ``--duration``
seconds changes one Service a second over the API's HTTP interface, rotating
through a fixed set: a port added or removed, source ranges changed, and every
30th change a Service deleted and created again (finalizers, cloud deletes,
Events). The sandbox's resident memory is read from /proc every ``--sample``
seconds. Prints a Markdown table and saves it with a PNG plot under
benchmarks/results/.

    uv run python benchmarks/sandbox_soak.py [--duration 3600] [--provider aws]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
SERVICES = 10
NAMESPACE = "soak"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Api:
    """Plain HTTP to the sandbox's emulated API, as any client would talk to it."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: Any = None,
             content_type: str = "application/json") -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": content_type, "User-Agent": "sandbox-soak/1"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def service(name: str, extra_port: bool, ranges: list[str]) -> dict[str, Any]:
    ports = [{"name": "http", "port": 80, "protocol": "TCP"}]
    if extra_port:
        ports.append({"name": "https", "port": 443, "protocol": "TCP"})
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": ports,
                     "loadBalancerSourceRanges": ranges}}


def change(api: Api, step: int) -> str:
    """The step-th change: one write that makes the controller reconcile one Service."""
    name = f"svc-{step % SERVICES}"
    path = f"/api/v1/namespaces/{NAMESPACE}/services/{name}"
    if step % 30 == 29:
        api.call("DELETE", path)
        return "delete"
    status, _ = api.call("GET", path)
    if status == 404:
        code, _ = api.call("POST", f"/api/v1/namespaces/{NAMESPACE}/services", service(name, False, []))
        return "create" if code == 201 else f"create failed ({code})"
    kind = "port" if step % 2 else "ranges"
    patch = ({"spec": {"ports": service(name, step % 4 == 1, [])["spec"]["ports"]}} if kind == "port"
             else {"spec": {"loadBalancerSourceRanges": [f"10.{step % 250}.0.0/16"]}})
    code, _ = api.call("PATCH", path, patch, "application/merge-patch+json")
    return kind if code == 200 else f"{kind} failed ({code})"


def soak(duration: float, sample: float, provider: str, extra: list[str]) -> list[tuple[float, float]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sandbox-soak-") as scratch:
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudlb", "sandbox", "--provider", provider, "--port", str(port),
             "--kubeconfig", str(Path(scratch) / "kubeconfig"), *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if "controller running" in line:
                    break
            else:
                raise RuntimeError("the sandbox exited before its controller ran")
            api = Api(port)
            api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": NAMESPACE}})
            samples: list[tuple[float, float]] = []
            failures: dict[str, int] = {}
            started = time.monotonic()
            next_sample = started
            step = 0
            while (elapsed := time.monotonic() - started) < duration:
                if process.poll() is not None:
                    raise RuntimeError(f"the sandbox exited ({process.returncode})")
                outcome = change(api, step)
                if "failed" in outcome:
                    failures[outcome] = failures.get(outcome, 0) + 1
                step += 1
                if time.monotonic() >= next_sample:
                    samples.append((elapsed, rss_mib(process.pid)))
                    next_sample += sample
                time.sleep(max(0.0, started + step - time.monotonic()))  # one change a second
            samples.append((time.monotonic() - started, rss_mib(process.pid)))
            print(f"{step} changes in {duration:.0f}s; failed writes: {failures or 'none'}")
            return samples
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def slope_mib_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over time."""
    count = len(points)
    mean_t = sum(t for t, _ in points) / count
    mean_r = sum(r for _, r in points) / count
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return 3600 * sum((t - mean_t) * (r - mean_r) for t, r in points) / spread if spread else 0.0


def report(samples: list[tuple[float, float]], duration: float, provider: str) -> str:
    warm = [point for point in samples if point[0] >= duration / 6] or samples
    second_half = [point for point in samples if point[0] >= duration / 2] or samples
    rows = [samples[0], *[point for point in samples[1:-1]
                          if int(point[0] // (duration / 12)) != int((point[0] - 1e-9) // (duration / 12))],
            samples[-1]]
    lines = [
        f"# Sandbox soak ({provider} provider, 1 Service change per second, {duration / 60:.0f} min)",
        "",
        "| elapsed (min) | RSS (MiB) |",
        "|---:|---:|",
        *[f"| {t / 60:.1f} | {r:.1f} |" for t, r in rows],
        "",
        f"- RSS after warm-up (first sample past {duration / 6 / 60:.0f} min): {warm[0][1]:.1f} MiB; "
        f"at the end: {samples[-1][1]:.1f} MiB; peak: {max(r for _, r in samples):.1f} MiB",
        f"- trend over the second half: {slope_mib_per_hour(second_half):+.2f} MiB/hour",
        "",
    ]
    return "\n".join(lines)


def plot(samples: list[tuple[float, float]], path: Path, title: str) -> None:
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.plot([t / 60 for t, _ in samples], [r for _, r in samples], marker=".", linewidth=1)
    axes.set_xlabel("elapsed (minutes)")
    axes.set_ylabel("sandbox RSS (MiB)")
    axes.set_ylim(bottom=0)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds of changes (default: one hour)")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument("--provider", default="aws")
    parser.add_argument("--event-ttl", type=float, default=None,
                        help="passed to the sandbox (default: the sandbox's own, kube-apiserver's one hour)")
    args = parser.parse_args()
    extra = ["--event-ttl", str(args.event_ttl)] if args.event_ttl else []
    samples = soak(args.duration, args.sample, args.provider, extra)
    table = report(samples, args.duration, args.provider)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sandbox_soak.md").write_text(table + "\n![RSS over time](sandbox_soak.png)\n", encoding="utf-8")
    plot(samples, RESULTS / "sandbox_soak.png",
         f"cloudlb sandbox RSS, 1 Service change/s ({args.provider})")


if __name__ == "__main__":
    main()
