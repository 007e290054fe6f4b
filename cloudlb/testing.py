"""Running the real controller in-process against an emulated Kubernetes API, for tests and the sandbox.

Plugin authors can use it too: load your provider through its entry point,
point it at your emulated cloud, and drive Services through the API.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from cloudlb.config import ControllerConfig, LeaderElection
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.metrics import Metrics
from cloudlb.operator import run_async
from cloudlb.plugins import load_plugin
from cloudlb.provider import Provider, ProviderSettings
from cloudlb.reconciler import Reconciler

T = TypeVar("T")


class WaitTimeout(AssertionError):
    pass


def wait_for(predicate: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05,
             message: str = "condition") -> T:
    """Poll until ``predicate`` returns something truthy, and return it; fail with ``message`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def service_manifest(name: str, ports: Sequence[tuple[int, str]] = ((80, "TCP"),), *, namespace: str = "default",
                     annotations: Mapping[str, str] | None = None, load_balancer_class: str | None = None,
                     external_traffic_policy: str | None = None, source_ranges: Sequence[str] | None = None,
                     load_balancer_ip: str | None = None, service_type: str = "LoadBalancer") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": service_type,
        "selector": {"app": name},
        "ports": [{"name": f"{protocol.lower()}-{port}", "port": port, "protocol": protocol}
                  for port, protocol in ports],
    }
    if load_balancer_class is not None:
        spec["loadBalancerClass"] = load_balancer_class
    if external_traffic_policy is not None:
        spec["externalTrafficPolicy"] = external_traffic_policy
    if source_ranges is not None:
        spec["loadBalancerSourceRanges"] = list(source_ranges)
    if load_balancer_ip is not None:
        spec["loadBalancerIP"] = load_balancer_ip
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "annotations": dict(annotations or {})},
            "spec": spec}


def node_manifest(name: str, *, provider_id: str, internal_ip: str, zone: str,
                  labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": zone, **(labels or {})}},
            "spec": {"providerID": provider_id},
            "status": {"addresses": [{"type": "InternalIP", "address": internal_ip},
                                     {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                       "nodeInfo": {"kubeletVersion": "v1.30.0"}}}


@contextmanager
def example_cluster(nodes: int = 2) -> Iterator[EmulatedKubernetes]:
    """An emulated cluster with ``nodes`` Nodes of the example plugin's cloud (zone-a, vm-0, vm-1, ...)."""
    with EmulatedKubernetes() as emulated:
        for index in range(nodes):
            emulated.create(node_manifest(f"node-{index}", provider_id=f"example://zone-a/vm-{index}",
                                          internal_ip=f"10.0.0.{10 + index}", zone="zone-a"))
        yield emulated


@dataclass
class RunningController:
    kube: EmulatedKubernetes
    provider: Provider[Any]
    reconciler: Reconciler
    config: ControllerConfig

    def service(self, namespace: str, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.kube.get("v1", "services", namespace, name)
        return found

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 30.0, message: str = "condition") -> T:
        return wait_for(predicate, timeout=timeout, message=message)

    def wait_for_ingress(self, namespace: str, name: str, timeout: float = 30.0) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            service = self.service(namespace, name)
            ingress = ((service or {}).get("status") or {}).get("loadBalancer", {}).get("ingress")
            return service if ingress else None
        return wait_for(ready, timeout=timeout, message=f"an ingress address on {namespace}/{name}")

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [event for event in self.kube.list("v1", "events", namespace)
                if (event.get("involvedObject") or {}).get("name") == name
                and (event.get("involvedObject") or {}).get("kind") == "Service"]

    def event_reasons(self, namespace: str, name: str) -> list[str]:
        return [str(event.get("reason")) for event in self.events(namespace, name)]

    def resync(self) -> None:
        """Trigger a full resync from the test's thread, as the periodic timer would."""
        loop = self.reconciler.loop
        assert loop is not None
        loop.call_soon_threadsafe(self.reconciler.resync_all)

    def idle(self) -> bool:
        """True when no Service waits in the queue, is being worked on, or backs off."""
        return self.reconciler.queue.pending() == 0


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def run_controller(
    kube: EmulatedKubernetes,
    *,
    provider: str,
    cluster_name: str = "test",
    options: Mapping[str, str] | None = None,
    environment: Mapping[str, str] | None = None,
    load_balancer_class: str = "",
    serve_unclassed: bool = True,
    workers: int = 4,
    resync_interval: float = 600.0,
    deep_resync_interval: float = 6 * 3600.0,
    gc_interval: float = 600.0,
    gc_initial_delay: float = 600.0,
    backoff_base: float = 0.1,
    backoff_cap: float = 2.0,
    cloud_state_retry: float = 120.0,
    share_namespaces: str = "",
    startup_timeout: float = 30.0,
    leader_election: LeaderElection | None = None,
    instance: Provider[Any] | None = None,
) -> Iterator[RunningController]:
    """Run the real kopf operator with the named provider plugin in a thread, against ``kube.url``.

    The emulated cluster is the test's own, so Services without a class are served by default; without
    ``leader_election`` the controller runs alone, as a single replica. ``instance`` is a provider built
    by the test (e.g. on a cloud that outlives one controller run, to restart the controller); otherwise
    the plugin builds one.
    """
    with _environment(environment or {}):
        plugin = load_plugin(provider)
        provider_options: dict[str, str | None] = {name.replace("-", "_"): value
                                                   for name, value in (options or {}).items()}
        instance = instance or plugin.create(ProviderSettings(cluster_name=cluster_name, options=provider_options))
        config = ControllerConfig(
            provider=provider, cluster_name=cluster_name, load_balancer_class=load_balancer_class,
            serve_unclassed=serve_unclassed, workers=workers, metrics_port=0, health_port=0,
            leader_election=leader_election or LeaderElection(enabled=False),
            resync_interval=resync_interval, deep_resync_interval=deep_resync_interval, gc_interval=gc_interval,
            gc_initial_delay=gc_initial_delay, backoff_base=backoff_base, backoff_cap=backoff_cap,
            cloud_state_retry=cloud_state_retry, share_namespaces=share_namespaces, provider_options=provider_options,
            api_server=kube.url,
        )
        reconciler = Reconciler(config, instance, Metrics())
        stop, ready = threading.Event(), threading.Event()
        failure: list[BaseException] = []

        def operate() -> None:
            try:
                asyncio.run(run_async(config, lambda: instance, stop_flag=stop, ready_flag=ready,
                                      reconciler=reconciler))
            except BaseException as exc:  # surfaced to the test below
                failure.append(exc)
                ready.set()

        thread = threading.Thread(target=operate, name="cloudlb-operator", daemon=True)
        thread.start()
        try:
            if not ready.wait(startup_timeout) or failure:
                raise RuntimeError(f"the controller did not start: {failure[0] if failure else 'timeout'}")
            wait_for(lambda: reconciler.kube is not None, timeout=startup_timeout, message="controller startup")
            yield RunningController(kube=kube, provider=instance, reconciler=reconciler, config=config)
        finally:
            stop.set()
            thread.join(timeout=30)
        if failure and not isinstance(failure[0], (KeyboardInterrupt, SystemExit)):
            raise RuntimeError("the controller failed") from failure[0]
