"""Two ``cloudlb run`` processes with lease leader election, as a Deployment of two replicas runs them.

A small "kubelet" keeps them running: a replica that exits on its own (e.g. after
losing its lease) is started again under the same pod name, and the exit is counted.
The run SIGKILLs the leader on purpose and restarts it the same way; ``hold`` keeps a
killed replica down (to measure how long the standby needs to take over).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cloudlb.kubeapi import EmulatedKubernetes

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "cloudlb-chaos"
PODS = ("cloudlb-0", "cloudlb-1")


@dataclass
class Replica:
    pod: str
    process: subprocess.Popen[bytes]
    log: Path
    held: bool = False  # killed on purpose and kept down until released


@dataclass
class ControllerSettings:
    provider: str
    cluster: str
    kubeconfig: Path
    options: Mapping[str, str]
    environment: Mapping[str, str]
    logs: Path
    extra_args: tuple[str, ...] = ()


@dataclass
class Replicas:
    settings: ControllerSettings
    kube: EmulatedKubernetes  # read directly (not through the fault proxy) to see who holds the lease
    running: dict[str, Replica] = field(default_factory=dict)
    unplanned_exits: list[str] = field(default_factory=list)
    startup_crashes: list[str] = field(default_factory=list)  # exits because the API server failed one start-up read
    starts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _kubelet: threading.Thread | None = None

    def start_all(self) -> None:
        for pod in PODS:
            self._start(pod)
        self._kubelet = threading.Thread(target=self._supervise, name="chaos-kubelet", daemon=True)
        self._kubelet.start()

    def _start(self, pod: str) -> Replica:
        s = self.settings
        with self._lock:
            self.starts += 1
            log = s.logs / f"{pod}.{self.starts:03d}.log"
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("KUBECONFIG", "CLOUDLB_", "AWS_", "GOOGLE_"))}
        env.update({**s.environment, "KUBECONFIG": str(s.kubeconfig), "POD_NAME": pod,
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
        command = [sys.executable, "-m", "cloudlb", "run", "--provider", s.provider, "--cluster-name", s.cluster,
                   "--serve-unclassed", "--metrics-port", "0", "--health-port", "0",
                   "--leader-elect-resource-name", LEASE_NAME, "--leader-elect-resource-namespace", LEASE_NAMESPACE,
                   *s.extra_args, *(f"--{name}={value}" for name, value in sorted(s.options.items()))]
        with log.open("wb") as sink:
            process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
        replica = Replica(pod, process, log)
        with self._lock:
            self.running[pod] = replica
        return replica

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                exited = [r for r in self.running.values() if r.process.poll() is not None and not r.held]
            for replica in exited:
                if replica.process.returncode != -signal.SIGKILL:
                    last = (replica.log.read_text(errors="replace").strip().splitlines() or [""])[-1]
                    exit_line = f"{replica.pod} exited with {replica.process.returncode} ({replica.log.name}): {last}"
                    startup = "ERROR cloudlb: the Kubernetes API server at" in last or \
                        "ERROR cloudlb: cannot reach the Kubernetes API server" in last
                    (self.startup_crashes if startup else self.unplanned_exits).append(exit_line)
                self._start(replica.pod)

    def holder(self) -> str:
        lease = self.kube.get("coordination.k8s.io/v1", "leases", LEASE_NAMESPACE, LEASE_NAME) or {}
        return str((lease.get("spec") or {}).get("holderIdentity") or "")

    def leader(self, timeout: float = 120.0) -> Replica:
        """The running replica that holds the lease (waits for one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                replica = self.running.get(self.holder())
            if replica is not None and replica.process.poll() is None:
                return replica
            time.sleep(0.05)
        raise TimeoutError("no running replica holds the lease")

    def kill(self, replica: Replica, *, hold: bool = False) -> None:
        """SIGKILL; the kubelet starts it again at once unless ``hold``."""
        replica.held = hold
        replica.process.kill()
        replica.process.wait(10)

    def release(self, replica: Replica) -> None:
        """Start a held replica again (same pod name)."""
        self._start(replica.pod)

    def stop_all(self) -> None:
        self._stop.set()
        if self._kubelet is not None:
            self._kubelet.join(5)
        with self._lock:
            replicas = list(self.running.values())
        for replica in replicas:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in replicas:
            try:
                replica.process.wait(30)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait(10)

    def logs(self) -> list[Path]:
        return sorted(self.settings.logs.glob("cloudlb-*.log"))
