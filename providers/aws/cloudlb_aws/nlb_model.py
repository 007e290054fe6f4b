"""The desired Network Load Balancer for one Service: listeners, target groups, health checks. Pure.

Build a model, then deploy it (as aws-load-balancer-controller does): this
module decides *what* should exist; ``nlb.py`` compares it with what AWS has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudlb.model import LoadBalancerSpec, Port, PortKey, Protocol
from cloudlb_aws.annotations import AWSAnnotations
from cloudlb_aws.naming import load_balancer_name, ownership_tags, target_group_name
from cloudlb_aws.placement import instance_id

# aws-load-balancer-controller's defaults for NLB target groups.
DEFAULT_INTERVAL = 10
DEFAULT_TIMEOUT = 10
DEFAULT_THRESHOLD = 3
DEFAULT_SUCCESS_CODES = "200-399"
PORT_SHARING_ERROR = "TCPAndUDPNeedSameNodePort"
TLS_SHARING_ERROR = "UDPCannotShareTLSPort"


@dataclass(frozen=True)
class HealthCheckModel:
    protocol: str  # TCP, HTTP or HTTPS
    port: str  # a number or "traffic-port"
    path: str | None
    interval: int
    timeout: int
    healthy_threshold: int
    unhealthy_threshold: int
    success_codes: str | None


@dataclass(frozen=True)
class TargetGroupModel:
    name: str
    protocol: str  # TCP, UDP or TCP_UDP (a TLS listener forwards to a TCP group)
    node_port: int
    health: HealthCheckModel


@dataclass(frozen=True)
class ListenerModel:
    port: int
    protocol: str  # TCP, UDP, TCP_UDP or TLS
    target_group: TargetGroupModel
    certificate: str | None = None
    ssl_policy: str | None = None


@dataclass(frozen=True)
class NLBModel:
    name: str
    internal: bool
    listeners: tuple[ListenerModel, ...]
    instance_ids: frozenset[str]
    tags: Mapping[str, str]
    cross_zone: bool | None = None
    port_errors: Mapping[PortKey, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def target_groups(self) -> tuple[TargetGroupModel, ...]:
        return tuple(listener.target_group for listener in self.listeners)

    def traffic_ports(self) -> dict[str, set[int]]:
        """Listener ports by IP protocol, for the security group."""
        ports: dict[str, set[int]] = {"tcp": set(), "udp": set()}
        for listener in self.listeners:
            if listener.protocol in ("TCP", "TLS", "TCP_UDP"):
                ports["tcp"].add(listener.port)
            if listener.protocol in ("UDP", "TCP_UDP"):
                ports["udp"].add(listener.port)
        return ports


def health_check(spec: LoadBalancerSpec, target_protocol: str, parsed: AWSAnnotations) -> HealthCheckModel:
    """TCP on the traffic port for ``Cluster``; HTTP ``healthCheckNodePort``/healthz for ``Local``.

    A UDP nodePort cannot answer a TCP probe, so groups carrying UDP probe
    kube-proxy's HTTP health port instead, which tells whether the node can
    forward at all.
    """
    if spec.health_check.local or target_protocol != "TCP":
        protocol, port, path = "HTTP", str(spec.health_check.port), spec.health_check.path
    else:
        protocol, port, path = "TCP", "traffic-port", None
    user = parsed.health_check
    protocol = user.protocol or protocol
    port = user.port or port
    path = None if protocol == "TCP" else (user.path or path or "/")
    return HealthCheckModel(
        protocol=protocol, port=port, path=path,
        interval=user.interval or DEFAULT_INTERVAL,
        timeout=user.timeout or DEFAULT_TIMEOUT,
        healthy_threshold=user.healthy_threshold or DEFAULT_THRESHOLD,
        unhealthy_threshold=user.unhealthy_threshold or DEFAULT_THRESHOLD,
        success_codes=None if protocol == "TCP" else (user.success_codes or DEFAULT_SUCCESS_CODES),
    )


def build_nlb_model(spec: LoadBalancerSpec, cluster: str, parsed: AWSAnnotations) -> NLBModel:
    name = load_balancer_name(cluster, spec.service, "nlb", spec.internal)
    by_number: dict[int, dict[Protocol, Port]] = {}
    for port in spec.ports:
        by_number.setdefault(port.port, {})[port.protocol] = port
    port_errors: dict[PortKey, str] = {}
    listeners: list[ListenerModel] = []
    for number, ports in sorted(by_number.items()):
        tcp, udp = ports.get(Protocol.TCP), ports.get(Protocol.UDP)
        tls = tcp is not None and parsed.uses_tls(tcp)
        if tcp is not None and udp is not None:
            if tls:
                port_errors[udp.key] = TLS_SHARING_ERROR
                udp = None
            elif tcp.node_port != udp.node_port:
                # One TCP_UDP listener forwards both protocols to one nodePort.
                port_errors[udp.key] = PORT_SHARING_ERROR
                udp = None
        if tcp is not None and udp is not None:
            listener_protocol, target_protocol, node_port = "TCP_UDP", "TCP_UDP", tcp.node_port
        elif tcp is not None:
            listener_protocol, target_protocol, node_port = ("TLS" if tls else "TCP"), "TCP", tcp.node_port
        elif udp is not None:
            listener_protocol, target_protocol, node_port = "UDP", "UDP", udp.node_port
        else:
            continue
        assert node_port is not None, "instance targets need node ports: the core refuses ports without one"
        group = TargetGroupModel(
            name=target_group_name(cluster, spec.service, load_balancer=name, listener_port=number,
                                   protocol=target_protocol, node_port=node_port),
            protocol=target_protocol,
            node_port=node_port,
            health=health_check(spec, target_protocol, parsed),
        )
        listeners.append(ListenerModel(
            port=number, protocol=listener_protocol, target_group=group,
            certificate=parsed.ssl_cert if listener_protocol == "TLS" else None,
            ssl_policy=(parsed.ssl_policy or "ELBSecurityPolicy-TLS13-1-2-2021-06") if listener_protocol == "TLS"
            else None,
        ))
    instances = {iid for backend in spec.backends if (iid := instance_id(backend.provider_id))}
    skipped = sorted(b.node_name for b in spec.backends if instance_id(b.provider_id) is None)
    warnings = (f"nodes without an AWS instance id in spec.providerID are not targets: {', '.join(skipped)}",) \
        if skipped else ()
    return NLBModel(
        name=name,
        internal=spec.internal,
        listeners=tuple(listeners),
        instance_ids=frozenset(instances),
        tags=ownership_tags(cluster, spec.service, parsed.additional_tags),
        cross_zone=parsed.cross_zone,
        port_errors=port_errors,
        warnings=warnings,
    )
