"""A counting reverse proxy ("door") in front of an emulated cloud.

Each client of the cloud (the controller, the floor script) comes in through a door of
its own, so its requests are told apart without guessing. The door forwards every
request unchanged and counts it by ``Call``; it also notes when the last one was
answered, which is how the benchmark sees that the controller has gone quiet.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmarks.scale.classify import Call, Classifier

# Per-connection headers, and those that ``send_response`` writes itself.
NOT_RELAYED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection",
                         "server", "date"})


@dataclass(frozen=True)
class DoorCounts:
    """Everything counted at one door so far; subtract two of them to get what happened in between."""

    calls: Counter[Call]
    last_answered: float | None  # time.monotonic() (system-wide on Linux) of the last answer

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def since(self, earlier: DoorCounts) -> Counter[Call]:
        return self.calls - earlier.calls


class _Relay(BaseHTTPRequestHandler):
    """One client connection; it keeps one upstream connection of its own (keep-alive on both sides)."""

    protocol_version = "HTTP/1.1"
    door: CountingDoor  # set on a subclass made per door
    upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the counts are the record."""

    def relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_RELAYED}
        call = self.door.classify(self.command, self.path, headers, body)
        status, answer_headers, payload = self._forward(body, headers)
        self.door.count(call)
        self.send_response(status)
        for key, value in answer_headers:
            if key.lower() not in NOT_RELAYED:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay  # noqa: N815 - http.server's method names

    def _forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        for attempt in (1, 2):  # the upstream may have closed an idle connection: open it again once
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(*self.door.upstream, timeout=120)
            try:
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                response = self.upstream.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.upstream.close()
                self.upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def finish(self) -> None:
        super().finish()
        if self.upstream is not None:
            self.upstream.close()


class CountingDoor:
    def __init__(self, upstream: str, classify: Classifier) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.classify = classify
        self._lock = threading.Lock()
        self._calls: Counter[Call] = Counter()
        self._last: float | None = None
        handler = type("BoundRelay", (_Relay,), {"door": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="counting-door", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def count(self, call: Call) -> None:
        with self._lock:
            self._calls[call] += 1
            self._last = time.monotonic()

    def counts(self) -> DoorCounts:
        with self._lock:
            return DoorCounts(Counter(self._calls), self._last)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
