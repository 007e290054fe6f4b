"""Classic Elastic Load Balancers: the model and its deployment.

A Classic ELB carries its listeners, health check and instances in its own
description, so one DescribeLoadBalancers and one DescribeTags observe all of
it; writes happen only where that differs from the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloudlb.model import LoadBalancerSpec, Protocol, ServiceRef
from cloudlb.provider import NotOwnedError
from cloudlb_aws.annotations import AWSAnnotations
from cloudlb_aws.calls import TARGET_BATCH, Clients, batches, ignoring, translated_errors
from cloudlb_aws.naming import (
    as_tag_list,
    from_tag_list,
    is_owned,
    load_balancer_name,
    ownership_tags,
    tags_to_add,
)
from cloudlb_aws.placement import Placement, instance_id

# The in-tree AWS cloud provider's defaults for Classic ELB health checks.
DEFAULT_INTERVAL = 10
DEFAULT_TIMEOUT = 5
DEFAULT_HEALTHY = 2
DEFAULT_UNHEALTHY = 6
NOT_FOUND = ("LoadBalancerNotFound", "AccessPointNotFound")

Resource = dict[str, Any]


@dataclass(frozen=True, order=True)
class CLBListener:
    port: int
    protocol: str  # TCP or SSL
    instance_port: int
    certificate: str | None = None

    def as_aws(self) -> dict[str, Any]:
        listener: dict[str, Any] = {"Protocol": self.protocol, "LoadBalancerPort": self.port,
                                    "InstanceProtocol": "TCP", "InstancePort": self.instance_port}
        if self.certificate is not None:
            listener["SSLCertificateId"] = self.certificate
        return listener


@dataclass(frozen=True)
class CLBHealthCheck:
    target: str  # "TCP:30080" or "HTTP:31000/healthz"
    interval: int
    timeout: int
    healthy_threshold: int
    unhealthy_threshold: int

    def as_aws(self) -> dict[str, Any]:
        return {"Target": self.target, "Interval": self.interval, "Timeout": self.timeout,
                "HealthyThreshold": self.healthy_threshold, "UnhealthyThreshold": self.unhealthy_threshold}


@dataclass(frozen=True)
class CLBModel:
    name: str
    internal: bool
    listeners: frozenset[CLBListener]
    health: CLBHealthCheck
    instance_ids: frozenset[str]
    tags: Mapping[str, str]

    def traffic_ports(self) -> dict[str, set[int]]:
        return {"tcp": {listener.port for listener in self.listeners}}


def _health_check(spec: LoadBalancerSpec, parsed: AWSAnnotations) -> CLBHealthCheck:
    """HTTP healthCheckNodePort/healthz for ``Local``; else TCP on the lowest port's nodePort.

    A Classic ELB has a single health check, so one traffic port stands for all
    (as the in-tree provider does).
    """
    user = parsed.health_check
    first = min(spec.ports, default=None)
    if spec.health_check.local or first is None:
        protocol, port, path = "HTTP", str(spec.health_check.port), spec.health_check.path
    else:
        protocol, port, path = "TCP", str(first.node_port), "/"
    protocol = user.protocol or protocol
    if user.port and user.port != "traffic-port":
        port = user.port
    target = f"{protocol}:{port}" if protocol == "TCP" else f"{protocol}:{port}{user.path or path}"
    return CLBHealthCheck(target, user.interval or DEFAULT_INTERVAL, user.timeout or DEFAULT_TIMEOUT,
                          user.healthy_threshold or DEFAULT_HEALTHY, user.unhealthy_threshold or DEFAULT_UNHEALTHY)


def build_clb_model(spec: LoadBalancerSpec, cluster: str, parsed: AWSAnnotations) -> CLBModel:
    listeners: set[CLBListener] = set()
    for port in spec.ports:
        if port.protocol != Protocol.TCP:
            continue  # the core never hands a Classic ELB anything else; be safe regardless
        tls = parsed.uses_tls(port)
        assert port.node_port is not None, "a Classic ELB needs node ports: the core refuses ports without one"
        listeners.add(CLBListener(port.port, "SSL" if tls else "TCP", port.node_port,
                                  parsed.ssl_cert if tls else None))
    return CLBModel(
        name=load_balancer_name(cluster, spec.service, "clb", spec.internal),
        internal=spec.internal,
        listeners=frozenset(listeners),
        health=_health_check(spec, parsed),
        instance_ids=frozenset(iid for b in spec.backends if (iid := instance_id(b.provider_id))),
        tags=ownership_tags(cluster, spec.service, parsed.additional_tags),
    )


def _observed_listeners(load_balancer: Mapping[str, Any]) -> dict[int, CLBListener]:
    found: dict[int, CLBListener] = {}
    for description in load_balancer.get("ListenerDescriptions", []):
        raw = description["Listener"]
        found[int(raw["LoadBalancerPort"])] = CLBListener(
            int(raw["LoadBalancerPort"]), str(raw["Protocol"]).upper(), int(raw["InstancePort"]),
            raw.get("SSLCertificateId") or None)
    return found


class CLBDeployer:
    def __init__(self, clients: Clients, cluster: str) -> None:
        self._elb = clients.elb
        self._cluster = cluster

    def describe(self, name: str, service: ServiceRef) -> Resource | None:
        """The load balancer if it exists; ``NotOwnedError`` if it exists without our tags."""
        doing = f"describing classic load balancer {name}"
        found: Sequence[Any] = ()
        with translated_errors(doing), ignoring(*NOT_FOUND):
            found = self._elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
        if not found:
            return None
        with translated_errors(doing):
            descriptions = self._elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"]
        tags = from_tag_list(descriptions[0].get("Tags") if descriptions else None)
        if not is_owned(tags, self._cluster, service):
            raise NotOwnedError(f"classic load balancer {name}")
        # A Classic ELB's description has no tags; keep them with it for the tag diff.
        return {**found[0], "Tags": as_tag_list(tags)}

    def create(self, model: CLBModel, placement: Placement, group_id: str) -> Resource:
        with translated_errors(f"creating classic load balancer {model.name}"):
            arguments: dict[str, Any] = {
                "LoadBalancerName": model.name,
                "Listeners": [listener.as_aws() for listener in sorted(model.listeners)],
                "Subnets": list(placement.subnet_ids),
                "SecurityGroups": [group_id],
                "Tags": as_tag_list(model.tags),
            }
            if model.internal:
                arguments["Scheme"] = "internal"
            created = self._elb.create_load_balancer(**arguments)
        return {"LoadBalancerName": model.name, "DNSName": created["DNSName"], "ListenerDescriptions": [
            {"Listener": listener.as_aws()} for listener in model.listeners], "Instances": [],
            "Subnets": list(placement.subnet_ids), "HealthCheck": {}, "Tags": as_tag_list(model.tags)}

    def converge(self, model: CLBModel, load_balancer: Mapping[str, Any], placement: Placement) -> None:
        name = model.name
        observed = _observed_listeners(load_balancer)
        wanted = {listener.port: listener for listener in model.listeners}
        stale = sorted(port for port, listener in observed.items() if wanted.get(port) != listener)
        missing = sorted((listener for port, listener in wanted.items() if observed.get(port) != listener))
        if stale:
            with translated_errors(f"deleting listeners of {name}"):
                self._elb.delete_load_balancer_listeners(LoadBalancerName=name, LoadBalancerPorts=stale)
        if missing:
            with translated_errors(f"creating listeners of {name}"):
                self._elb.create_load_balancer_listeners(
                    LoadBalancerName=name, Listeners=[listener.as_aws() for listener in missing])  # type: ignore[misc]
        current = load_balancer.get("HealthCheck") or {}
        if any(current.get(key) != value for key, value in model.health.as_aws().items()):
            with translated_errors(f"configuring the health check of {name}"):
                self._elb.configure_health_check(LoadBalancerName=name, HealthCheck=model.health.as_aws())  # type: ignore[arg-type]
        registered = {str(i["InstanceId"]) for i in load_balancer.get("Instances", [])}
        for batch in batches(sorted(model.instance_ids - registered), TARGET_BATCH):
            with translated_errors(f"registering instances with {name}"):
                self._elb.register_instances_with_load_balancer(
                    LoadBalancerName=name, Instances=[{"InstanceId": i} for i in batch])
        for batch in batches(sorted(registered - model.instance_ids), TARGET_BATCH):
            with translated_errors(f"deregistering instances from {name}"):
                self._elb.deregister_instances_from_load_balancer(
                    LoadBalancerName=name, Instances=[{"InstanceId": i} for i in batch])
        self._converge_subnets(name, load_balancer, placement)
        changed = tags_to_add(model.tags, from_tag_list(load_balancer.get("Tags")))
        if changed:
            with translated_errors(f"updating tags of {name}"):
                self._elb.add_tags(LoadBalancerNames=[name], Tags=as_tag_list(changed))

    def _converge_subnets(self, name: str, load_balancer: Mapping[str, Any], placement: Placement) -> None:
        current = {str(s) for s in load_balancer.get("Subnets", [])}
        wanted = set(placement.subnet_ids)
        # Attach before detaching, so that the load balancer always keeps a subnet in some zone.
        if wanted - current:
            with translated_errors(f"attaching subnets to {name}"):
                self._elb.attach_load_balancer_to_subnets(LoadBalancerName=name, Subnets=sorted(wanted - current))
        if current - wanted:
            with translated_errors(f"detaching subnets from {name}"):
                self._elb.detach_load_balancer_from_subnets(LoadBalancerName=name, Subnets=sorted(current - wanted))

    def delete(self, name: str, service: ServiceRef) -> None:
        try:
            found = self.describe(name, service)
        except NotOwnedError:
            return  # someone else's load balancer with our name: never ours to delete
        if found is None:
            return
        with translated_errors(f"deleting classic load balancer {name}"):
            self._elb.delete_load_balancer(LoadBalancerName=name)
