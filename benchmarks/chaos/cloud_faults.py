"""A fault-injecting reverse proxy in front of an emulated cloud: the "bad network and a busy API" of the chaos run.

Every request the controller sends to the cloud passes through it. A configurable
fraction of them fails, in the ways a real cloud API and the network between fail:

- ``500`` (InternalFailure) and ``503`` (ServiceUnavailable): answered by the proxy, nothing executed;
- ``throttled``: the API's rate-limit error (AWS ``Throttling`` / ``RequestLimitExceeded``,
  GCP ``rateLimitExceeded`` 429), nothing executed;
- ``reset``: the connection is reset before the request reaches the cloud;
- ``lost``: the request **is executed** and its response dropped (the connection is reset after
  the cloud answered) — the case where a retry finds "already exists" / "not found".

Which requests fail is decided by a hash of (seed, request, how many times this very request was
seen), not by arrival order, so a seed gives the same faults to the same requests however the
controller's threads interleave. Every write (and what was done to it) is recorded, so that the run
can trigger a SIGKILL "mid-write" and look for writes that named a foreign resource.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import socket
import struct
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_KINDS = ("500", "503", "throttled", "reset", "lost")
# Per-connection headers, and those that ``send_response`` writes itself.
NOT_RELAYED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection",
                         "server", "date"})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Classified:
    """What a request does: its API operation, whether it changes anything, and the text to search for names."""

    operation: str
    write: bool
    text: str  # the operation's parameters, decoded (names, ARNs, ids appear verbatim)


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    content_type: str
    body: bytes


Classifier = Callable[[Request], Classified]
ErrorRenderer = Callable[[str, Classified], ErrorAnswer]


# --- AWS (query protocol: EC2, ELB, ELBv2) ---------------------------------------------------------

_READ_PREFIXES = ("Describe", "Get", "List")


def classify_aws(request: Request) -> Classified:
    fields = urllib.parse.parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    action = (fields.get("Action") or [""])[0]
    version = (fields.get("Version") or [""])[0]
    service = {"2015-12-01": "elbv2", "2012-06-01": "elb"}.get(version, "ec2")
    text = "&".join(f"{key}={value}" for key, values in sorted(fields.items()) for value in values
                    if key not in ("Action", "Version"))
    return Classified(f"{service}:{action}", bool(action) and not action.startswith(_READ_PREFIXES), text)


def aws_error(kind: str, call: Classified) -> ErrorAnswer:
    code, status, message = {
        "500": ("InternalFailure", 500, "The request processing has failed because of an unknown error."),
        "503": ("ServiceUnavailable", 503, "The service is unavailable. Please try again shortly."),
        "throttled": ("RequestLimitExceeded" if call.operation.startswith("ec2:") else "Throttling", 400,
                      "Rate exceeded"),
    }[kind]
    request_id = str(uuid.uuid4())
    if call.operation.startswith("ec2:"):
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code>"
                f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
    else:
        body = (f"<ErrorResponse><Error><Type>{'Receiver' if status >= 500 else 'Sender'}</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return ErrorAnswer(status, "text/xml", body.encode())


# --- GCP (Compute REST, JSON) ----------------------------------------------------------------------


def classify_gcp(request: Request) -> Classified:
    """``forwardingRules.insert``, ``instanceGroups.addInstances``...: the collection after the location, the verb."""
    path = urllib.parse.urlsplit(request.path).path
    parts = [part for part in path.split("/") if part]
    collection, rest = "", []
    for index, part in enumerate(parts):
        if part == "global" and index + 1 < len(parts):
            collection, rest = parts[index + 1], parts[index + 2:]
            break
        if part in ("regions", "zones") and index + 2 < len(parts):
            collection, rest = parts[index + 2], parts[index + 3:]
            break
    method = request.method
    if method == "GET":
        verb = "get" if rest else "list"
    elif method == "POST":
        verb = rest[-1] if len(rest) > 1 else "insert"
    else:
        verb = {"DELETE": "delete", "PATCH": "patch", "PUT": "update"}.get(method, method.lower())
    write = method != "GET" and "perations" not in collection
    return Classified(f"{collection}.{verb}", write,
                      urllib.parse.unquote(path) + " " + request.body.decode("utf-8", "replace"))


def gcp_error(kind: str, call: Classified) -> ErrorAnswer:
    status, reason, message = {
        "500": (500, "backendError", "Internal error. Please try again."),
        "503": (503, "backendError", "The service is currently unavailable."),
        "throttled": (429, "rateLimitExceeded", "Rate Limit Exceeded"),
    }[kind]
    body = json.dumps({"error": {"code": status, "message": message, "errors": [
        {"message": message, "domain": "usageLimits", "reason": reason}]}})
    return ErrorAnswer(status, "application/json", body.encode())


PROVIDERS: dict[str, tuple[Classifier, ErrorRenderer]] = {"aws": (classify_aws, aws_error),
                                                          "gcp": (classify_gcp, gcp_error)}


@dataclass(frozen=True)
class WriteRecord:
    at: float  # time.monotonic(), the same clock in every process on Linux
    operation: str
    fault: str  # "" when it went through untouched
    text: str


class FaultDecider:
    """Which request fails how: a hash of (seed, the request, its occurrence), so a seed repeats its faults."""

    def __init__(self, seed: int, rate: float) -> None:
        self.seed = seed
        self.rate = rate
        self._seen: Counter[bytes] = Counter()
        self._lock = threading.Lock()

    def decide(self, request: Request) -> str:
        identity = hashlib.sha256(b"\0".join([request.method.encode(), request.path.encode(), request.body])).digest()
        with self._lock:
            self._seen[identity] += 1
            occurrence = self._seen[identity]
            rate = self.rate
        draw = hashlib.sha256(struct.pack(">QQ", self.seed, occurrence) + identity).digest()
        value = int.from_bytes(draw[:8], "big") / 2**64
        if value >= rate:
            return ""
        return FAULT_KINDS[int.from_bytes(draw[8:12], "big") % len(FAULT_KINDS)]


class FaultyDoor:
    """The proxy: a threaded HTTP server that forwards to ``upstream`` unless the decider says otherwise."""

    def __init__(self, upstream: str, provider: str, seed: int, rate: float) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.classify, self.render_error = PROVIDERS[provider]
        self.decider = FaultDecider(seed, rate)
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # "all", "writes"
        self.faults: Counter[str] = Counter()  # by kind
        self.write_faults: Counter[str] = Counter()
        self.writes: list[WriteRecord] = []
        self.in_flight_writes = 0
        handler = type("BoundFaultRelay", (_FaultRelay,), {"door": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-door", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_rate(self, rate: float) -> None:
        with self.decider._lock:
            self.decider.rate = rate

    def note(self, call: Classified, fault: str) -> None:
        with self._lock:
            self.requests["all"] += 1
            if fault:
                self.faults[fault] += 1
            if call.write:
                self.requests["writes"] += 1
                if fault:
                    self.write_faults[fault] += 1
                self.writes.append(WriteRecord(time.monotonic(), call.operation, fault, call.text))

    def writing(self, delta: int) -> None:
        with self._lock:
            self.in_flight_writes += delta

    def writes_since(self, offset: int) -> list[WriteRecord]:
        with self._lock:
            return self.writes[offset:]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _FaultRelay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    door: FaultyDoor
    upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the door's counters are the record."""

    def relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_RELAYED}
        request = Request(self.command, self.path, body, headers)
        call = self.door.classify(request)
        fault = self.door.decider.decide(request)
        self.door.note(call, fault)
        if fault == "reset":
            self._reset()
            return
        if fault in ("500", "503", "throttled"):
            answer = self.door.render_error(fault, call)
            self._answer(answer.status, [("Content-Type", answer.content_type)], answer.body)
            return
        if call.write:
            self.door.writing(+1)
        try:
            status, answer_headers, payload = self._forward(body, headers)
        finally:
            if call.write:
                self.door.writing(-1)
        if fault == "lost":
            self._reset()
            return
        self._answer(status, answer_headers, payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay  # noqa: N815 - http.server's method names

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in NOT_RELAYED:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0): the client sees "connection reset by peer", no answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

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
        with contextlib.suppress(OSError):  # the socket may have been reset on purpose
            super().finish()
        if self.upstream is not None:
            self.upstream.close()
