"""Running ``cloudlb run`` as a process, the way a kubelet or an operator's shell does."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudlb.kubeapi.kubeconfig import kubeconfig

# The installed console script, next to this interpreter (where the image puts it on PATH).
CLOUDLB = str(Path(sys.executable).parent / "cloudlb")
# Settings from the developer's own environment that would change what the controller does.
_LEAKY = ("KUBECONFIG", "AWS_", "GOOGLE_", "CLOUDLB_", "POD_NAME")


def clean_environment(home: Path, **extra: str) -> dict[str, str]:
    """The parent's environment without Kubernetes, cloud or cloudlb settings, and an empty HOME."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(_LEAKY)}
    return {**base, "HOME": str(home), "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true", **extra}


def write_kubeconfig(path: Path, server: str, token: str = "cloudlb-test-token") -> Path:
    config: dict[str, Any] = kubeconfig(server)
    config["users"][0]["user"]["token"] = token
    path.write_text(json.dumps(config))
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Finished:
    returncode: int
    stderr: str
    seconds: float  # from launch to exit
    ended: datetime.datetime  # wall clock at exit
    stdout: str = ""

    @property
    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()

    @property
    def seconds_after_start_line(self) -> float:
        """From the controller's first log line (interpreter and imports done) to its exit."""
        stamp = self.lines[0].split(" ", 1)[0]
        return (self.ended - datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()


def run_to_end(args: list[str], env: Mapping[str, str], timeout: float = 60) -> Finished:
    started = time.monotonic()
    done = subprocess.run([CLOUDLB, *args], env=dict(env), capture_output=True, text=True, timeout=timeout,
                          check=False)
    return Finished(done.returncode, done.stderr, time.monotonic() - started, datetime.datetime.now(datetime.UTC),
                    done.stdout)


@contextmanager
def running(args: list[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``cloudlb`` in the background, its stderr in ``log``; stopped with SIGTERM (then SIGKILL) on exit."""
    with log.open("wb") as sink:
        process = subprocess.Popen([CLOUDLB, *args], env=dict(env), stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
