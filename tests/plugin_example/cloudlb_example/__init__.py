"""An example cloudlb provider: a load balancer "cloud" that lives in memory.

It shows everything a plugin needs, on provider contract v2: static
capabilities, an offering choice from annotations, its own annotation checks,
a batched ``observe``, a pure ``plan`` of changes with reasons, an ``apply``
that runs them, a ``sweep`` that reports drift and ownership, and load
balancers shared by several Services. Tests use it to watch what the core asks
of a provider, to change the "cloud" behind the controller's back, and to
inject failures.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloudlb.changes import Action, Change, ChangePlan, run_changes
from cloudlb.model import (
    DesiredLoadBalancer,
    Ingress,
    LoadBalancerKey,
    LoadBalancerSpec,
    LoadBalancerStatus,
    Protocol,
    ServiceRef,
)
from cloudlb.problems import INVALID_ANNOTATION, Problem
from cloudlb.provider import (
    Capabilities,
    NotOwnedError,
    Offering,
    Provider,
    ProviderOption,
    ProviderPlugin,
    ProviderSettings,
    Statuses,
    SweepResult,
)

IDLE_TIMEOUT_ANNOTATION = "example.cloudlb.io/idle-timeout"
# "pods": send traffic straight to the Service's ready endpoints (no node ports needed), as an IP-target NLB does.
TARGETS_ANNOTATION = "example.cloudlb.io/targets"
# "key=value,key2=value2": only nodes carrying all these labels are targets (like AWS's target-node-labels).
NODE_SELECTOR_ANNOTATION = "example.cloudlb.io/node-selector"
# ASCII digits only: str.isdigit() and \d also accept other scripts' digits, which no cloud does.
WHOLE_SECONDS = re.compile(r"^[0-9]{1,6}$")

CAPABILITIES = Capabilities(
    offerings=(
        Offering("external", "example external load balancer", frozenset({Protocol.TCP, Protocol.UDP}), max_ports=8),
        Offering("internal", "example internal load balancer",
                 frozenset({Protocol.TCP, Protocol.UDP, Protocol.SCTP}), max_ports=8),
        Offering("pods", "example load balancer to Pod IPs", frozenset({Protocol.TCP, Protocol.UDP}), max_ports=8,
                 needs_node_ports=False, targets="endpoints", ip_families=frozenset({"IPv4", "IPv6"})),
    ),
    annotation_prefixes=("example.cloudlb.io/",),
    annotations=frozenset({IDLE_TIMEOUT_ANNOTATION, TARGETS_ANNOTATION, NODE_SELECTOR_ANNOTATION}),
)


@dataclass
class FakeLoadBalancer:
    """One load balancer of the in-memory cloud; ``owner`` is its ownership mark."""

    owner: str  # "<cluster>/<key>", or anything else for a foreign one
    spec: LoadBalancerSpec | None  # its first (or only) member, as last applied
    ip: str
    members: tuple[LoadBalancerSpec, ...] = ()
    # What traffic goes to: node provider ids (those carrying the node-selector labels) or Pod IP:port.
    targets: tuple[str, ...] = ()

    def copy(self) -> FakeLoadBalancer:
        return FakeLoadBalancer(self.owner, self.spec, self.ip, self.members, self.targets)


@dataclass
class InMemoryCloud:
    """The "cloud": load balancers by name, plus a log of calls and scheduled failures.

    The log records ``("ensure" | "delete", service)`` for each load balancer an
    ``apply`` converges or removes (once per member Service), and
    ``("observe" | "sweep", "")`` for reads.
    """

    load_balancers: dict[str, FakeLoadBalancer] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_ip: int = 1

    def fail(self, method: str, *errors: Exception) -> None:
        """The next calls of ``method`` ("ensure", "delete", "observe", "sweep") raise these errors, one per call."""
        with self.lock:
            self.failures.setdefault(method, []).extend(errors)

    def count(self, method: str, service: ServiceRef | None = None) -> int:
        with self.lock:
            return sum(1 for m, s in self.calls if m == method and (service is None or s == str(service)))

    def enter(self, method: str, subject: str = "") -> None:
        with self.lock:
            self.calls.append((method, subject))
            pending = self.failures.get(method)
            error = pending.pop(0) if pending else None
        if error is not None:
            raise error


# Each load balancer of a key that exists, by name: its scheme is part of its name (like AWS, this
# "cloud" cannot change a scheme in place), so during a change of scheme there are two.
Observed = Mapping[str, FakeLoadBalancer]


class ExampleProvider(Provider[Observed]):
    capabilities = CAPABILITIES

    def __init__(self, cluster_name: str, cloud: InMemoryCloud | None = None) -> None:
        self.cluster_name = cluster_name
        self.cloud = cloud or InMemoryCloud()
        # What the last sweep or apply saw of each of our load balancers, to tell drift from our own writes.
        self._seen: dict[str, tuple[Any, ...]] = {}
        self._seen_lock = threading.Lock()

    def names(self, key: LoadBalancerKey) -> tuple[str, str]:
        """The external and the internal name of the key's load balancer."""
        base = (f"{self.cluster_name}-shared-{key.namespace}-{key.name}" if key.shared
                else f"{self.cluster_name}-{key.namespace}-{key.name}")
        return base, f"{base}-internal"

    def owner(self, key: LoadBalancerKey) -> str:
        return f"{self.cluster_name}/{key}"

    # -- pure --------------------------------------------------------------------------------------

    def offering_for(self, spec: LoadBalancerSpec) -> Offering:
        if spec.annotations.get(TARGETS_ANNOTATION) == "pods":
            return CAPABILITIES.offering("pods")
        return CAPABILITIES.offering("internal" if spec.internal else "external")

    def node_label_keys(self, annotations: Mapping[str, str]) -> frozenset[str]:
        return frozenset(node_selector(annotations))

    def validate(self, spec: LoadBalancerSpec) -> Sequence[Problem]:
        found = []
        value = spec.annotations.get(IDLE_TIMEOUT_ANNOTATION)
        if value is not None and not WHOLE_SECONDS.match(value):
            found.append(Problem(f"metadata.annotations[{IDLE_TIMEOUT_ANNOTATION}]", INVALID_ANNOTATION,
                                 f"{value!r} is not a whole number of seconds", fatal=True))
        targets = spec.annotations.get(TARGETS_ANNOTATION)
        if targets not in (None, "pods", "nodes"):
            found.append(Problem(f"metadata.annotations[{TARGETS_ANNOTATION}]", INVALID_ANNOTATION,
                                 f"{targets!r} is not one of \"nodes\", \"pods\"", fatal=True))
        return found

    def plan(self, key: LoadBalancerKey, desired: DesiredLoadBalancer | None, observed: Observed) -> ChangePlan:
        ours = {name: lb for name, lb in observed.items() if lb.owner == self.owner(key)}
        if desired is None:
            # Someone else's load balancer with our name is never ours to delete.
            return ChangePlan(key, tuple(Change(Action.DELETE, "load-balancer", name, "no Service wants it")
                                         for name in sorted(ours)))
        name = self.names(key)[desired.first.internal]
        if name in observed and name not in ours:
            raise NotOwnedError(f"load balancer {name}")
        # The other scheme's load balancer goes once the status names this one.
        retire = tuple(Change(Action.DELETE, "load-balancer", old, f"replaced by {name} (scheme changed)")
                       for old in sorted(ours) if old != name)
        current = ours.get(name)
        if current is None:
            return ChangePlan(key, (Change(Action.CREATE, "load-balancer", name, "missing", payload=desired),), retire)
        differences = _differences(current.members, desired.members)
        if not differences:
            return ChangePlan(key, (), retire)
        return ChangePlan(key, (Change(Action.UPDATE, "load-balancer", name, "; ".join(differences),
                                       payload=desired),), retire)

    # -- the "cloud" -------------------------------------------------------------------------------

    def observe(self, keys: Sequence[LoadBalancerKey]) -> Mapping[LoadBalancerKey, Observed]:
        self.cloud.enter("observe")
        with self.cloud.lock:
            return {key: {name: lb.copy() for name in self.names(key)
                          if (lb := self.cloud.load_balancers.get(name)) is not None} for key in keys}

    def apply(self, plan: ChangePlan) -> Statuses:
        def run(change: Change) -> None:
            services = [str(s) for s in (change.payload.services if change.payload else ())] or [str(plan.key)]
            for service in services:
                self.cloud.enter("delete" if change.action is Action.DELETE else "ensure", service)
            with self.cloud.lock:
                if change.action is Action.DELETE:
                    self.cloud.load_balancers.pop(change.name, None)
                    self._remember(change.name, None)
                    return
                existing = self.cloud.load_balancers.get(change.name)
                if existing is None:
                    ip = str(ipaddress.ip_address("198.51.100.0") + self.cloud.next_ip)
                    self.cloud.next_ip += 1
                    existing = self.cloud.load_balancers[change.name] = FakeLoadBalancer(
                        self.owner(plan.key), None, ip)
                existing.spec, existing.members = change.payload.first, change.payload.members
                existing.targets = tuple(sorted({t for member in existing.members for t in targets_of(member)}))
                self._remember(change.name, existing)

        run_changes(plan.key, plan.changes, run)
        retiring = {change.name for change in plan.retire}
        with self.cloud.lock:
            served = next((lb for name in self.names(plan.key) if name not in retiring
                           and (lb := self.cloud.load_balancers.get(name)) is not None
                           and lb.owner == self.owner(plan.key)), None)
        if served is None:
            return {}
        status = LoadBalancerStatus(ingress=(Ingress(ip=served.ip, ip_mode="VIP"),))
        return {member.service: status for member in served.members}

    def sweep(self, *, deep: bool = False) -> SweepResult:
        self.cloud.enter("sweep")
        prefix = f"{self.cluster_name}/"
        with self.cloud.lock:
            ours = {name: lb.copy() for name, lb in self.cloud.load_balancers.items() if lb.owner.startswith(prefix)}
        owned: dict[LoadBalancerKey, frozenset[ServiceRef]] = {}
        drifted: set[LoadBalancerKey] = set()
        with self._seen_lock:
            for name, lb in ours.items():
                key = _key_of(lb.owner[len(prefix):])
                owned[key] = owned.get(key, frozenset()) | frozenset(member.service for member in lb.members)
                if self._seen.get(name) != _fingerprint(lb):
                    drifted.add(key)
            # Deleted behind our back: the key of a name we knew is recorded in what we saw.
            drifted |= {seen[0] for name, seen in self._seen.items() if name not in ours}
            self._seen = {name: _fingerprint(lb) for name, lb in ours.items()}
        return SweepResult(drifted=frozenset(drifted), owned=owned)

    def _remember(self, name: str, current: FakeLoadBalancer | None) -> None:
        with self._seen_lock:
            if current is None:
                self._seen.pop(name, None)
            else:
                self._seen[name] = _fingerprint(current)


