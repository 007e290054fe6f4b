"""The desired Classic ELB for one Service: listeners, health check, instances. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cloudlb.model import LoadBalancerSpec, Protocol
from cloudlb_aws import classic_attributes
from cloudlb_aws.annotations import TRAFFIC_PORT, AWSAnnotations
from cloudlb_aws.naming import load_balancer_name, ownership_tags
from cloudlb_aws.placement import instance_id
from cloudlb_aws.records import ClassicHealth, ClassicListener
from cloudlb_aws.target_nodes import target_backends

# The in-tree AWS cloud provider's defaults for Classic ELB health checks.
DEFAULT_INTERVAL = 10
DEFAULT_TIMEOUT = 5
DEFAULT_HEALTHY = 2
DEFAULT_UNHEALTHY = 6
CLBListener = ClassicListener
CLBHealthCheck = ClassicHealth


@dataclass(frozen=True)
class CLBModel:
    name: str
    internal: bool
    listeners: frozenset[ClassicListener]
    health: ClassicHealth
    instance_ids: frozenset[str]
    tags: Mapping[str, str]

    def traffic_ports(self) -> dict[str, set[int]]:
        return {"tcp": {listener.port for listener in self.listeners}}

    def target_ports(self) -> set[tuple[str, int]]:
        """What the nodes must admit from the load balancer: the instance ports and the health-check port."""
        ports = {("tcp", listener.instance_port) for listener in self.listeners}
        port = self.health.target.split(":", 1)[1].split("/", 1)[0]
        if port.isascii() and port.isdigit():
            ports.add(("tcp", int(port)))
        return ports


def _health_check(spec: LoadBalancerSpec, parsed: AWSAnnotations, backend_protocol: str | None) -> ClassicHealth:
    """cloud-provider-aws's Classic ELB health check, which the healthcheck annotations then override.

    ``Local``: HTTP on the healthCheckNodePort and its path. Otherwise TCP (SSL when the backend
    protocol is https or ssl) on the node port of the Service's first port: a Classic ELB has a single
    health check, so one traffic port stands for all. ``traffic-port`` names that node port; a path
    goes only with HTTP and HTTPS ("/" when none is given).
    """
    user = parsed.health_check
    first = next((port for port in spec.ports if port.node_port is not None), None)
    traffic_port = str(first.node_port) if first is not None else str(spec.health_check.port)
    if spec.health_check.local or first is None:
        protocol, port, path = "HTTP", str(spec.health_check.port), spec.health_check.path
    else:
        protocol = "SSL" if backend_protocol in ("https", "ssl") else "TCP"
        port, path = traffic_port, ""
    protocol = user.protocol or protocol
    if user.port == TRAFFIC_PORT:
        port = traffic_port
    elif user.port:
        port = user.port
    target = f"{protocol}:{port}{user.path or path or '/'}" if protocol in ("HTTP", "HTTPS") else f"{protocol}:{port}"
    return ClassicHealth(target, user.interval or DEFAULT_INTERVAL, user.timeout or DEFAULT_TIMEOUT,
                         user.healthy_threshold or DEFAULT_HEALTHY, user.unhealthy_threshold or DEFAULT_UNHEALTHY)


def build_clb_model(spec: LoadBalancerSpec, cluster: str, parsed: AWSAnnotations) -> CLBModel:
    listeners: set[ClassicListener] = set()
    settings = classic_attributes.parse(spec.annotations)
    for port in spec.ports:
        if port.protocol != Protocol.TCP:
            continue  # the core never hands a Classic ELB anything else; be safe regardless
        tls = parsed.uses_tls(port)
        assert port.node_port is not None, "a Classic ELB needs node ports: the core refuses ports without one"
        protocol, instance_protocol = settings.listener_protocols(tls=tls)  # backend-protocol
        listeners.add(ClassicListener(port.port, protocol, port.node_port, parsed.ssl_cert if tls else None,
                                      instance_protocol))
    return CLBModel(
        name=load_balancer_name(cluster, spec.service, "clb", spec.internal),
        internal=spec.internal,
        listeners=frozenset(listeners),
        health=_health_check(spec, parsed, settings.backend_protocol),
        instance_ids=frozenset(iid for b in target_backends(spec.backends, spec.annotations)  # target-node-labels
                               if (iid := instance_id(b.provider_id))),
        tags=ownership_tags(cluster, spec.service, parsed.additional_tags),
    )
