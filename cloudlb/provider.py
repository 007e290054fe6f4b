"""The contract between the core and a cloud provider plugin (contract v2: observe, plan, apply).

It is the upstream cloud-provider ``LoadBalancer`` interface made smaller and
stricter, split the way aws-load-balancer-controller builds a model and then
deploys it, with the reads batched across Services:

- pure: ``offering_for`` (which kind of load balancer a Service asks for),
  ``validate`` (the provider's own annotations), ``sharing_traits`` (what must
  match for Services to share one load balancer), and ``plan`` (desired load
  balancer + observed state -> ordered changes, each with its reason);
- blocking, called off the event loop: ``check`` (start-up), ``observe``
  (what the cloud holds for some load balancers, from the provider's inventory
  where that is fresh, batched reads otherwise), ``apply`` (run a plan, keep the
  inventory in step with the writes, return each member Service's status),
  ``retire`` (delete what a plan replaced, once the status names the
  replacement) and ``sweep`` (refresh the whole inventory with list calls,
  report what drifted and everything this cluster owns).

``ensure`` and ``delete`` are observe -> plan -> apply, composed here once.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from cloudlb.changes import ChangePlan
from cloudlb.cloudapi import CloudApi
from cloudlb.model import (
    IPV4,
    DesiredLoadBalancer,
    LoadBalancerKey,
    LoadBalancerSpec,
    LoadBalancerStatus,
    Protocol,
    ServiceRef,
)
from cloudlb.problems import Problem

ObservedT = TypeVar("ObservedT")
Statuses = Mapping[ServiceRef, LoadBalancerStatus]


class ProviderError(Exception):
    """Base of the errors a provider raises; anything else is treated as retry-later.

    ``code`` is the cloud's own error code (``Throttling``, ``QUOTA_EXCEEDED``...), for logs and metrics.
    """

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def attach_statuses(error: BaseException, statuses: Statuses) -> None:
    """Record on a failure of ``apply`` the status of each member whose load balancer already exists.

    A plan that failed part-way may have created the load balancer (its listeners
    failed, say): the core then writes these addresses with the error instead of
    leaving a billed load balancer that no Service names.
    """
    error.cloudlb_statuses = dict(statuses)  # type: ignore[attr-defined]


def attached_statuses(error: BaseException) -> Statuses:
    """What ``attach_statuses`` recorded on this error (nothing for most errors)."""
    statuses = getattr(error, "cloudlb_statuses", None)
    return statuses if isinstance(statuses, Mapping) else {}


class RetryLater(ProviderError):
    """A transient failure (throttling, an operation still running, a cloud outage).

    ``delay`` is the provider's hint in seconds; the operator still applies its
    own capped exponential backoff when no hint is given.
    """

    def __init__(self, message: str, *, delay: float | None = None, code: str = "") -> None:
        super().__init__(message, code=code)
        self.delay = delay


class PermanentError(ProviderError):
    """Bad configuration that retrying cannot fix; waits for the Service to change."""


class CloudStateError(ProviderError):
    """The cloud's state refuses the change: a quota, a limit, a resource still in use elsewhere.

    Nothing about the Service is wrong and it may clear without the Service
    changing (another load balancer is deleted, a quota is raised), so it is
    retried on a slow schedule (``delay`` seconds, minutes by default) instead
    of waiting for an edit.
    """

    def __init__(self, message: str, *, delay: float | None = None, code: str = "") -> None:
        super().__init__(message, code=code)
        self.delay = delay


class StartupCheckFailed(ProviderError):
    """``Provider.check`` found the configuration unusable: the message names the setting and the fix."""


class NotOwnedError(PermanentError):
    """A cloud resource with the name we would use exists but carries no ownership mark of ours.

    It is never modified or deleted; the Service gets a Warning naming it.
    """

    def __init__(self, resource: str, message: str | None = None) -> None:
        super().__init__(message or f"{resource} exists but is not owned by this cluster; leaving it untouched",
                         code="NotOwned")
        self.resource = resource


@dataclass(frozen=True)
class Offering:
    """One kind of load balancer a provider can build, and what it can carry.

    ``protocols`` are the Service port protocols it serves; ``same_port_tcp_udp``
    says whether one port number may be both TCP and UDP; ``max_ports`` is the
    listener limit of the cloud.

    ``needs_node_ports``: traffic goes to the nodes' nodePorts (instance-target
    NLB, Classic ELB), so a Service port without a nodePort cannot be served;
    passthrough and IP-target load balancers reach the Service port or the Pods
    directly. ``targets`` is what the load balancer sends traffic to: "nodes"
    (``spec.backends``) or "endpoints" (the Service's ready Pod addresses in
    ``spec.endpoints``, which the core then watches). ``ip_families`` are the
    families it can serve addresses of.
    """

    name: str
    description: str
    protocols: frozenset[Protocol]
    same_port_tcp_udp: bool = True
    mixed_protocols: bool = True
    max_ports: int = 50
    ingress: str = "ip"  # "ip" or "hostname": what the status will carry
    needs_node_ports: bool = True
    targets: str = "nodes"  # "nodes" or "endpoints"
    ip_families: frozenset[str] = frozenset({IPV4})


@dataclass(frozen=True)
class Capabilities:
    """What a provider can build, and which Service annotations it reads.

    ``annotation_prefixes`` are the annotation namespaces the provider speaks
    for (e.g. ``service.beta.kubernetes.io/aws-load-balancer-``); every
    annotation there that is not in ``annotations`` is reported to the user as
    not honoured, never dropped silently.
    """

    offerings: tuple[Offering, ...]
    annotation_prefixes: tuple[str, ...] = ()
    annotations: frozenset[str] = frozenset()

    def offering(self, name: str) -> Offering:
        for offering in self.offerings:
            if offering.name == name:
                return offering
        raise KeyError(name)


@dataclass(frozen=True)
class ProviderOption:
    """A provider setting exposed as ``cloudlb run --<name>`` and ``CLOUDLB_<NAME>``."""

    name: str  # e.g. "gcp-project"
    help: str
    default: str | None = None
    required: bool = False

    @property
    def envvar(self) -> str:
        return "CLOUDLB_" + self.name.upper().replace("-", "_")

    @property
    def key(self) -> str:
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class ProviderSettings:
    """What the core hands a plugin to build its provider.

    ``cloud_api`` is the gate every cloud request of the provider passes
    (rate limits, the shared pause after throttling, request metrics).
    """

    cluster_name: str
    options: Mapping[str, str | None] = field(default_factory=dict)
    cloud_api: CloudApi = field(default_factory=lambda: CloudApi("provider"))


@dataclass(frozen=True)
class SweepResult:
    """What one sweep of the cloud found.

    ``drifted``: load balancers whose cloud state differs from what the
    inventory held (changed behind the controller's back, or never seen);
    only these are re-planned. ``owned``: every load balancer of this cluster,
    with the Services it records as members, for garbage collection.
    """

    drifted: frozenset[LoadBalancerKey]
    owned: Mapping[LoadBalancerKey, frozenset[ServiceRef]]


class Provider(abc.ABC, Generic[ObservedT]):
    """One cloud's load balancers. Instances are used from several worker threads at once.

    ``ObservedT`` is the provider's own view of one load balancer's cloud
    resources; the core only passes it from ``observe`` to ``plan``.
    """

    capabilities: Capabilities

    # -- pure --------------------------------------------------------------------------------------

    @abc.abstractmethod
    def offering_for(self, spec: LoadBalancerSpec) -> Offering:
        """Which offering this Service asks for (by its annotations and ``internal``)."""

    def validate(self, spec: LoadBalancerSpec) -> Sequence[Problem]:
        """Problems with this provider's own annotations; the default accepts everything."""
        return ()

    def node_label_keys(self, annotations: Mapping[str, str]) -> frozenset[str]:
        """The node labels this Service's load balancer selects its nodes by (e.g. a target-node-labels annotation).

        Only these labels reach ``Backend.labels``, so a change of any other
        node label re-plans nothing; a change of one of these re-plans only
        the load balancers that select by it. The default selects by none.
        """
        return frozenset()

    def sharing_traits(self, spec: LoadBalancerSpec) -> Hashable:
        """What must be equal for Services to share one load balancer.

        The default is what every provider builds once per load balancer: the
        offering, the scheme, the allowed source ranges and requested addresses.
        A provider adds the annotations it applies load-balancer-wide.
        """
        return (self.offering_for(spec).name, spec.internal, spec.source_ranges, spec.requested_ips)

    @abc.abstractmethod
    def plan(self, key: LoadBalancerKey, desired: DesiredLoadBalancer | None, observed: ObservedT) -> ChangePlan:
        """The ordered changes that turn ``observed`` into ``desired`` (None: remove everything of ``key``).

        An empty plan means the cloud already matches. Any resource without
        this cluster's ownership mark is never in a plan: where ``desired``
        needs its name, ``NotOwnedError`` is raised; when removing, it is
        simply not ours to remove.
        """

    # -- blocking: called from worker threads ------------------------------------------------------

    def check(self) -> None:
        """Start-up check, cheap and read-only (credentials, region, one read).

        Raise ``StartupCheckFailed`` with one plain line naming the setting and
        the fix; the controller then exits before serving anything.
        """

    @abc.abstractmethod
    def observe(self, keys: Sequence[LoadBalancerKey]) -> Mapping[LoadBalancerKey, ObservedT]:
        """What the cloud holds for each key: from the inventory where it is fresh, else in batched reads."""

    def collect_garbage(self) -> None:
        """Delete what this cluster owns at cluster level (not per load balancer) that nothing uses any more.

        Called by the garbage-collection loop right after its sweep, while leading. A controller killed
        after its last load balancer went but before a shared resource of the cluster did (AWS's backend
        security group) leaves that resource for this to find. Per-load-balancer garbage goes through
        plans. The default does nothing.
        """

    def resolve(self, plan: ChangePlan) -> ChangePlan:
        """``plan`` with the facts it still had to read (read-only) read, and planned again (``cloudlb plan``).

        A provider whose ``plan`` defers a part until ``apply`` has read something (an instance it
        does not know, an attribute its listing does not show) overrides this so that ``cloudlb plan``
        lists the exact changes rather than "to be planned after reading"; it never writes.
        """
        return plan

    @abc.abstractmethod
    def apply(self, plan: ChangePlan) -> Statuses:
        """Run ``plan.changes`` in order and return the status of each member Service of the desired state.

        The inventory is updated from each successful write, so the next plan
        of the same load balancer needs no read. A failure part-way leaves
        nothing that the next plan cannot see and finish or undo; where the
        load balancer already exists, the error carries the members' statuses
        (``attach_statuses``) so that their status names it meanwhile.
        """

    def retire(self, plan: ChangePlan) -> None:
        """Delete what ``plan`` replaced; called once every member's status names the replacement."""
        if plan.retiring():
            self.apply(ChangePlan(plan.key, plan.retiring()))

    @abc.abstractmethod
    def sweep(self, *, deep: bool = False) -> SweepResult:
        """Refresh the inventory of everything this cluster owns with list calls in the largest pages.

        ``deep`` also re-reads what is read per resource (target health,
        instance-group members); it runs on a slower cadence.
        """

    # -- composed ------------------------------------------------------------------------------------

    def ensure(self, desired: DesiredLoadBalancer) -> Statuses:
        """Observe, plan, apply and retire: make one load balancer what its Services want."""
        observed = self.observe([desired.key])[desired.key]
        plan = self.plan(desired.key, desired, observed)
        statuses = self.apply(plan)
        self.retire(plan)
        return statuses

    def delete(self, key: LoadBalancerKey) -> None:
        """Remove every resource of ``key`` that carries this cluster's mark; missing parts are fine."""
        observed = self.observe([key])[key]
        self.apply(self.plan(key, None, observed))

    def list_owned(self) -> Mapping[LoadBalancerKey, frozenset[ServiceRef]]:
        """Every load balancer of this cluster with its member Services (a fresh sweep)."""
        return self.sweep().owned


@dataclass(frozen=True)
class ProviderPlugin:
    """What an entry point in the group ``cloudlb.providers`` must name.

    ``capabilities`` and ``options`` are static so that ``cloudlb providers`` and
    ``cloudlb run --help`` work without cloud credentials.
    """

    name: str
    description: str
    capabilities: Capabilities
    create: Callable[[ProviderSettings], Provider[Any]]
    options: tuple[ProviderOption, ...] = ()
    # Optional: starts an emulated cloud for `cloudlb sandbox` (see cloudlb.sandbox_cloud).
    sandbox: Callable[..., object] | None = None