def node_selector(annotations: Mapping[str, str]) -> dict[str, str]:
    pairs = (item.partition("=") for item in annotations.get(NODE_SELECTOR_ANNOTATION, "").split(",") if item)
    return {name.strip(): value.strip() for name, _, value in pairs}


def targets_of(spec: LoadBalancerSpec) -> tuple[str, ...]:
    """Where the member's traffic goes: its ready Pods (ip:targetPort) or its selected nodes."""
    if spec.annotations.get(TARGETS_ANNOTATION) == "pods":
        return tuple(f"{endpoint.ip}:{target}" for endpoint in spec.endpoints for port in spec.ports
                     if (target := spec.target_port(port)) is not None)
    selector = node_selector(spec.annotations)
    return tuple(backend.provider_id for backend in spec.backends if backend.has_labels(selector))


def _fingerprint(lb: FakeLoadBalancer) -> tuple[Any, ...]:
    """What a sweep compares; the key comes first, so that a vanished load balancer names its key."""
    return (_key_of(lb.owner.partition("/")[2]), lb.ip, lb.members)


def _key_of(text: str) -> LoadBalancerKey:
    shared = text.startswith("shared:")
    namespace, _, name = text.removeprefix("shared:").partition("/")
    return LoadBalancerKey(namespace, name, shared)


def _differences(observed: Sequence[LoadBalancerSpec], desired: Sequence[LoadBalancerSpec]) -> list[str]:
    """Why the load balancer must change, one reason per member that differs."""
    before = {spec.service: spec for spec in observed}
    after = {spec.service: spec for spec in desired}
    reasons = [f"{service}: member added" for service in sorted(after.keys() - before.keys())]
    reasons += [f"{service}: member removed" for service in sorted(before.keys() - after.keys())]
    for service in sorted(after.keys() & before.keys()):
        old, new = before[service], after[service]
        changed = []
        if old.ports != new.ports:
            changed.append(f"{service}: ports {_ports(old)} -> {_ports(new)}")
        if old.backends != new.backends:
            changed.append(f"{service}: backends {len(old.backends)} -> {len(new.backends)} nodes")
        if old.endpoints != new.endpoints:
            changed.append(f"{service}: endpoints {len(old.endpoints)} -> {len(new.endpoints)}")
        if old != new and not changed:
            changed.append(f"{service}: settings changed")
        reasons += changed
    return reasons


def _ports(spec: LoadBalancerSpec) -> str:
    return ",".join(str(port.key) for port in spec.ports) or "none"


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
