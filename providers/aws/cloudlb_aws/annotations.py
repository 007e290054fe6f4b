"""The upstream ``service.beta.kubernetes.io/aws-load-balancer-*`` annotations, parsed and checked. Pure.

Manifests written for the in-tree AWS cloud provider or the
aws-load-balancer-controller keep working: the same names mean the same
things, and values are read as upstream reads them (numbers as Go's
``strconv.ParseInt``: ASCII digits only; booleans as ``strconv.ParseBool``).
Everything malformed, and every combination AWS would refuse anyway (a
health-check timeout above the interval), becomes a named ``Problem``; fatal
ones stop the Service before anything is sent to AWS. ``parse`` never raises.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudlb import problems as p
from cloudlb.model import Port, Protocol
from cloudlb.parsing import GO_SPACE, ascii_lower, ascii_upper, go_bool, integer_in_range, quoted, trimmed
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
# Every annotation ``parse`` reads (the scheme annotations are read by the core's translation).
PARSED = (TYPE, SUBNETS, EIP_ALLOCATIONS, PRIVATE_IPV4_ADDRESSES, SSL_CERT, SSL_PORTS, SSL_NEGOTIATION_POLICY,
          ADDITIONAL_RESOURCE_TAGS, CROSS_ZONE, HEALTHCHECK_PROTOCOL, HEALTHCHECK_PORT, HEALTHCHECK_PATH,
          HEALTHCHECK_INTERVAL, HEALTHCHECK_TIMEOUT, HEALTHCHECK_HEALTHY_THRESHOLD, HEALTHCHECK_UNHEALTHY_THRESHOLD,
          HEALTHCHECK_SUCCESS_CODES)
# What a Classic ELB has no place for: the provider answers these with "ignored for this Classic ELB".
NLB_ONLY = (EIP_ALLOCATIONS, PRIVATE_IPV4_ADDRESSES, CROSS_ZONE, HEALTHCHECK_SUCCESS_CODES, SSL_NEGOTIATION_POLICY)

NLB = "nlb"
CLB = "clb"
# aws-load-balancer-controller's types, served as it serves them: an NLB whose target type is
# nlb-target-type's (external) or IP (nlb-ip; see ``ip_targets``).
DELEGATED_TYPES = ("external", "nlb-ip")
KNOWN_TYPES = (NLB, CLB, *DELEGATED_TYPES)

SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
ALLOCATION_ID = re.compile(r"eipalloc-[0-9a-f]{8,17}")
CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:(acm|iam):[a-z0-9-]*:[0-9]{12}:(certificate|server-certificate)/[!-~]+")
# Predefined ELB security policies (ELBSecurityPolicy-TLS13-1-2-2021-06, ...); AWS refuses other characters.
SSL_POLICY = re.compile(r"[A-Za-z0-9-]{1,255}")
# What ELB accepts in a health-check path: "/" then a-z A-Z 0-9 and @:%_+.~#?&/=- (the API's own error text).
HEALTHCHECK_PATH_TEXT = re.compile(r"/[A-Za-z0-9@:%_+.~#?&/=-]*")
SUCCESS_CODE = re.compile(r"([0-9]{3})(?:-([0-9]{3}))?")
# A Service port name (IANA_SVC_NAME): at most 15 of [-a-z0-9], a letter somewhere, no "--", no dash at an end.
PORT_NAME = re.compile(r"(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?")
HEALTHCHECK_PROTOCOLS = ("TCP", "HTTP", "HTTPS")
TRAFFIC_PORT = "traffic-port"
# Tag keys cloudlb sets itself; a user may not override them. "aws:" is AWS's own, in any case.
RESERVED_TAG_PREFIXES = ("kubernetes.io/", "cloudlb.io/", "aws:")
# AWS holds 50 tags per resource; cloudlb's ownership tags and its one record tag
# (replaced load balancers, or a security group's load balancers) take five.
MAX_ADDITIONAL_TAGS = 50 - 5
TAG_SYMBOLS = frozenset("_.:/=+-@")


@dataclass(frozen=True)
class HealthCheckRules:
    """What AWS accepts for one kind of load balancer's health check, and what cloudlb sends when unset.

    ``timeout_below_interval``: a Classic ELB wants the timeout strictly below
    the interval; an NLB target group takes it up to the interval.
    """

    interval: tuple[int, int]
    timeout: tuple[int, int]
    threshold: tuple[int, int]
    max_path: int
    default_interval: int
    default_timeout: int
    timeout_below_interval: bool


# Defaults as aws-load-balancer-controller (NLB) and the in-tree provider (Classic ELB) send them.
NLB_HEALTH_CHECK = HealthCheckRules(interval=(5, 300), timeout=(2, 120), threshold=(2, 10), max_path=1024,
                                    default_interval=10, default_timeout=10, timeout_below_interval=False)
# A Classic ELB's whole ping target ("HTTPS:65535/path") holds at most 1024 characters.
CLB_HEALTH_CHECK = HealthCheckRules(interval=(5, 300), timeout=(2, 60), threshold=(2, 10),
                                    max_path=1024 - len("HTTPS:65535"), default_interval=10, default_timeout=5,
                                    timeout_below_interval=True)
HEALTH_CHECK_RULES = {NLB: NLB_HEALTH_CHECK, CLB: CLB_HEALTH_CHECK}
# The HTTP codes an NLB health check may count as success (a Classic ELB takes only 200 and ignores the annotation).
SUCCESS_CODE_RANGE = (200, 599)


@dataclass(frozen=True)
class HealthCheckOverrides:
    """The user's health-check annotations; ``None`` keeps cloudlb's default."""

    protocol: str | None = None
    port: str | None = None  # a number (as canonical decimal text) or "traffic-port"
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
    """A comma-separated list, each item trimmed as upstream's strings.TrimSpace does; empty items dropped."""
    return tuple(item.strip(GO_SPACE) for item in value.split(",") if item.strip(GO_SPACE))


