"""Prometheus metrics of one controller instance (its own registry, so tests can run several)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from cloudlb import __version__
from cloudlb.cloudapi import CloudCall
from cloudlb.model import LoadBalancerKey, ServiceRef

# Cloud API latencies: from a cached read (milliseconds) to a slow write waiting on the cloud (a minute).
CLOUD_API_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


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
        self.load_balancers = Gauge(
            "cloudlb_load_balancers", "Cloud load balancers of this cluster, dedicated to one Service or shared",
            ["sharing"], registry=self.registry)
        self.load_balancer_members = Gauge(
            "cloudlb_load_balancer_members", "Services served by this cluster's load balancers, by whether "
            "their load balancer is dedicated or shared", ["sharing"], registry=self.registry)
        self.queue_depth = Gauge(
            "cloudlb_queue_depth", "Services waiting, in progress or backing off", registry=self.registry)
        self.garbage_collected = Counter(
            "cloudlb_garbage_collected_load_balancers", "Orphaned load balancers deleted", registry=self.registry)
        self.build_info = Gauge(
            "cloudlb_build_info", "Always 1; the version label says which cloudlb runs",
            ["version"], registry=self.registry)
        self.build_info.labels(__version__).set(1)
        self.leader = Gauge(
            "cloudlb_leader", "1 while this replica is the active one (holds the lease, or runs without one)",
            registry=self.registry)
        self.cloud_api_requests = Counter(
            "cloudlb_cloud_api_requests", "Requests to the cloud's API by provider, service, operation and outcome "
            "(success, throttled, client_error, server_error)",
            ["provider", "service", "operation", "outcome"], registry=self.registry)
        self.cloud_api_seconds = Histogram(
            "cloudlb_cloud_api_request_duration_seconds", "Latency of requests to the cloud's API",
            ["provider", "service", "operation"], buckets=CLOUD_API_BUCKETS, registry=self.registry)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def set_ownership(self, owned: Mapping[LoadBalancerKey, frozenset[ServiceRef]]) -> None:
        """Count the load balancers this cluster holds and the Services they serve."""
        for sharing, shared in (("dedicated", False), ("shared", True)):
            keys = [key for key in owned if key.shared is shared]
            self.load_balancers.labels(sharing).set(len(keys))
            self.load_balancer_members.labels(sharing).set(sum(len(owned[key]) for key in keys))

    def observe_cloud_call(self, call: CloudCall) -> None:
        """The observer of the provider's ``CloudApi``: one finished request."""
        self.cloud_api_requests.labels(call.provider, call.service, call.operation, call.outcome.value).inc()
        self.cloud_api_seconds.labels(call.provider, call.service, call.operation).observe(call.seconds)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        """Serve /metrics; raises OSError when the port is taken."""
        self._server, self._thread = start_http_server(port, addr=address, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
