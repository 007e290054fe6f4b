"""``cloudlb run`` as a subprocess, as it runs in production, and what can be seen of it from outside.

The benchmark reads the controller through its Prometheus endpoint (queue depth, provider
calls by method) and ``/proc`` (RSS, CPU time); it never reaches inside the process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class ControllerMetrics:
    queue_depth: float
    provider_calls: Counter[str]  # by method (ensure, delete, list_owned...), every outcome
    acting: bool  # cloudlb_leader is 1: its provider is created and it acts (no leader election here)


@dataclass(frozen=True)
class Settings:
    provider: str
    cluster: str
    kubeconfig: Path
    options: Mapping[str, str]
    environment: Mapping[str, str]
    resync_interval: float
    gc_interval: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ControllerProcess:
    def __init__(self, settings: Settings, log: Path) -> None:
        self.metrics_port = free_port()
        command = [
            sys.executable, "-m", "cloudlb", "run", "--provider", settings.provider,
            "--cluster-name", settings.cluster, "--leader-elect=false", "--health-port", "0",
            "--metrics-port", str(self.metrics_port),
            "--resync-interval", str(settings.resync_interval), "--gc-interval", str(settings.gc_interval),
            *(f"--{name}={value}" for name, value in sorted(settings.options.items())),
        ]
        environment = {**os.environ, **settings.environment, "KUBECONFIG": str(settings.kubeconfig)}
        self._log = log.open("a")
        self.started = time.monotonic()
        self._process = subprocess.Popen(command, env=environment, stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self._process.pid
        self._wait_for_metrics()
        # Its start-up handlers have run: from here on it watches, and its periodic timers tick.
        self.ready_at = time.monotonic()

    def _wait_for_metrics(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self.check_alive()
            try:
                self.metrics()
                return
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the controller served no metrics in {START_TIMEOUT:.0f}s "
                                       f"(its log: {self._log.name})") from None
                time.sleep(0.2)

    def check_alive(self) -> None:
        if self._process.poll() is not None:
            raise RuntimeError(f"the controller exited with {self._process.returncode} (its log: {self._log.name})")

    def metrics(self) -> ControllerMetrics:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            text = response.read().decode()
        depth: float | None = None
        leader = 0.0
        calls: Counter[str] = Counter()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "cloudlb_queue_depth":
                    depth = sample.value
                elif sample.name == "cloudlb_provider_calls_total":
                    calls[sample.labels["method"]] += int(sample.value)
                elif sample.name == "cloudlb_leader":
                    leader = sample.value
        if depth is None:
            raise RuntimeError("the controller's metrics have no cloudlb_queue_depth")
        return ControllerMetrics(depth, calls, leader == 1)

    def wait_acting(self, timeout: float = START_TIMEOUT) -> float:
        """Seconds from the start until it acts: its metrics are served before its provider is created."""
        deadline = time.monotonic() + timeout
        while not self.metrics().acting:
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the controller did not act within {timeout:.0f}s (its log: {self._log.name})")
            time.sleep(0.1)
        return time.monotonic() - self.started

    def _proc(self, name: str) -> str:
        return Path(f"/proc/{self.pid}/{name}").read_text()

    def rss_mib(self) -> float:
        """Resident memory now (VmRSS), in MiB."""
        line = next(row for row in self._proc("status").splitlines() if row.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far (fields 14 and 15 of /proc/PID/stat)."""
        fields = self._proc("stat").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def kill(self) -> None:
        """SIGKILL: a crash or a lost node, nothing is cleaned up."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def _end(self, how: signal.Signals) -> None:
        if self._process.poll() is None:
            self._process.send_signal(how)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
