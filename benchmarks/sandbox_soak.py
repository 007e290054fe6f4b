"""Does a long-running ``cloudlb sandbox`` keep its memory bounded? One Service change a second, RSS sampled.

Starts ``cloudlb sandbox`` as a user does (a subprocess: the emulated API, the
emulated cloud and the real controller in one process), one per Event TTL to
compare, side by side, then for ``--duration`` seconds gives each the same change
every second over the API's HTTP interface, rotating through a fixed set of
Services: a port added or removed, source ranges changed, and every 30th change
a Service deleted and created again (finalizers, cloud deletes, Events). Each
sandbox's resident memory is read from /proc every ``--sample`` seconds.

Events are what a real API server keeps longest (an hour by default): memory
grows with them until the first ones expire, then stays flat. Running a sandbox
with a short TTL beside one with the default shows both the plateau and that
nothing else grows. Prints a Markdown table and saves it with a PNG plot under
benchmarks/results/.

    uv run python benchmarks/sandbox_soak.py [--duration 3600] [--event-ttls 3600 300] [--provider aws]
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


class SoakedSandbox:
    """One ``cloudlb sandbox`` subprocess, its API and its changes so far."""

    def __init__(self, provider: str, event_ttl: float, scratch: Path) -> None:
        self.event_ttl = event_ttl
        port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cloudlb", "sandbox", "--provider", provider, "--port", str(port),
             "--kubeconfig", str(scratch / f"kubeconfig-{event_ttl:.0f}"), "--event-ttl", str(event_ttl)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "controller running" in line:
                break
        else:
            raise RuntimeError("the sandbox exited before its controller ran")
        self.api = Api(port)
        self.api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": NAMESPACE}})
        self.failures: dict[str, int] = {}
        self.samples: list[tuple[float, float]] = []

    def change(self, step: int) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"the sandbox exited ({self.process.returncode})")
        outcome = change(self.api, step)
        if "failed" in outcome:
            self.failures[outcome] = self.failures.get(outcome, 0) + 1

    def sample(self, elapsed: float) -> None:
        self.samples.append((elapsed, rss_mib(self.process.pid)))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def soak(duration: float, sample: float, provider: str, event_ttls: list[float]) -> list[SoakedSandbox]:
    """Run one sandbox per Event TTL side by side, each given the same change every second."""
    with tempfile.TemporaryDirectory(prefix="sandbox-soak-") as scratch:
        sandboxes: list[SoakedSandbox] = []
        try:
            for ttl in event_ttls:
                sandboxes.append(SoakedSandbox(provider, ttl, Path(scratch)))
            started = time.monotonic()
            next_sample = started
            step = 0
            while (elapsed := time.monotonic() - started) < duration:
                for sandbox in sandboxes:
                    sandbox.change(step)
                step += 1
                if time.monotonic() >= next_sample:
                    for sandbox in sandboxes:
                        sandbox.sample(elapsed)
                    next_sample += sample
                time.sleep(max(0.0, started + step - time.monotonic()))  # one change a second
            for sandbox in sandboxes:
                sandbox.sample(time.monotonic() - started)
            print(f"{step} changes in {duration:.0f}s; failed writes: "
                  + "; ".join(f"event TTL {s.event_ttl:.0f}s: {s.failures or 'none'}" for s in sandboxes))
            return sandboxes
        finally:
            for sandbox in sandboxes:
                sandbox.stop()


def slope_mib_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over time."""
    count = len(points)
    mean_t = sum(t for t, _ in points) / count
    mean_r = sum(r for _, r in points) / count
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return 3600 * sum((t - mean_t) * (r - mean_r) for t, r in points) / spread if spread else 0.0


def _label(ttl: float) -> str:
    return f"Event TTL {ttl / 60:g} min"


def report(sandboxes: list[SoakedSandbox], duration: float, provider: str) -> str:
    times = [t for t, _ in sandboxes[0].samples]
    every = duration / 14
    rows = [index for index, t in enumerate(times)
            if index in (0, len(times) - 1) or int(t // every) != int(times[index - 1] // every)]
    lines = [
        f"# Sandbox soak ({provider} provider, 1 Service change per second, {duration / 60:.0f} min)",
        "",
        "One `cloudlb sandbox` per Event TTL, side by side, each given the same change every second "
        "(ports, source ranges, a delete and re-create every 30th change); RSS of the sandbox process.",
        "",
        "| elapsed (min) | " + " | ".join(f"RSS, {_label(s.event_ttl)} (MiB)" for s in sandboxes) + " |",
        "|---:|" + "---:|" * len(sandboxes),
        *[f"| {times[i] / 60:.1f} | " + " | ".join(f"{s.samples[i][1]:.1f}" for s in sandboxes) + " |"
          for i in rows],
        "",
    ]
    for sandbox in sandboxes:
        settled = [point for point in sandbox.samples if point[0] >= sandbox.event_ttl + 300]
        trend = (f"{slope_mib_per_hour(settled):+.1f} MiB/hour over the last {(duration - settled[0][0]) / 60:.0f} "
                 f"min (once Events expire as fast as they come)" if len(settled) > 2 else
                 "no settled period in this run: Events had not started to expire")
        lines.append(f"- {_label(sandbox.event_ttl)}: {sandbox.samples[0][1]:.1f} MiB at the start, "
                     f"{sandbox.samples[-1][1]:.1f} MiB at the end, peak {max(r for _, r in sandbox.samples):.1f} "
                     f"MiB; trend {trend}")
    lines.append("")
    return "\n".join(lines)


def plot(sandboxes: list[SoakedSandbox], path: Path, title: str) -> None:
    figure, axes = plt.subplots(figsize=(8, 4))
    for sandbox in sandboxes:
        axes.plot([t / 60 for t, _ in sandbox.samples], [r for _, r in sandbox.samples], marker=".", linewidth=1,
                  label=_label(sandbox.event_ttl))
    axes.set_xlabel("elapsed (minutes)")
    axes.set_ylabel("sandbox RSS (MiB)")
    axes.set_ylim(bottom=0)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds of changes (default: one hour)")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument("--provider", default="aws")
    parser.add_argument("--event-ttls", type=float, nargs="+", default=[3600.0, 300.0],
                        help="one sandbox per value of its --event-ttl (default: kube-apiserver's hour, and 5 min)")
    args = parser.parse_args()
    sandboxes = soak(args.duration, args.sample, args.provider, args.event_ttls)
    table = report(sandboxes, args.duration, args.provider)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sandbox_soak.md").write_text(table + "\n![RSS over time](sandbox_soak.png)\n", encoding="utf-8")
    plot(sandboxes, RESULTS / "sandbox_soak.png", f"cloudlb sandbox RSS, 1 Service change/s ({args.provider})")


if __name__ == "__main__":
    main()
