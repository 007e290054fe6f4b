"""The upstream ``service.beta.kubernetes.io/aws-load-balancer-*`` annotations, parsed and checked. Pure.

Manifests written for the in-tree AWS cloud provider or the
aws-load-balancer-controller keep working: the same names mean the same
things. Everything malformed becomes a named ``Problem``; fatal ones stop the
Service before anything is sent to AWS.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudlb import problems as p
from cloudlb.model import Port, Protocol
from cloudlb.problems import Problem

PREFIX = "service.beta.kubernetes.io/aws-load-balancer-"
TYPE = PREFIX + "type"
SUBNETS = PREFIX + "subnets"
EIP_ALLOCATIONS = PREFIX + "eip-allocations"
PRIVATE_IPV4_ADDRESSES = PREFIX + "private-ipv4-addresses"
SSL_CERT = PREFIX + "ssl-cert"
SSL_PORTS = PREFIX + "ssl-ports"
SSL_NEGOTIATION_POLICY = PREFIX + "ssl-negotiation-policy"
ADDITIONAL_RESOURCE_TAGS = PREFIX + "additional-resource-tags"
CROSS_ZONE = PREFIX + "cross-zone-load-balancing-enabled"
HEALTHCHECK_PROTOCOL = PREFIX + "healthcheck-protocol"
HEALTHCHECK_PORT = PREFIX + "healthcheck-port"
HEALTHCHECK_PATH = PREFIX + "healthcheck-path"
HEALTHCHECK_INTERVAL = PREFIX + "healthcheck-interval"
HEALTHCHECK_TIMEOUT = PREFIX + "healthcheck-timeout"
HEALTHCHECK_HEALTHY_THRESHOLD = PREFIX + "healthcheck-healthy-threshold"
HEALTHCHECK_UNHEALTHY_THRESHOLD = PREFIX + "healthcheck-unhealthy-threshold"
HEALTHCHECK_SUCCESS_CODES = PREFIX + "healthcheck-success-codes"

NLB = "nlb"
CLB = "clb"
# Types that upstream hands to the aws-load-balancer-controller (IP targets);
# cloudlb serves them with its own instance-target NLB and says so.
DELEGATED_TYPES = ("external", "nlb-ip")
KNOWN_TYPES = (NLB, CLB, *DELEGATED_TYPES)

SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
ALLOCATION_ID = re.compile(r"^eipalloc-[0-9a-f]{8,17}$")
CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:(acm|iam):[a-z0-9-]*:\d{12}:(certificate|server-certificate)/\S+$")
TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")
SUCCESS_CODES = re.compile(r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$")

# Ranges that AWS accepts for NLB target-group health checks.
HEALTHCHECK_LIMITS: Mapping[str, tuple[int, int]] = {
    HEALTHCHECK_INTERVAL: (5, 300),
    HEALTHCHECK_TIMEOUT: (2, 120),
    HEALTHCHECK_HEALTHY_THRESHOLD: (2, 10),
    HEALTHCHECK_UNHEALTHY_THRESHOLD: (2, 10),
}
HEALTHCHECK_PROTOCOLS = ("TCP", "HTTP", "HTTPS")
# Tag keys cloudlb sets itself; a user may not override them.
RESERVED_TAG_PREFIXES = ("kubernetes.io/", "cloudlb.io/", "aws:")


@dataclass(frozen=True)
class HealthCheckOverrides:
    """The user's health-check annotations; ``None`` keeps cloudlb's default."""

    protocol: str | None = None
    port: str | None = None  # a number or "traffic-port"
    path: str | None = None
    interval: int | None = None
    timeout: int | None = None
    healthy_threshold: int | None = None
    unhealthy_threshold: int | None = None
    success_codes: str | None = None


@dataclass(frozen=True)
class AWSAnnotations:
    """Every AWS annotation cloudlb understands, parsed; invalid values are left at their defaults."""

    lb_type: str | None = None
    subnets: tuple[str, ...] = ()
    eip_allocations: tuple[str, ...] = ()
    private_ipv4_addresses: tuple[str, ...] = ()
    ssl_cert: str | None = None
    ssl_ports: tuple[str, ...] | None = None  # None: every TCP port when a certificate is set
    ssl_policy: str | None = None
    additional_tags: Mapping[str, str] = field(default_factory=dict)
    cross_zone: bool | None = None
    health_check: HealthCheckOverrides = HealthCheckOverrides()
    problems: tuple[Problem, ...] = ()

    def uses_tls(self, port: Port) -> bool:
        """Whether this TCP port gets the certificate: every one, or those ssl-ports names by number or name."""
        if self.ssl_cert is None or port.protocol != Protocol.TCP:
            return False
        return self.ssl_ports is None or str(port.port) in self.ssl_ports or (
            bool(port.name) and port.name in self.ssl_ports)


def _where(name: str) -> str:
    return f"metadata.annotations[{name}]"


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


class _Parser:
    def __init__(self, annotations: Mapping[str, str]) -> None:
        self.annotations = annotations
        self.problems: list[Problem] = []

    def bad(self, name: str, message: str, *, fatal: bool = True, reason: str = p.INVALID_ANNOTATION) -> None:
        self.problems.append(Problem(_where(name), reason, message, fatal=fatal))

    def lb_type(self) -> str | None:
        if TYPE not in self.annotations:
            return None
        value = self.annotations[TYPE].strip().lower()
        if value not in KNOWN_TYPES:
            self.bad(TYPE, f"{self.annotations[TYPE]!r} is not one of {', '.join(KNOWN_TYPES)}")
            return None
        if value in DELEGATED_TYPES:
            # Not fatal: the Service is still served, by an instance-target NLB.
            self.bad(TYPE, f"{value!r} asks upstream for the aws-load-balancer-controller with IP targets; "
                           "cloudlb builds a Network Load Balancer with instance targets (nodePorts) instead",
                     fatal=False, reason=p.UNSUPPORTED_OPTION)
        return value

    def subnets(self) -> tuple[str, ...]:
        values = _split(self.annotations.get(SUBNETS, ""))
        if SUBNETS in self.annotations and not values:
            self.bad(SUBNETS, "is empty; list subnet ids or Name tags, or remove it to discover subnets by tags")
        if len(set(values)) != len(values):
            self.bad(SUBNETS, "lists a subnet twice")
        return values

    def eip_allocations(self, subnets: tuple[str, ...]) -> tuple[str, ...]:
        values = _split(self.annotations.get(EIP_ALLOCATIONS, ""))
        for value in values:
            if not ALLOCATION_ID.match(value):
                self.bad(EIP_ALLOCATIONS,
                         f"{value!r} is not an Elastic IP allocation id such as eipalloc-0123456789abcdef0")
        if len(set(values)) != len(values):
            self.bad(EIP_ALLOCATIONS, "lists an allocation twice")
        if values and subnets and len(values) != len(subnets):
            self.bad(EIP_ALLOCATIONS, f"has {len(values)} allocations for {len(subnets)} subnets; "
                                      "an NLB takes exactly one Elastic IP per subnet")
        return values

    def private_ipv4_addresses(self, subnets: tuple[str, ...]) -> tuple[str, ...]:
        values = _split(self.annotations.get(PRIVATE_IPV4_ADDRESSES, ""))
        for value in values:
            try:
                ipaddress.IPv4Address(value)
            except ValueError:
                self.bad(PRIVATE_IPV4_ADDRESSES, f"{value!r} is not an IPv4 address")
        if values and subnets and len(values) != len(subnets):
            self.bad(PRIVATE_IPV4_ADDRESSES, f"has {len(values)} addresses for {len(subnets)} subnets; "
                                             "an NLB takes exactly one private address per subnet")
        return values

    def ssl(self) -> tuple[str | None, tuple[str, ...] | None, str | None]:
        cert = self.annotations.get(SSL_CERT, "").strip() or None
        if cert is not None and not CERTIFICATE_ARN.match(cert):
            self.bad(SSL_CERT, f"{cert!r} is not an ACM or IAM certificate ARN")
            cert = None
        raw_ports = self.annotations.get(SSL_PORTS)
        ports = None if raw_ports is None or raw_ports.strip() == "*" else _split(raw_ports)
        if raw_ports is not None and cert is None and SSL_CERT not in self.annotations:
            self.bad(SSL_PORTS, "has no effect without service.beta.kubernetes.io/aws-load-balancer-ssl-cert",
                     fatal=False)
        policy = self.annotations.get(SSL_NEGOTIATION_POLICY, "").strip() or None
        return cert, ports, policy

    def additional_tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        for item in _split(self.annotations.get(ADDITIONAL_RESOURCE_TAGS, "")):
            key, _, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not TAG_KEY.match(key) or not TAG_VALUE.match(value):
                self.bad(ADDITIONAL_RESOURCE_TAGS, f"{item!r} is not a tag written as key=value")
            elif key.startswith(RESERVED_TAG_PREFIXES):
                self.bad(ADDITIONAL_RESOURCE_TAGS, f"tag {key!r} is reserved for ownership marks")
            else:
                tags[key] = value
        return tags

    def cross_zone(self) -> bool | None:
        if CROSS_ZONE not in self.annotations:
            return None
        value = self.annotations[CROSS_ZONE].strip().lower()
        if value not in ("true", "false"):
            self.bad(CROSS_ZONE, f"{self.annotations[CROSS_ZONE]!r} is not \"true\" or \"false\"")
            return None
        return value == "true"

    def health_check(self) -> HealthCheckOverrides:
        numbers: dict[str, int | None] = {}
        for name, (low, high) in HEALTHCHECK_LIMITS.items():
            numbers[name] = None
            if name in self.annotations:
                raw = self.annotations[name].strip()
                if raw.isdigit() and low <= int(raw) <= high:
                    numbers[name] = int(raw)
                else:
                    self.bad(name, f"{raw!r} is not a whole number from {low} to {high}")
        protocol = self.annotations.get(HEALTHCHECK_PROTOCOL, "").strip().upper() or None
        if protocol is not None and protocol not in HEALTHCHECK_PROTOCOLS:
            self.bad(HEALTHCHECK_PROTOCOL, f"{protocol!r} is not one of {', '.join(HEALTHCHECK_PROTOCOLS)}")
            protocol = None
        port = self.annotations.get(HEALTHCHECK_PORT, "").strip() or None
        if port is not None and port != "traffic-port" and not (port.isdigit() and 1 <= int(port) <= 65535):
            self.bad(HEALTHCHECK_PORT, f"{port!r} is not a port number or \"traffic-port\"")
            port = None
        path = self.annotations.get(HEALTHCHECK_PATH, "").strip() or None
        if path is not None and not path.startswith("/"):
            self.bad(HEALTHCHECK_PATH, f"{path!r} does not start with /")
            path = None
        codes = self.annotations.get(HEALTHCHECK_SUCCESS_CODES, "").strip() or None
        if codes is not None and not SUCCESS_CODES.match(codes):
            self.bad(HEALTHCHECK_SUCCESS_CODES, f"{codes!r} is not a list of HTTP codes such as 200-399")
            codes = None
        return HealthCheckOverrides(
            protocol=protocol, port=port, path=path,
            interval=numbers[HEALTHCHECK_INTERVAL], timeout=numbers[HEALTHCHECK_TIMEOUT],
            healthy_threshold=numbers[HEALTHCHECK_HEALTHY_THRESHOLD],
            unhealthy_threshold=numbers[HEALTHCHECK_UNHEALTHY_THRESHOLD],
            success_codes=codes,
        )


def parse(annotations: Mapping[str, str], *, internal: bool) -> AWSAnnotations:
    """Parse every AWS annotation; ``internal`` is the scheme the core already decided."""
    parser = _Parser(annotations)
    lb_type = parser.lb_type()
    subnets = parser.subnets()
    eips = parser.eip_allocations(subnets)
    private = parser.private_ipv4_addresses(subnets)
    if eips and internal:
        parser.bad(EIP_ALLOCATIONS, "Elastic IPs can only be given to an internet-facing load balancer")
    if private and not internal:
        parser.bad(PRIVATE_IPV4_ADDRESSES, "private addresses can only be given to an internal load balancer")
    cert, ssl_ports, policy = parser.ssl()
    return AWSAnnotations(
        lb_type=lb_type,
        subnets=subnets,
        eip_allocations=eips,
        private_ipv4_addresses=private,
        ssl_cert=cert,
        ssl_ports=ssl_ports,
        ssl_policy=policy,
        additional_tags=parser.additional_tags(),
        cross_zone=parser.cross_zone(),
        health_check=parser.health_check(),
        problems=tuple(parser.problems),
    )
