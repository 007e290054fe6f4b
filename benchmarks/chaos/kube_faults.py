"""A fault-injecting reverse proxy in front of the emulated Kubernetes API: the API server side of the chaos run.

The controller's kubeconfig points here instead of at the API server. The proxy
forwards everything, and:

- answers a fraction of requests itself with ``500 InternalError`` (any verb) and
  another with ``409 Conflict`` (PATCH/PUT: "the object has been modified", as on a
  stale resourceVersion), nothing executed; ``fail_next(path, status, n)`` answers the
  next ``n`` requests of one path (and one verb) with that status, for a deterministic
  reproduction;
- cuts watch streams **mid-event**: half of an event's JSON line is sent, then the
  connection is reset, so the client must re-watch from the last event it saw whole;
- ``restart(seconds)``: what a restart of kube-apiserver looks like from a client:
  every open connection (watches included) is reset, and new connections are refused
  for ``seconds`` before the same address answers again with the same data (etcd kept
  everything, resourceVersions go on).

The emulated API server itself cannot be restarted with its data (every start begins a
new cluster), which is why the restart is made here, on the wire, as clients see it.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter

import aiohttp
import aiohttp.web

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host",
                        "content-encoding", "proxy-connection", "upgrade"})
_START_TIMEOUT = 15.0


def _status(code: int, reason: str, message: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()


class KubeFaultProxy:
    def __init__(self, upstream: str, *, seed: int, rate: float, watch_cut_rate: float,
                 conflict_rate: float = 0.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.conflict_rate = conflict_rate
        self._scripted: dict[tuple[str, str], tuple[int, int]] = {}  # (verb, path) -> (status, how many more)
        self.watch_cut_rate = watch_cut_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._site: aiohttp.web.TCPSite | None = None
        self._runner: aiohttp.web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._open: set[asyncio.Transport] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> KubeFaultProxy:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="kube-fault-proxy",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the Kubernetes fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def restart(self, outage: float) -> None:
        """Reset every connection, refuse new ones for ``outage`` seconds, then serve again (blocks)."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._restart(outage), self._loop).result(outage + 30)
        self._count("apiserver restarts")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                                              auto_decompress=False)
        self._runner = aiohttp.web.ServerRunner(aiohttp.web.Server(self._handle, handler_cancellation=True),
                                                shutdown_timeout=1.0)
        await self._runner.setup()
        await self._listen()
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            self._abort_all()
            await self._runner.cleanup()
            await self._session.close()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = aiohttp.web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    async def _restart(self, outage: float) -> None:
        assert self._site is not None
        await self._site.stop()
        self._abort_all()
        await asyncio.sleep(outage)
        await self._listen()

    def _abort_all(self) -> None:
        for transport in list(self._open):
            transport.abort()
        self._open.clear()

    # --- faults ---------------------------------------------------------------------------------

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    def fail_next(self, method: str, path: str, status: int, count: int = 1) -> None:
        """Answer the next ``count`` ``method`` requests of ``path`` with ``status`` (409 or 500)."""
        with self._lock:
            self._scripted[(method, path)] = (status, count)

    def _fault_for(self, method: str, path: str) -> int | None:
        with self._lock:
            status, left = self._scripted.get((method, path), (0, 0))
            if left > 0:
                self._scripted[(method, path)] = (status, left - 1)
                return status
        if method in ("PATCH", "PUT") and self._draw() < self.conflict_rate:
            return 409
        if self._draw() < self.rate:
            return 500
        return None

    # --- relaying -------------------------------------------------------------------------------

    async def _handle(self, request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        transport = request.transport
        if transport is not None:
            self._open.add(transport)
        try:
            return await self._relay(request)
        finally:
            if transport is not None:
                self._open.discard(transport)

    async def _relay(self, request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        watch = request.method == "GET" and request.query.get("watch") in ("true", "1")
        self._count("watches" if watch else "requests")
        fault = None if watch else self._fault_for(request.method, request.path)
        if fault == 409:
            self._count("409 Conflict")
            return aiohttp.web.Response(status=409, content_type="application/json", body=_status(
                409, "Conflict", "Operation cannot be fulfilled: the object has been modified; please apply your "
                                 "changes to the latest version and try again"))
        if fault == 500:
            self._count("500 InternalError")
            return aiohttp.web.Response(status=500, content_type="application/json", body=_status(
                500, "InternalError", "Internal error occurred: etcdserver: request timed out"))
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        async with self._session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                         data=body or None, allow_redirects=False) as upstream:
            answer_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            if watch:
                return await self._stream(request, upstream, answer_headers)
            payload = await upstream.read()
            return aiohttp.web.Response(status=upstream.status, headers=answer_headers, body=payload)

    async def _stream(self, request: aiohttp.web.BaseRequest, upstream: aiohttp.ClientResponse,
                      headers: dict[str, str]) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(status=upstream.status, headers=headers)
        await response.prepare(request)
        pending = b""
        try:
            async for chunk in upstream.content.iter_any():
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if self._draw() < self.watch_cut_rate:
                        self._count("watch streams cut mid-event")
                        await response.write(line[: max(1, len(line) // 2)])
                        if request.transport is not None:
                            request.transport.abort()
                        return response
                    await response.write(line + b"\n")
            await response.write_eof()
        except (ConnectionResetError, aiohttp.ClientConnectionResetError, aiohttp.ClientPayloadError):
            pass  # the client went away, or the restart reset it: nothing left to tell it
        return response

