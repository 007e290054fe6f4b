"""The desired Network Load Balancer for one Service: listeners, target groups, health checks. Pure.

Build a model, then deploy it (as aws-load-balancer-controller does): this
module decides *what* should exist; ``nlb.py`` compares it with what AWS has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudlb.model import LoadBalancerSpec, Port, PortKey, Protocol
from cloudlb_aws import ip_targets
from cloudlb_aws.annotations import AWSAnnotations
from cloudlb_aws.naming import load_balancer_name, ownership_tags, target_group_name
from cloudlb_aws.placement import instance_id
from cloudlb_aws.target_nodes import target_backends

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
    node_port: int  # the port targets receive on: the nodePort, or for IP targets the Pods' target port
    health: HealthCheckModel
    target_type: str = "instance"  # or "ip"
    # This Service's targets: Pod IPs for IP targets, else the instances its nodes select (target-node-labels);
    # on a load balancer shared by several Services each group keeps its own Service's.
    targets: frozenset[str] = frozenset()


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
    # The Pods' addresses for IP targets (nlb-target-type: ip); None: the instances are the targets.
    ip_targets: frozenset[str] | None = None

    @property
    def target_groups(self) -> tuple[TargetGroupModel, ...]:
        return tuple(listener.target_group for listener in self.listeners)

    def target_ports(self) -> set[tuple[str, int]]:
        """What the nodes must admit from the load balancer: every target group's nodePort (per IP protocol)
        and its health-check port (probes are TCP, HTTP or HTTPS: always TCP)."""
        ports: set[tuple[str, int]] = set()
        for group in self.target_groups:
            if group.protocol in ("TCP", "TCP_UDP"):
                ports.add(("tcp", group.node_port))
            if group.protocol in ("UDP", "TCP_UDP"):
                ports.add(("udp", group.node_port))
            port = group.health.port
            ports.add(("tcp", group.node_port if port == "traffic-port" else int(port)))
        return ports

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
    if ip_targets.target_type(spec.annotations) == ip_targets.IP:
        # Pods answer neither kube-proxy's health port nor healthCheckNodePort: probe the traffic port, as LBC.
        protocol, port, path = "TCP", "traffic-port", None
    elif spec.health_check.local or target_protocol != "TCP":
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


def build_nlb_model(spec: LoadBalancerSpec, cluster: str, parsed: AWSAnnotations, *, name: str | None = None,
                    tags: Mapping[str, str] | None = None) -> NLBModel:
    """The Service's NLB; ``name`` and ``tags`` are given for a load balancer it shares with others."""
    name = name or load_balancer_name(cluster, spec.service, "nlb", spec.internal)
    by_number: dict[int, dict[Protocol, Port]] = {}
    for port in spec.ports:
        by_number.setdefault(port.port, {})[port.protocol] = port
    port_errors: dict[PortKey, str] = {}
    listeners: list[ListenerModel] = []
    ip = ip_targets.target_type(spec.annotations) == ip_targets.IP
    selected = target_backends(spec.backends, spec.annotations)  # target-node-labels
    instances = {iid for backend in selected if (iid := instance_id(backend.provider_id))}
    group_targets = ip_targets.target_ips(spec) if ip else frozenset(instances)

    def traffic(port: Port) -> int | None:
        """Where targets receive the port: its nodePort, or the Pods' target port for IP targets."""
        return spec.target_port(port) if ip else port.node_port

    for number, ports in sorted(by_number.items()):
        tcp, udp = ports.get(Protocol.TCP), ports.get(Protocol.UDP)
        for known in (tcp, udp):
            if ip and known is not None and traffic(known) is None:
                port_errors[known.key] = ip_targets.TARGET_PORT_UNKNOWN
        tcp, udp = (None if tcp is None or traffic(tcp) is None else tcp), (
            None if udp is None or traffic(udp) is None else udp)
        tls = tcp is not None and parsed.uses_tls(tcp)
        if tcp is not None and udp is not None:
            if tls:
                port_errors[udp.key] = TLS_SHARING_ERROR
                udp = None
            elif traffic(tcp) != traffic(udp):
                # One TCP_UDP listener forwards both protocols to one nodePort.
                port_errors[udp.key] = PORT_SHARING_ERROR
                udp = None
        if tcp is not None and udp is not None:
            listener_protocol, target_protocol, node_port = "TCP_UDP", "TCP_UDP", traffic(tcp)
        elif tcp is not None:
            listener_protocol, target_protocol, node_port = ("TLS" if tls else "TCP"), "TCP", traffic(tcp)
        elif udp is not None:
            listener_protocol, target_protocol, node_port = "UDP", "UDP", traffic(udp)
        else:
            continue
        assert node_port is not None, "instance targets need node ports: the core refuses ports without one"
        group = TargetGroupModel(
            name=target_group_name(cluster, spec.service, load_balancer=name, listener_port=number,
                                   protocol=target_protocol, node_port=node_port,
                                   target_type=ip_targets.IP if ip else ip_targets.INSTANCE),
            protocol=target_protocol,
            node_port=node_port,
            health=health_check(spec, target_protocol, parsed),
            target_type=ip_targets.IP if ip else ip_targets.INSTANCE,
            targets=group_targets,
        )
        listeners.append(ListenerModel(
            port=number, protocol=listener_protocol, target_group=group,
            certificate=parsed.ssl_cert if listener_protocol == "TLS" else None,
            ssl_policy=(parsed.ssl_policy or "ELBSecurityPolicy-TLS13-1-2-2021-06") if listener_protocol == "TLS"
            else None,
        ))
    skipped = sorted(b.node_name for b in selected if instance_id(b.provider_id) is None)
    warnings = (f"nodes without an AWS instance id in spec.providerID are not targets: {', '.join(skipped)}",) \
        if skipped else ()
    return NLBModel(
        name=name,
        internal=spec.internal,
        listeners=tuple(listeners),
        instance_ids=frozenset(instances),
        tags=dict(tags) if tags is not None else ownership_tags(cluster, spec.service, parsed.additional_tags),
        cross_zone=parsed.cross_zone,
        port_errors=port_errors,
        warnings=warnings,
        ip_targets=ip_targets.target_ips(spec) if ip else None,
    )
