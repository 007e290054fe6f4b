"""The desired and observed load balancer, as plain frozen values.

Nothing here does I/O or knows kopf: translation builds these from Kubernetes
objects, providers turn them into cloud resources, and the operator turns the
observed result back into a Service status.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

FINALIZER = "service.kubernetes.io/load-balancer-cleanup"


class Protocol(enum.StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


@dataclass(frozen=True, order=True)
class ServiceRef:
    """Which Service a load balancer belongs to; the identity cloud names are hashed from."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class LoadBalancerKey:
    """Which cloud load balancer: one Service's own, or the one a group of Services shares.

    A Service's own load balancer is keyed by the Service (``shared`` False), so
    that its cloud names stay those derived from the Service. A shared one is
    keyed by its sharing scope (a namespace, or the name of a group of
    namespaces allowed to share) and the share key the Services name.
    """

    namespace: str
    name: str
    shared: bool = False

    @classmethod
    def of(cls, service: ServiceRef) -> LoadBalancerKey:
        return cls(service.namespace, service.name)

    @property
    def service(self) -> ServiceRef | None:
        """The Service whose own load balancer this is; None for a shared one."""
        return None if self.shared else ServiceRef(self.namespace, self.name)

    def __str__(self) -> str:
        return f"shared:{self.namespace}/{self.name}" if self.shared else f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class PortKey:
    """A Service port is identified by number and protocol: TCP 53 and UDP 53 are two ports."""

    port: int
    protocol: Protocol

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True, order=True)
class Port:
    """One Service port; ``node_port`` is None when the Service allocates none
    (``spec.allocateLoadBalancerNodePorts: false``): only offerings that do not
    send traffic through node ports can serve it."""

    port: int
    protocol: Protocol
    node_port: int | None
    name: str = ""

    @property
    def key(self) -> PortKey:
        return PortKey(self.port, self.protocol)


@dataclass(frozen=True, order=True)
class Backend:
    """One eligible Node, as a cloud sees it: its provider id and, when known, zone and address."""

    node_name: str
    provider_id: str
    internal_ip: str | None = None
    zone: str | None = None
    # Only the labels the provider selects nodes by (``Provider.node_label_keys``), sorted: a change
    # of any other label must not make the backend set look different.
    labels: tuple[tuple[str, str], ...] = ()

    def has_labels(self, wanted: Mapping[str, str]) -> bool:
        """Whether the node carries every one of these labels with the same value."""
        own = dict(self.labels)
        return all(own.get(name) == value for name, value in wanted.items())


@dataclass(frozen=True, order=True)
class Endpoint:
    """One ready endpoint (a Pod's address) of the Service, from its EndpointSlices."""

    ip: str
    node_name: str | None = None
    zone: str | None = None


@dataclass(frozen=True, order=True)
class EndpointPort:
    """A port the endpoints listen on; matched to the Service port of the same name and protocol."""

    name: str
    protocol: Protocol
    port: int


@dataclass(frozen=True)
class HealthCheck:
    """How the cloud probes nodes.

    ``local`` is True for ``externalTrafficPolicy: Local``: ``port`` is then the
    Service's ``healthCheckNodePort``, which answers only on nodes with ready
    endpoints. Otherwise ``port`` is kube-proxy's own health port (10256), which
    answers on every healthy node.
    """

    port: int
    path: str = "/healthz"
    local: bool = False


KUBE_PROXY_HEALTH_CHECK = HealthCheck(port=10256, path="/healthz", local=False)

SESSION_AFFINITY_NONE = "None"
SESSION_AFFINITY_CLIENT_IP = "ClientIP"
# The API server's default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
DEFAULT_SESSION_AFFINITY_TIMEOUT = 10800
IPV4, IPV6 = "IPv4", "IPv6"
SINGLE_STACK, PREFER_DUAL_STACK, REQUIRE_DUAL_STACK = "SingleStack", "PreferDualStack", "RequireDualStack"


@dataclass(frozen=True)
class LoadBalancerSpec:
    """Everything a provider needs to build one load balancer, and nothing more.

    ``ports`` holds only the ports the provider's chosen offering can serve;
    the others were reported as problems before the provider sees the spec.
    ``annotations`` carries the Service's annotations untouched so that each
    provider reads its own options (upstream names such as
    ``service.beta.kubernetes.io/aws-load-balancer-*``).
    """

    service: ServiceRef
    uid: str
    ports: tuple[Port, ...]
    backends: tuple[Backend, ...]
    health_check: HealthCheck
    source_ranges: tuple[str, ...] = ()
    internal: bool = False
    requested_ips: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)
    load_balancer_class: str | None = None
    # "None" or "ClientIP"; the timeout is set only for ClientIP.
    session_affinity: str = SESSION_AFFINITY_NONE
    session_affinity_timeout: int | None = None
    # spec.ipFamilies in order (the first is the primary family) and spec.ipFamilyPolicy.
    ip_families: tuple[str, ...] = (IPV4,)
    ip_family_policy: str = SINGLE_STACK
    # The Service's ready endpoints; filled only for offerings that target endpoints instead of nodes.
    endpoints: tuple[Endpoint, ...] = ()
    endpoint_ports: tuple[EndpointPort, ...] = ()
    # A sorted copy of the annotations, so that specs compare and hash by value.
    annotation_items: tuple[tuple[str, str], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        frozen = MappingProxyType(dict(self.annotations))
        object.__setattr__(self, "annotations", frozen)
        object.__setattr__(self, "annotation_items", tuple(sorted(frozen.items())))

    @property
    def backend_ids(self) -> frozenset[str]:
        return frozenset(b.provider_id for b in self.backends)

    def target_port(self, port: Port) -> int | None:
        """The port the endpoints serve ``port`` on (by port name and protocol, as kube-proxy matches them)."""
        for candidate in self.endpoint_ports:
            if candidate.name == port.name and candidate.protocol == port.protocol:
                return candidate.port
        return None


@dataclass(frozen=True)
class DesiredLoadBalancer:
    """One cloud load balancer as the Services it serves want it.

    ``members`` holds one spec per Service, in precedence order (the oldest
    Service first); a Service's own load balancer has exactly one. The core has
    already checked that members can share (same offering, scheme and sharing
    traits, no port served twice), so a provider merges their ports as given.
    """

    key: LoadBalancerKey
    members: tuple[LoadBalancerSpec, ...]

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError(f"load balancer {self.key} has no member Services")

    @classmethod
    def single(cls, spec: LoadBalancerSpec) -> DesiredLoadBalancer:
        return cls(LoadBalancerKey.of(spec.service), (spec,))

    @property
    def first(self) -> LoadBalancerSpec:
        """The member whose load-balancer-wide settings (scheme, source ranges) every member shares."""
        return self.members[0]

    @property
    def services(self) -> tuple[ServiceRef, ...]:
        return tuple(member.service for member in self.members)


@dataclass(frozen=True)
class Ingress:
    """One entry of ``status.loadBalancer.ingress``: an IP, a hostname, or both."""

    ip: str | None = None
    hostname: str | None = None
    ip_mode: str | None = None  # "VIP" for passthrough load balancers, "Proxy" otherwise


@dataclass(frozen=True)
class LoadBalancerStatus:
    """What the provider observed after ``ensure``.

    ``port_errors`` lets a provider report ports it accepted but the cloud
    could not serve, as ``{port: "CamelCaseReason"}``; ``warnings`` are shown
    to the user as Warning Events without failing the Service.
    """

    ingress: tuple[Ingress, ...]
    port_errors: Mapping[PortKey, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
