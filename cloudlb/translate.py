"""From a Service and its eligible backends to a ``LoadBalancerSpec`` plus named problems. Pure.

Everything a user can get wrong in a Service is caught here and named by the
field it comes from, so that the operator can answer with a Warning Event and a
status error instead of a half-built load balancer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from cloudlb import problems as p
from cloudlb.endpoints import NO_ENDPOINTS, ServiceEndpoints
from cloudlb.model import (
    DEFAULT_SESSION_AFFINITY_TIMEOUT,
    IPV4,
    IPV6,
    KUBE_PROXY_HEALTH_CHECK,
    PREFER_DUAL_STACK,
    REQUIRE_DUAL_STACK,
    SESSION_AFFINITY_CLIENT_IP,
    SESSION_AFFINITY_NONE,
    SINGLE_STACK,
    Backend,
    HealthCheck,
    LoadBalancerSpec,
    Port,
    PortKey,
    Protocol,
    ServiceRef,
)
from cloudlb.parsing import GO_SPACE, ascii_lower, cidr, ip_address, quoted, trimmed
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


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _kind(value: object) -> str:
    """How a message names the type of a JSON value that is not what the field needs."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def service_ref(service: Mapping[str, Any]) -> ServiceRef:
    metadata = _object(service.get("metadata"))
    return ServiceRef(namespace=str(metadata.get("namespace", "default")), name=str(metadata.get("name", "")))


def translate(service: Mapping[str, Any], backends: Sequence[Backend],
              endpoints: ServiceEndpoints = NO_ENDPOINTS) -> Translation:
    """Never raises: whatever the Service holds, every value that cannot be used is a named problem.

    ``endpoints`` are the Service's ready endpoints; ``fit`` keeps them only
    for an offering that targets endpoints.
    """
    found: list[Problem] = []
    metadata = _section(service, "metadata", found)
    spec = _section(service, "spec", found)
    annotations = _annotations(metadata, found)

    ports = _ports(spec.get("ports"), found)
    health_check = _health_check(spec, found)
    source_ranges = _source_ranges(spec, annotations, found)
    internal = _internal(annotations, found)
    requested_ips = _requested_ips(spec, found)
    session_affinity, session_affinity_timeout = _session_affinity(spec, found)
    ip_families, ip_family_policy = _ip_families(spec, found)
    load_balancer_class = spec.get("loadBalancerClass")

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
            load_balancer_class=load_balancer_class if isinstance(load_balancer_class, str) else None,
            session_affinity=session_affinity,
            session_affinity_timeout=session_affinity_timeout,
            ip_families=ip_families,
            ip_family_policy=ip_family_policy,
            endpoints=endpoints.endpoints,
            endpoint_ports=endpoints.ports,
        ),
        problems=tuple(found),
    )


def _section(service: Mapping[str, Any], name: str, found: list[Problem]) -> Mapping[str, Any]:
    value = service.get(name)
    if value is None or isinstance(value, Mapping):
        return value or {}
    found.append(Problem(name, p.INVALID_FIELD, f"is {_kind(value)}, not an object", fatal=True))
    return {}


def _annotations(metadata: Mapping[str, Any], found: list[Problem]) -> dict[str, str]:
    """The annotations that are strings, as Kubernetes only stores; any other is fatal.

    Fatal, because an unreadable annotation might be the one that asks for an
    internal load balancer.
    """
    raw = metadata.get("annotations")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        found.append(Problem("metadata.annotations", p.INVALID_FIELD, f"is {_kind(raw)}, not a map of strings",
                             fatal=True))
        return {}
    annotations: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(name, str) and isinstance(value, str):
            annotations[name] = value
        else:
            found.append(Problem(f"metadata.annotations[{name}]", p.INVALID_FIELD,
                                 f"is {_kind(value)}, not a string", fatal=True))
    return annotations


