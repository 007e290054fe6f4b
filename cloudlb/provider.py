"""The contract between the core and a cloud provider plugin.

It is the upstream cloud-provider ``LoadBalancer`` interface made smaller and
stricter: a provider says what it can serve (``capabilities`` and
``offering_for``), checks its own annotations (``validate``), converges one load
balancer (``ensure``), removes one (``delete``) and lists what it owns
(``list_owned``) so that orphans can be collected. Every method but ``ensure``,
``delete`` and ``list_owned`` is pure; those three are blocking and are called
off the event loop.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cloudlb.model import LoadBalancerSpec, LoadBalancerStatus, Protocol, ServiceRef
from cloudlb.problems import Problem


class ProviderError(Exception):
    """Base of the errors a provider raises; anything else is treated as retry-later."""


class RetryLater(ProviderError):
    """A transient failure (throttling, an operation still running, a cloud outage).

    ``delay`` is the provider's hint in seconds; the operator still applies its
    own capped exponential backoff when no hint is given.
    """

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(ProviderError):
    """Bad configuration that retrying cannot fix; waits for the Service to change."""


class NotOwnedError(PermanentError):
    """A cloud resource with the name we would use exists but carries no ownership mark of ours.

    It is never modified or deleted; the Service gets a Warning naming it.
    """

    def __init__(self, resource: str, message: str | None = None) -> None:
        super().__init__(message or f"{resource} exists but is not owned by this cluster; leaving it untouched")
        self.resource = resource


@dataclass(frozen=True)
class Offering:
    """One kind of load balancer a provider can build, and what it can carry.

    ``protocols`` are the Service port protocols it serves; ``same_port_tcp_udp``
    says whether one port number may be both TCP and UDP; ``max_ports`` is the
    listener limit of the cloud.
    """

    name: str
    description: str
    protocols: frozenset[Protocol]
    same_port_tcp_udp: bool = True
    mixed_protocols: bool = True
    max_ports: int = 50
    ingress: str = "ip"  # "ip" or "hostname": what the status will carry


@dataclass(frozen=True)
class Capabilities:
    offerings: tuple[Offering, ...]

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
    """What the core hands a plugin to build its provider."""

    cluster_name: str
    options: Mapping[str, str | None] = field(default_factory=dict)


class Provider(abc.ABC):
    """One cloud's load balancers. Instances are used from several threads at once."""

    capabilities: Capabilities

    @abc.abstractmethod
    def offering_for(self, spec: LoadBalancerSpec) -> Offering:
        """Which offering this Service asks for (by its annotations and ``internal``). Pure."""

    def validate(self, spec: LoadBalancerSpec) -> Sequence[Problem]:
        """Problems with this provider's own annotations. Pure; the default accepts everything."""
        return ()

    @abc.abstractmethod
    def ensure(self, spec: LoadBalancerSpec) -> LoadBalancerStatus:
        """Create or converge the load balancer; safe to repeat; changes only what differs."""

    @abc.abstractmethod
    def delete(self, service: ServiceRef) -> None:
        """Remove everything this provider owns for the Service; missing parts are fine."""

    @abc.abstractmethod
    def list_owned(self) -> Sequence[ServiceRef]:
        """Every Service of this cluster that has cloud resources, by their ownership marks."""


@dataclass(frozen=True)
class ProviderPlugin:
    """What an entry point in the group ``cloudlb.providers`` must name.

    ``capabilities`` and ``options`` are static so that ``cloudlb providers`` and
    ``cloudlb run --help`` work without cloud credentials.
    """

    name: str
    description: str
    capabilities: Capabilities
    create: Callable[[ProviderSettings], Provider]
    options: tuple[ProviderOption, ...] = ()
    # Optional: starts an emulated cloud for `cloudlb sandbox` (see cloudlb.sandbox_cloud).
    sandbox: Callable[..., object] | None = None
