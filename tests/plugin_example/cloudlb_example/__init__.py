"""An example cloudlb provider: a load balancer "cloud" that lives in memory.

It shows everything a plugin needs: static capabilities, an offering choice
from annotations, its own annotation checks, idempotent ensure/delete,
ownership, and list_owned. Tests use it to watch what the core asks of a
provider, and to inject failures.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloudlb.legacy import WholeServiceProvider
from cloudlb.model import Ingress, LoadBalancerSpec, LoadBalancerStatus, Protocol, ServiceRef
from cloudlb.problems import INVALID_ANNOTATION, Problem
from cloudlb.provider import (
    Capabilities,
    NotOwnedError,
    Offering,
    Provider,
    ProviderOption,
    ProviderPlugin,
    ProviderSettings,
)

IDLE_TIMEOUT_ANNOTATION = "example.cloudlb.io/idle-timeout"

CAPABILITIES = Capabilities(offerings=(
    Offering("external", "example external load balancer", frozenset({Protocol.TCP, Protocol.UDP}), max_ports=8),
    Offering("internal", "example internal load balancer",
             frozenset({Protocol.TCP, Protocol.UDP, Protocol.SCTP}), max_ports=8),
))


@dataclass
class FakeLoadBalancer:
    owner: str  # "<cluster>/<namespace>/<name>", or anything else for a foreign one
    spec: LoadBalancerSpec | None
    ip: str


@dataclass
class InMemoryCloud:
    """The "cloud": load balancers by name, plus a log of calls and scheduled failures."""

    load_balancers: dict[str, FakeLoadBalancer] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_ip: int = 1

    def fail(self, method: str, *errors: Exception) -> None:
        """The next calls of ``method`` raise these errors, one per call."""
        with self.lock:
            self.failures.setdefault(method, []).extend(errors)

    def count(self, method: str, service: ServiceRef | None = None) -> int:
        with self.lock:
            return sum(1 for m, s in self.calls if m == method and (service is None or s == str(service)))


class ExampleProvider(WholeServiceProvider):
    capabilities = CAPABILITIES

    def __init__(self, cluster_name: str, cloud: InMemoryCloud | None = None) -> None:
        self.cluster_name = cluster_name
        self.cloud = cloud or InMemoryCloud()

    def _name(self, service: ServiceRef) -> str:
        return f"{self.cluster_name}-{service.namespace}-{service.name}"

    def _owner(self, service: ServiceRef) -> str:
        return f"{self.cluster_name}/{service.namespace}/{service.name}"

    def _enter(self, method: str, service: ServiceRef | None) -> None:
        with self.cloud.lock:
            self.cloud.calls.append((method, str(service) if service else ""))
            pending = self.cloud.failures.get(method)
            error = pending.pop(0) if pending else None
        if error is not None:
            raise error

    def offering_for(self, spec: LoadBalancerSpec) -> Offering:
        return CAPABILITIES.offering("internal" if spec.internal else "external")

    def validate(self, spec: LoadBalancerSpec) -> Sequence[Problem]:
        value = spec.annotations.get(IDLE_TIMEOUT_ANNOTATION)
        if value is not None and not value.isdigit():
            return [Problem(f"metadata.annotations[{IDLE_TIMEOUT_ANNOTATION}]", INVALID_ANNOTATION,
                            f"{value!r} is not a whole number of seconds", fatal=True)]
        return []

    def ensure_service(self, spec: LoadBalancerSpec) -> LoadBalancerStatus:
        self._enter("ensure", spec.service)
        name = self._name(spec.service)
        with self.cloud.lock:
            existing = self.cloud.load_balancers.get(name)
            if existing is not None and existing.owner != self._owner(spec.service):
                raise NotOwnedError(f"load balancer {name}")
            if existing is None:
                ip = str(ipaddress.ip_address("198.51.100.0") + self.cloud.next_ip)
                self.cloud.next_ip += 1
                existing = self.cloud.load_balancers[name] = FakeLoadBalancer(self._owner(spec.service), spec, ip)
            existing.spec = spec
            return LoadBalancerStatus(ingress=(Ingress(ip=existing.ip, ip_mode="VIP"),))

    def delete_service(self, service: ServiceRef) -> None:
        self._enter("delete", service)
        name = self._name(service)
        with self.cloud.lock:
            existing = self.cloud.load_balancers.get(name)
            if existing is not None and existing.owner == self._owner(service):
                del self.cloud.load_balancers[name]

    def owned_services(self) -> Sequence[ServiceRef]:
        self._enter("list_owned", None)
        prefix = f"{self.cluster_name}/"
        with self.cloud.lock:
            owners = [lb.owner for lb in self.cloud.load_balancers.values() if lb.owner.startswith(prefix)]
        return [ServiceRef(*owner[len(prefix):].split("/", 1)) for owner in owners]


def _create(settings: ProviderSettings) -> Provider[Any]:
    return ExampleProvider(settings.cluster_name)


create: Callable[[ProviderSettings], Provider[Any]] = _create

plugin = ProviderPlugin(
    name="example",
    description="Example provider with an in-memory cloud",
    capabilities=CAPABILITIES,
    create=create,
    options=(ProviderOption("example-greeting", "An example provider option", default="hello"),),
)