def _is_port_number(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _ports(raw_ports: object, found: list[Problem]) -> tuple[Port, ...]:
    if raw_ports is None:
        return ()
    if not isinstance(raw_ports, list):
        # Fatal: serving "no ports" would delete a load balancer that the Service still wants.
        found.append(Problem("spec.ports", p.INVALID_FIELD, f"is {_kind(raw_ports)}, not a list of ports",
                             fatal=True))
        return ()
    ports: list[Port] = []
    seen: set[tuple[int, Protocol]] = set()
    for index, raw in enumerate(raw_ports):
        where = f"spec.ports[{index}]"
        if not isinstance(raw, Mapping):
            found.append(Problem(where, p.INVALID_PORT, f"is {_kind(raw)}, not a port"))
            continue
        raw_protocol = raw.get("protocol")
        raw_protocol = "TCP" if raw_protocol is None else raw_protocol  # the API server's default
        number = raw.get("port")
        if not _is_port_number(number):
            found.append(Problem(f"{where}.port", p.INVALID_PORT,
                                 f"port {_shown(number)} is not a number from 1 to 65535"))
            continue
        try:
            protocol = Protocol(raw_protocol)
        except ValueError:
            found.append(Problem(f"{where}.protocol", p.PROTOCOL_NOT_SUPPORTED,
                                 f"protocol {_shown(raw_protocol)} is not one of TCP, UDP, SCTP"))
            continue
        key = (number, protocol)
        if key in seen:
            found.append(Problem(f"{where}", p.DUPLICATE_PORT, f"port {number}/{protocol} is listed twice",
                                 port=PortKey(number, protocol)))
            continue
        seen.add(key)
        # None when the Service allocates no node ports: only offerings that need them refuse the port (see fit).
        node_port = raw.get("nodePort")
        node_port = node_port if _is_port_number(node_port) else None
        name = raw.get("name")
        ports.append(Port(number, protocol, node_port, name if isinstance(name, str) else ""))
    return tuple(ports)


def _shown(value: object) -> str:
    """A user's value in a message: strings quoted and shortened, anything else by its repr, shortened."""
    return quoted(value) if isinstance(value, str) else quoted(repr(value))[1:-1]


def _health_check(spec: Mapping[str, Any], found: list[Problem]) -> HealthCheck:
    if spec.get("externalTrafficPolicy") != "Local":
        return KUBE_PROXY_HEALTH_CHECK
    port = spec.get("healthCheckNodePort")
    if _is_port_number(port):
        return HealthCheck(port=port, path="/healthz", local=True)
    found.append(Problem("spec.healthCheckNodePort", p.INVALID_PORT,
                         f"externalTrafficPolicy is Local but healthCheckNodePort is {_shown(port)}; "
                         "falling back to kube-proxy's health port 10256"))
    return KUBE_PROXY_HEALTH_CHECK


def _source_ranges(spec: Mapping[str, Any], annotations: Mapping[str, str],
                   found: list[Problem]) -> tuple[str, ...]:
    """The allowed client CIDRs; the field wins over the annotation, as upstream.

    Every problem here is fatal: serving without a range could open the load
    balancer wider than the user asked.
    """
    raw: list[object]
    field_name: str
    field_value = spec.get("loadBalancerSourceRanges")
    if field_value:
        field_name = "spec.loadBalancerSourceRanges"
        if not isinstance(field_value, list):
            found.append(Problem(field_name, p.INVALID_SOURCE_RANGE,
                                 f"is {_kind(field_value)}, not a list of CIDRs", fatal=True))
            return ()
        raw = list(field_value)
    elif annotations.get(SOURCE_RANGES_ANNOTATION, "").strip(GO_SPACE):
        raw = list(annotations[SOURCE_RANGES_ANNOTATION].split(","))
        field_name = f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"
    else:
        return ()
    cidrs: list[str] = []
    for entry in raw:
        if not isinstance(entry, str):
            found.append(Problem(field_name, p.INVALID_SOURCE_RANGE, f"{_shown(entry)} is not a CIDR string",
                                 fatal=True))
            continue
        value = entry.strip(GO_SPACE)  # the API server trims each entry (a historical allowance)
        network = cidr(value)
        if network is not None:
            # Host bits are allowed (10.0.0.1/8), as upstream's ParseCIDR; we store the network.
            if str(network) not in cidrs:
                cidrs.append(str(network))
        elif "/" not in value and ip_address(value) is not None:
            found.append(Problem(field_name, p.INVALID_SOURCE_RANGE,
                                 f"{quoted(value)} has no prefix length; write it as a CIDR such as "
                                 f"{cidr(value + ('/32' if ':' not in value else '/128'))}", fatal=True))
        else:
            found.append(Problem(field_name, p.INVALID_SOURCE_RANGE,
                                 f"{quoted(value)} is not a CIDR such as 203.0.113.0/24 or 2001:db8::/32 "
                                 "(no netmask form, no IPv6 zone)", fatal=True))
    return tuple(sorted(cidrs))


def _internal(annotations: Mapping[str, str], found: list[Problem]) -> bool:
    """Whether any upstream annotation asks for an internal load balancer; conflicting asks are fatal."""
    wishes: dict[str, bool] = {}
    for name, (meanings, allowed) in INTERNAL_ANNOTATIONS.items():
        if name not in annotations:
            continue
        value = ascii_lower(trimmed(annotations[name]))
        if value in meanings:
            wishes[name] = meanings[value]
        else:
            # Fatal: guessing wrong here would expose an internal service to the internet.
            found.append(Problem(f"metadata.annotations[{name}]", p.INVALID_ANNOTATION,
                                 f"{quoted(annotations[name])} is not one of {allowed}", fatal=True))
    if len(set(wishes.values())) > 1:
        found.append(Problem("metadata.annotations", p.INVALID_ANNOTATION,
                             "annotations disagree on internal vs external: "
                             + ", ".join(f"{k}={quoted(annotations[k])}" for k in sorted(wishes)), fatal=True))
        return True  # never used: the problem is fatal; True is the safer side regardless
    return any(wishes.values())


def _requested_ips(spec: Mapping[str, Any], found: list[Problem]) -> tuple[str, ...]:
    """``spec.loadBalancerIP`` as the API server validates it: an IP address, untrimmed, no IPv6 zone."""
    value = spec.get("loadBalancerIP")
    if not value:
        return ()
    address = ip_address(value) if isinstance(value, str) else None
    if address is None:
        found.append(Problem("spec.loadBalancerIP", p.INVALID_LOAD_BALANCER_IP,
                             f"{_shown(value)} is not an IP address such as 203.0.113.10 or 2001:db8::10 "
                             "(no IPv6 zone)", fatal=True))
        return ()
    return (str(address),)


def _session_affinity(spec: Mapping[str, Any], found: list[Problem]) -> tuple[str, int | None]:
    """``spec.sessionAffinity`` and, for ClientIP, its timeout (the API server's default: 10800 s)."""
    value = spec.get("sessionAffinity")
    if value in (None, SESSION_AFFINITY_NONE):
        return SESSION_AFFINITY_NONE, None
    if value != SESSION_AFFINITY_CLIENT_IP:
        found.append(Problem("spec.sessionAffinity", p.INVALID_FIELD,
                             f"{_shown(value)} is not one of \"None\", \"ClientIP\"; no session affinity is used"))
        return SESSION_AFFINITY_NONE, None
    config = _object(_object(spec.get("sessionAffinityConfig")).get("clientIP"))
    timeout = config.get("timeoutSeconds")
    if timeout is None:
        return SESSION_AFFINITY_CLIENT_IP, DEFAULT_SESSION_AFFINITY_TIMEOUT
    if isinstance(timeout, int) and not isinstance(timeout, bool) and 0 < timeout <= 86400:
        return SESSION_AFFINITY_CLIENT_IP, timeout
    found.append(Problem("spec.sessionAffinityConfig.clientIP.timeoutSeconds", p.INVALID_FIELD,
                         f"{_shown(timeout)} is not a number of seconds from 1 to 86400; "
                         f"using the default {DEFAULT_SESSION_AFFINITY_TIMEOUT}"))
    return SESSION_AFFINITY_CLIENT_IP, DEFAULT_SESSION_AFFINITY_TIMEOUT


def _ip_families(spec: Mapping[str, Any], found: list[Problem]) -> tuple[tuple[str, ...], str]:
    """``spec.ipFamilies`` (primary first) and ``spec.ipFamilyPolicy``, as the API server defaults them.

    Fatal when unreadable: serving the wrong family would give the Service an
    address its clients cannot use.
    """
    policy = spec.get("ipFamilyPolicy")
    if policy is None:
        policy = SINGLE_STACK
    elif policy not in (SINGLE_STACK, PREFER_DUAL_STACK, REQUIRE_DUAL_STACK):
        found.append(Problem("spec.ipFamilyPolicy", p.INVALID_FIELD,
                             f"{_shown(policy)} is not one of SingleStack, PreferDualStack, RequireDualStack",
                             fatal=True))
        policy = SINGLE_STACK
    raw = spec.get("ipFamilies")
    if raw is None or raw == []:
        return (IPV4,), str(policy)
    if (not isinstance(raw, list) or not all(family in (IPV4, IPV6) for family in raw)
            or len(set(raw)) != len(raw) or len(raw) > 2):
        found.append(Problem("spec.ipFamilies", p.INVALID_FIELD,
                             f"{_shown(raw)} is not one or two distinct families of IPv4, IPv6", fatal=True))
        return (IPV4,), str(policy)
    return tuple(raw), str(policy)
