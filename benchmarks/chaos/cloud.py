"""The run's handle on the cloud process (``cloud_host``): start it, ask it, stop it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from cloudlb.sandbox_cloud import SandboxInstance


class CloudError(RuntimeError):
    pass


class CloudProcess:
    def __init__(self, provider: str, nodes: int, cluster: str, seed: int, fault_rate: float, log: Path) -> None:
        self._log = log.open("w")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.chaos.cloud_host", "--provider", provider, "--nodes", str(nodes),
             "--cluster", cluster, "--seed", str(seed), "--fault-rate", str(fault_rate)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        self._lock = threading.Lock()
        try:
            hello = self._read_line()
        except BaseException:
            self.close()
            raise
        self.endpoint: str = hello["endpoint"]
        self.door: str = hello["door"]
        self.instances = [SandboxInstance(**i) for i in hello["instances"]]
        self.options: dict[str, str] = hello["options"]
        self.environment: dict[str, str] = hello["environment"]
        self.facts: dict[str, Any] = hello["facts"]

    def _read_line(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise CloudError(f"the cloud process ended (its log: {self._log.name})")
        return cast(dict[str, Any], json.loads(line))

    def ask(self, op: str, **arguments: Any) -> Any:
        assert self._process.stdin is not None
        with self._lock:
            self._process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
            self._process.stdin.flush()
            reply = self._read_line()
        if "error" in reply:
            raise CloudError(f"{op}: {reply['error']}")
        return reply["result"]

    def stats(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.ask("stats"))

    def writes(self, offset: int) -> list[tuple[float, str, str, str]]:
        answer = self.ask("writes", offset=offset)
        return [(float(at), str(op), str(fault), str(text)) for at, op, fault, text in answer]

    def set_fault_rate(self, rate: float) -> None:
        self.ask("rate", value=rate)

    def add_instances(self, count: int) -> list[SandboxInstance]:
        return [SandboxInstance(**i) for i in self.ask("add_instances", count=count)]

    def leftovers(self) -> list[str]:
        return cast(list[str], self.ask("leftovers"))

    def close(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()  # the host's signal to stop
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