def _is_tag_text(text: str, low: int, high: int) -> bool:
    """AWS's tag pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``, ``low`` to ``high`` characters."""
    return low <= len(text) <= high and all(
        unicodedata.category(char)[0] in "LZN" or char in TAG_SYMBOLS for char in text)


def _port_number(text: str) -> str | None:
    """A port number 1-65535 as canonical decimal text ("+0443" is "443"); None if ``text`` is not one."""
    number = integer_in_range(text, 1, 65535)
    return None if number is None else str(number)


class _Parser:
    def __init__(self, annotations: Mapping[str, str]) -> None:
        self.annotations = annotations
        self.problems: list[Problem] = []

    def bad(self, name: str, message: str, *, fatal: bool = True, reason: str = p.INVALID_ANNOTATION) -> None:
        self.problems.append(Problem(_where(name), reason, message, fatal=fatal))

    def refused(self, *names: str) -> bool:
        """Whether a fatal problem was found with any of these annotations."""
        fields = {_where(name) for name in names}
        return any(problem.fatal and problem.field in fields for problem in self.problems)

    def text(self, name: str) -> str | None:
        """The trimmed value; None when absent, or empty (said, not fatal: cloudlb's default applies)."""
        if name not in self.annotations:
            return None
        value = trimmed(self.annotations[name])
        if not value:
            self.bad(name, "is empty; cloudlb's default applies (remove the annotation to say so)", fatal=False)
            return None
        return value

    def lb_type(self) -> str | None:
        raw = self.text(TYPE)
        if raw is None:
            return None
        value = ascii_lower(raw)
        if value not in KNOWN_TYPES:
            self.bad(TYPE, f"{quoted(raw)} is not one of {', '.join(KNOWN_TYPES)}")
            return None
        return value

    def subnets(self) -> tuple[str, ...]:
        values = _split(self.annotations.get(SUBNETS, ""))
        if SUBNETS in self.annotations and not values:
            self.bad(SUBNETS, "is empty; list subnet ids or Name tags, or remove it to discover subnets by tags")
        valid = []
        for value in values:
            if value.startswith("subnet-") and not SUBNET_ID.fullmatch(value):
                # As upstream, anything starting with subnet- is read as an id, never as a Name tag.
                self.bad(SUBNETS, f"{quoted(value)} is not a subnet id such as subnet-0123456789abcdef0")
            elif not value.startswith("subnet-") and not _is_tag_text(value, 1, 256):
                self.bad(SUBNETS, f"{quoted(value)} is neither a subnet id nor a subnet Name tag AWS can hold")
            else:
                valid.append(value)
        if len(set(values)) != len(values):
            self.bad(SUBNETS, "lists a subnet twice")
        return tuple(valid)

    def eip_allocations(self, subnets: tuple[str, ...]) -> tuple[str, ...]:
        values = _split(self.annotations.get(EIP_ALLOCATIONS, ""))
        valid = tuple(value for value in values if ALLOCATION_ID.fullmatch(value))
        for value in values:
            if value not in valid:
                self.bad(EIP_ALLOCATIONS,
                         f"{quoted(value)} is not an Elastic IP allocation id such as eipalloc-0123456789abcdef0")
        if len(set(values)) != len(values):
            self.bad(EIP_ALLOCATIONS, "lists an allocation twice")
        if values and subnets and len(values) != len(subnets):
            self.bad(EIP_ALLOCATIONS, f"has {len(values)} allocations for {len(subnets)} subnets; "
                                      "an NLB takes exactly one Elastic IP per subnet")
        return valid

    def private_ipv4_addresses(self, subnets: tuple[str, ...]) -> tuple[str, ...]:
        values = _split(self.annotations.get(PRIVATE_IPV4_ADDRESSES, ""))
        valid = []
        for value in values:
            try:
                ipaddress.IPv4Address(value)  # ASCII digits, no leading zeros: what AWS takes
            except ValueError:
                self.bad(PRIVATE_IPV4_ADDRESSES, f"{quoted(value)} is not an IPv4 address such as 10.0.1.5")
            else:
                valid.append(value)
        if len(set(values)) != len(values):
            self.bad(PRIVATE_IPV4_ADDRESSES, "lists an address twice")
        if values and subnets and len(values) != len(subnets):
            self.bad(PRIVATE_IPV4_ADDRESSES, f"has {len(values)} addresses for {len(subnets)} subnets; "
                                             "an NLB takes exactly one private address per subnet")
        return tuple(valid)

    def ssl(self) -> tuple[str | None, tuple[str, ...] | None, str | None]:
        cert = self.text(SSL_CERT)
        if cert is not None and not CERTIFICATE_ARN.fullmatch(cert):
            self.bad(SSL_CERT, f"{quoted(cert)} is not an ACM or IAM certificate ARN")
            cert = None
        ports = self.ssl_ports()
        if SSL_PORTS in self.annotations and cert is None and SSL_CERT not in self.annotations:
            self.bad(SSL_PORTS, "has no effect without service.beta.kubernetes.io/aws-load-balancer-ssl-cert",
                     fatal=False)
        policy = self.text(SSL_NEGOTIATION_POLICY)
        if policy is not None and not SSL_POLICY.fullmatch(policy):
            self.bad(SSL_NEGOTIATION_POLICY,
                     f"{quoted(policy)} is not an ELB security policy name such as ELBSecurityPolicy-TLS13-1-2-2021-06")
            policy = None
        return cert, ports, policy

    def ssl_ports(self) -> tuple[str, ...] | None:
        """Port numbers (canonical) and names; None for every port ("*", or empty as upstream reads it)."""
        raw = trimmed(self.annotations.get(SSL_PORTS, ""))
        if raw in ("", "*"):
            return None
        ports: list[str] = []
        for item in _split(raw):
            number = _port_number(item)
            if number is not None:
                ports.append(number)
            elif PORT_NAME.fullmatch(item):
                ports.append(item)
            else:
                # Fatal: the user asked for TLS on a port, and would get plain TCP there.
                self.bad(SSL_PORTS, f"{quoted(item)} is neither a port number from 1 to 65535 nor a port name")
        return tuple(ports)

    def additional_tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        for item in _split(self.annotations.get(ADDITIONAL_RESOURCE_TAGS, "")):
            key, _, value = item.partition("=")
            key, value = key.strip(GO_SPACE), value.strip(GO_SPACE)
            if not _is_tag_text(key, 1, 128) or not _is_tag_text(value, 0, 256):
                self.bad(ADDITIONAL_RESOURCE_TAGS, f"{quoted(item)} is not a tag written as key=value "
                                                   "(a key of 1-128 and a value of up to 256 letters, digits, "
                                                   "spaces and _.:/=+-@)")
            elif ascii_lower(key).startswith(RESERVED_TAG_PREFIXES):
                self.bad(ADDITIONAL_RESOURCE_TAGS, f"tag {quoted(key)} is reserved for ownership marks")
            else:
                tags[key] = value
        if len(tags) > MAX_ADDITIONAL_TAGS:
            self.bad(ADDITIONAL_RESOURCE_TAGS, f"has {len(tags)} tags; AWS holds 50 per resource and cloudlb's "
                                               f"own take {50 - MAX_ADDITIONAL_TAGS}, so at most "
                                               f"{MAX_ADDITIONAL_TAGS} fit")
        return tags

    def cross_zone(self) -> bool | None:
        raw = self.text(CROSS_ZONE)
        if raw is None:
            return None
        value = go_bool(raw)
        if value is None:
            self.bad(CROSS_ZONE, f"{quoted(raw)} is not \"true\" or \"false\"")
        return value

    def number(self, name: str, limits: tuple[int, int]) -> int | None:
        raw = self.text(name)
        if raw is None:
            return None
        value = integer_in_range(raw, *limits)
        if value is None:
            self.bad(name, f"{quoted(raw)} is not a whole number from {limits[0]} to {limits[1]}")
        return value

    def health_check(self, rules: HealthCheckRules) -> HealthCheckOverrides:
        interval = self.number(HEALTHCHECK_INTERVAL, rules.interval)
        timeout = self.number(HEALTHCHECK_TIMEOUT, rules.timeout)
        self.timeout_fits_interval(rules, interval, timeout)
        raw_protocol = self.text(HEALTHCHECK_PROTOCOL)
        protocol = None if raw_protocol is None else ascii_upper(raw_protocol)
        if raw_protocol is not None and protocol not in HEALTHCHECK_PROTOCOLS:
            self.bad(HEALTHCHECK_PROTOCOL, f"{quoted(raw_protocol)} is not one of {', '.join(HEALTHCHECK_PROTOCOLS)}")
            protocol = None
        return HealthCheckOverrides(
            protocol=protocol, port=self.health_check_port(), path=self.health_check_path(rules, protocol),
            interval=interval, timeout=timeout,
            healthy_threshold=self.number(HEALTHCHECK_HEALTHY_THRESHOLD, rules.threshold),
            unhealthy_threshold=self.number(HEALTHCHECK_UNHEALTHY_THRESHOLD, rules.threshold),
            success_codes=self.success_codes(protocol),
        )

    def timeout_fits_interval(self, rules: HealthCheckRules, interval: int | None, timeout: int | None) -> None:
        """AWS refuses a timeout above the interval (a Classic ELB: not below it); defaults count too.

        Not checked when either value was refused already: the default would stand in for what the user meant.
        """
        if (interval is None and timeout is None) or self.refused(HEALTHCHECK_INTERVAL, HEALTHCHECK_TIMEOUT):
            return
        effective_interval = rules.default_interval if interval is None else interval
        effective_timeout = rules.default_timeout if timeout is None else timeout
        fits = (effective_timeout < effective_interval if rules.timeout_below_interval
                else effective_timeout <= effective_interval)
        if fits:
            return
        relation = "below" if rules.timeout_below_interval else "at most"
        kind = "a Classic ELB" if rules.timeout_below_interval else "a Network Load Balancer"
        interval_text = f"{effective_interval}s" + ("" if interval is not None else " (the default)")
        timeout_text = f"{effective_timeout}s" + ("" if timeout is not None else " (the default)")
        self.bad(HEALTHCHECK_TIMEOUT if timeout is not None else HEALTHCHECK_INTERVAL,
                 f"the health-check timeout {timeout_text} must be {relation} the interval {interval_text} "
                 f"on {kind}; AWS refuses it otherwise")

    def health_check_port(self) -> str | None:
        raw = self.text(HEALTHCHECK_PORT)
        if raw is None or raw == TRAFFIC_PORT:
            return raw
        number = _port_number(raw)
        if number is None:
            self.bad(HEALTHCHECK_PORT, f"{quoted(raw)} is not a port number from 1 to 65535 or \"traffic-port\"")
        return number

    def health_check_path(self, rules: HealthCheckRules, protocol: str | None) -> str | None:
        path = self.text(HEALTHCHECK_PATH)
        if path is None:
            return None
        if not HEALTHCHECK_PATH_TEXT.fullmatch(path) or len(path) > rules.max_path:
            self.bad(HEALTHCHECK_PATH, f"{quoted(path)} must start with / and hold at most {rules.max_path} of "
                                       "A-Z a-z 0-9 and @:%_+.~#?&/=- (percent-encode anything else)")
            return None
        if protocol == "TCP":
            self.bad(HEALTHCHECK_PATH, "has no effect with a TCP health check", fatal=False,
                     reason=p.UNSUPPORTED_OPTION)
        return path

    def success_codes(self, protocol: str | None) -> str | None:
        codes = self.text(HEALTHCHECK_SUCCESS_CODES)
        if codes is None:
            return None
        low, high = SUCCESS_CODE_RANGE
        for item in codes.split(","):
            match = SUCCESS_CODE.fullmatch(item)
            first, last = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
            if not (low <= first <= last <= high):
                self.bad(HEALTHCHECK_SUCCESS_CODES,
                         f"{quoted(codes)} is not a list of HTTP codes from {low} to {high} such as 200,202 or "
                         "200-399")
                return None
        if protocol == "TCP":
            self.bad(HEALTHCHECK_SUCCESS_CODES, "has no effect with a TCP health check", fatal=False,
                     reason=p.UNSUPPORTED_OPTION)
        return codes


def parse(annotations: Mapping[str, str], *, internal: bool, kind: str | None = None) -> AWSAnnotations:
    """Parse every AWS annotation; ``internal`` is the scheme the core already decided.

    ``kind`` is the offering (``nlb`` or ``clb``) whose health-check limits
    apply; unset, it follows the type annotation, else a Network Load Balancer.
    """
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
    rules = HEALTH_CHECK_RULES[kind or (CLB if lb_type == CLB else NLB)]
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
        health_check=parser.health_check(rules),
        problems=tuple(parser.problems),
    )
