"""The probe endpoints: ``/healthz`` (liveness) and ``/readyz`` (readiness).

``/healthz`` answers while the event loop runs: it is served on that loop, so
a loop stuck on a blocking call stops answering and the kubelet restarts the
pod. ``/readyz`` answers 200 only once the start-up checks have passed (API
server, lease, the provider's own check) and the controller is running; before
that it answers 503 with what it is waiting for.

The port is bound first thing at start-up (``cloudlb.startup.bind_port``), so
that a port in use is reported at once, before any slower check.
"""

from __future__ import annotations

import socket

import aiohttp.web


class HealthServer:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._runner: aiohttp.web.AppRunner | None = None
        self.waiting_for = "the start-up checks"  # what /readyz says while not ready
        self.ready = False

    def mark_ready(self) -> None:
        self.ready = True

    async def start(self) -> None:
        app = aiohttp.web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = aiohttp.web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await aiohttp.web.SockSite(self._runner, self._sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._sock.close()

    async def _healthz(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(text="ok")

    async def _readyz(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        if self.ready:
            return aiohttp.web.Response(text="ok")
        return aiohttp.web.Response(status=503, text=f"not ready: waiting for {self.waiting_for}")
