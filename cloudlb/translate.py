"""From a Service and its eligible backends to a ``LoadBalancerSpec`` plus named problems. Pure.

Everything a user can get wrong in a Service is caught here and named by the
field it comes from, so that the operator can answer with a Warning Event and a
status error instead of a half-built load balancer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloudlb import problems as p
from cloudlb.model import (
    KUBE_PROXY_HEALTH_CHECK,
    Backend,
    HealthCheck,
    LoadBalancerSpec,
    Port,
    PortKey,
    Protocol,
    ServiceRef,
)
from cloudlb.problems import Problem

SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"

# Upstream annotations that ask for an internal load balancer, so that manifests
# written for the cloud-controller-manager or the GKE/AWS controllers work unchanged.
AWS_INTERNAL_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-internal"
AWS_SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
GKE_TYPE_ANNOTATION = "networking.gke.io/load-balancer-type"
LEGACY_GKE_TYPE_ANNOTATION = "cloud.google.com/load-balancer-type"
_GKE_TYPES = ({"internal": True, "external": False}, '"Internal", "External"')
# Each annotation's accepted values (lower-cased) and whether they mean internal, plus how to name them.
INTERNAL_ANNOTATIONS: dict[str, tuple[dict[str, bool], str]] = {
    AWS_INTERNAL_ANNOTATION: ({"true": True, "0.0.0.0/0": True, "false": False}, '"true", "false"'),
    AWS_SCHEME_ANNOTATION: ({"internal": True, "internet-facing": False}, '"internal", "internet-facing"'),
    GKE_TYPE_ANNOTATION: _GKE_TYPES,
    LEGACY_GKE_TYPE_ANNOTATION: _GKE_TYPES,
}


@dataclass(frozen=True)
class Translation:
    spec: LoadBalancerSpec
    problems: tuple[Problem, ...]

    @property
    def fatal(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.fatal)


def service_ref(service: Mapping[str, Any]) -> ServiceRef:
    metadata = service.get("metadata") or {}
    return ServiceRef(namespace=str(metadata.get("namespace", "default")), name=str(metadata.get("name", "")))


def translate(service: Mapping[str, Any], backends: Sequence[Backend]) -> Translation:
    metadata = service.get("metadata") or {}
    spec = service.get("spec") or {}
    annotations: dict[str, str] = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
    found: list[Problem] = []

    ports = _ports(spec.get("ports") or [], found)
    health_check = _health_check(spec, found)
    source_ranges = _source_ranges(spec, annotations, found)
    internal = _internal(annotations, found)
    requested_ips = _requested_ips(spec, found)

    return Translation(
        spec=LoadBalancerSpec(
            service=service_ref(service),
            uid=str(metadata.get("uid", "")),
            ports=ports,
            backends=tuple(backends),
            health_check=health_check,
            source_ranges=source_ranges,
            internal=internal,
            requested_ips=requested_ips,
            annotations=annotations,
            load_balancer_class=spec.get("loadBalancerClass"),
        ),
        problems=tuple(found),
    )


def _ports(raw_ports: Sequence[Mapping[str, Any]], found: list[Problem]) -> tuple[Port, ...]:
    ports: list[Port] = []
    seen: set[tuple[int, Protocol]] = set()
    for index, raw in enumerate(raw_ports):
        where = f"spec.ports[{index}]"
        raw_protocol = str(raw.get("protocol") or "TCP")
        number = raw.get("port")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
            found.append(Problem(f"{where}.port", p.INVALID_PORT, f"port {number!r} is not a number from 1 to 65535"))
            continue
        try:
            protocol = Protocol(raw_protocol)
        except ValueError:
            found.append(Problem(f"{where}.protocol", p.PROTOCOL_NOT_SUPPORTED,
                                 f"protocol {raw_protocol!r} is not one of TCP, UDP, SCTP"))
            continue
        key = (number, protocol)
        if key in seen:
            found.append(Problem(f"{where}", p.DUPLICATE_PORT, f"port {number}/{protocol} is listed twice",
                                 port=PortKey(number, protocol)))
            continue
        seen.add(key)
        node_port = raw.get("nodePort")
        if not isinstance(node_port, int) or isinstance(node_port, bool) or not 1 <= node_port <= 65535:
            found.append(Problem(
                f"{where}.nodePort", p.MISSING_NODE_PORT,
                f"port {number}/{protocol} has no nodePort (is allocateLoadBalancerNodePorts false?); "
                "a node-backed load balancer cannot reach it",
                port=PortKey(number, protocol),
            ))
            continue
        ports.append(Port(number, protocol, node_port, str(raw.get("name") or "")))
    return tuple(ports)


def _health_check(spec: Mapping[str, Any], found: list[Problem]) -> HealthCheck:
    if spec.get("externalTrafficPolicy") != "Local":
        return KUBE_PROXY_HEALTH_CHECK
    port = spec.get("healthCheckNodePort")
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return HealthCheck(port=port, path="/healthz", local=True)
    found.append(Problem("spec.healthCheckNodePort", p.INVALID_PORT,
                         f"externalTrafficPolicy is Local but healthCheckNodePort is {port!r}; "
                         "falling back to kube-proxy's health port 10256"))
    return KUBE_PROXY_HEALTH_CHECK


def _source_ranges(spec: Mapping[str, Any], annotations: Mapping[str, str],
                   found: list[Problem]) -> tuple[str, ...]:
    """The allowed client CIDRs; the field wins over the annotation, as upstream."""
    raw: list[str]
    field_name: str
    if spec.get("loadBalancerSourceRanges"):
        raw = [str(r) for r in spec["loadBalancerSourceRanges"]]
        field_name = "spec.loadBalancerSourceRanges"
    elif annotations.get(SOURCE_RANGES_ANNOTATION, "").strip():
        raw = annotations[SOURCE_RANGES_ANNOTATION].split(",")
        field_name = f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"
    else:
        return ()
    cidrs: list[str] = []
    for entry in raw:
        value = entry.strip()
        try:
            # strict=False accepts host bits (10.0.0.1/8) as upstream's ParseCIDR does; we store the network.
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            # Fatal: serving without this range could open the load balancer wider than the user asked.
            found.append(Problem(field_name, p.INVALID_SOURCE_RANGE,
                                 f"{value!r} is not a CIDR such as 203.0.113.0/24", fatal=True))
            continue
        if "/" not in value:
            found.append(Problem(field_name, p.INVALID_SOURCE_RANGE,
                                 f"{value!r} has no prefix length; write it as a CIDR such as {network}",
                                 fatal=True))
            continue
        if str(network) not in cidrs:
            cidrs.append(str(network))
    return tuple(sorted(cidrs))


def _internal(annotations: Mapping[str, str], found: list[Problem]) -> bool:
    """Whether any upstream annotation asks for an internal load balancer; conflicting asks are fatal."""
    wishes: dict[str, bool] = {}
    for name, (meanings, allowed) in INTERNAL_ANNOTATIONS.items():
        if name not in annotations:
            continue
        value = annotations[name].strip().lower()
        if value in meanings:
            wishes[name] = meanings[value]
        else:
            # Fatal: guessing wrong here would expose an internal service to the internet.
            found.append(Problem(f"metadata.annotations[{name}]", p.INVALID_ANNOTATION,
                                 f"{annotations[name]!r} is not one of {allowed}", fatal=True))
    if len(set(wishes.values())) > 1:
        found.append(Problem("metadata.annotations", p.INVALID_ANNOTATION,
                             "annotations disagree on internal vs external: "
                             + ", ".join(f"{k}={annotations[k]!r}" for k in sorted(wishes)), fatal=True))
        return True  # never used: the problem is fatal; True is the safer side regardless
    return any(wishes.values())


def _requested_ips(spec: Mapping[str, Any], found: list[Problem]) -> tuple[str, ...]:
    value = spec.get("loadBalancerIP")
    if not value:
        return ()
    try:
        return (str(ipaddress.ip_address(str(value).strip())),)
    except ValueError:
        found.append(Problem("spec.loadBalancerIP", p.INVALID_LOAD_BALANCER_IP,
                             f"{value!r} is not an IP address", fatal=True))
        return ()
