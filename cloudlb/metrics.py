"""Prometheus metrics of one controller instance (its own registry, so tests can run several)."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "cloudlb_reconciles", "Reconciles of Services by outcome",
            ["outcome"], registry=self.registry)
        self.reconcile_seconds = Histogram(
            "cloudlb_reconcile_duration_seconds", "Time to reconcile one Service, provider calls included",
            registry=self.registry)
        self.provider_calls = Counter(
            "cloudlb_provider_calls", "Calls to the provider by method and outcome",
            ["method", "outcome"], registry=self.registry)
        self.managed = Gauge(
            "cloudlb_managed_load_balancers", "Services whose load balancer was last ensured successfully",
            registry=self.registry)
        self.queue_depth = Gauge(
            "cloudlb_queue_depth", "Services waiting, in progress or backing off", registry=self.registry)
        self.garbage_collected = Counter(
            "cloudlb_garbage_collected_load_balancers", "Orphaned load balancers deleted", registry=self.registry)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        self._server, self._thread = start_http_server(port, addr=address, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
