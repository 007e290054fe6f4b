"""What the real Compute API enforces for passthrough load balancing, checked before anything is stored.

Each ``check_*`` validates one resource against the store (references must
exist, schemes and protocols must fit together) and fills the fields the API
computes (addresses, ``users``, ``size``). ``check_delete`` refuses to delete
what another resource still uses.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from google.cloud import compute_v1

from cloudlb_gcp.emulator import ipv6
from cloudlb_gcp.emulator.errors import ApiError, already_exists, in_use, invalid
from cloudlb_gcp.emulator.paths import ResourcePath, check_name
from cloudlb_gcp.emulator.store import Store

# The benchmarking range (RFC 2544): external addresses are only data here and are never dialled, and
# benchmarks reserve thousands of them.
EXTERNAL_POOL = ipaddress.ip_network("198.18.0.0/15")
# Standard-tier addresses come from other ranges than Premium ones (so a tier change changes the IP).
STANDARD_POOL = ipaddress.ip_network("198.51.100.0/24")
PASSTHROUGH_SCHEMES = frozenset({"EXTERNAL", "INTERNAL"})
# Backend-service based passthrough forwarding rules (SCTP only exists on target-pool/instance rules,
# and on internal ones through L3_DEFAULT).
FORWARDING_RULE_PROTOCOLS = frozenset({"TCP", "UDP", "L3_DEFAULT"})
BACKEND_SERVICE_PROTOCOLS = frozenset({"TCP", "UDP", "UNSPECIFIED"})
FIREWALL_PROTOCOLS = frozenset({"tcp", "udp", "icmp", "sctp", "esp", "ah", "ipip", "all"})
MAX_LISTED_PORTS = 5
NETWORK_TIERS = frozenset({"PREMIUM", "STANDARD"})
# "you can use a shared internal IP address across up to ten forwarding rules" (internal passthrough docs).
MAX_SHARED_VIP_RULES = 10
LABEL_KEY_MAX = 63


def _label_text(text: str) -> bool:
    return len(text) <= LABEL_KEY_MAX and all(c.islower() or c.isdigit() or c in "-_" for c in text)


def check_labels(labels: Any) -> None:
    for key, value in dict(labels).items():
        if not key or not _label_text(key):
            raise invalid(f"Invalid value for field 'labels': label key '{key}' is invalid")
        if not _label_text(value):
            raise invalid(f"Invalid value for field 'labels': label value '{value}' is invalid")


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """What the API puts in ``labelFingerprint``: it changes whenever the labels do."""
    digest = hashlib.sha256(json.dumps(dict(labels), sort_keys=True).encode()).digest()[:8]
    return base64.b64encode(digest).decode()


def _subnet_range(store: Store, link: str) -> ipaddress.IPv4Network:
    _, subnet = store.resolve(link, "subnetworks")
    return ipaddress.ip_network(subnet.ip_cidr_range)  # type: ignore[return-value]


def allocate_ip(store: Store, internal_subnet: str | None, network_tier: str = "PREMIUM") -> str:
    """A free address: from the subnetwork for internal ones, from the tier's external pool otherwise."""
    pool = _subnet_range(store, internal_subnet) if internal_subnet else (
        STANDARD_POOL if network_tier == "STANDARD" else EXTERNAL_POOL)
    # As ``pool.hosts()`` from its tenth (the low addresses are the gateway's and the nodes'), without making an
    # IPv4Address of each: with a thousand addresses taken, that was most of what a reservation cost.
    for number in range(int(pool.network_address) + 10, int(pool.broadcast_address)):
        candidate = f"{number >> 24}.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
        if not store.ip_used(candidate):
            return candidate
    raise ApiError(403, "IP_SPACE_EXHAUSTED", f"no free address left in {pool}")


def _check_ip(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise invalid(f"Invalid value for field 'address': '{text}'. Invalid IPv4 address.") from None


def check_address(store: Store, path: ResourcePath, address: compute_v1.Address) -> None:
    address_type = address.address_type or "EXTERNAL"
    address.address_type = address_type
    check_labels(address.labels)
    if address.ip_version not in ("", "IPV4", "IPV6"):
        raise invalid(f"Invalid value for field 'resource.ipVersion': '{address.ip_version}'")
    if ipv6.is_ipv6(address):
        if address_type not in ("INTERNAL", "EXTERNAL"):
            raise invalid(f"Invalid value for field 'resource.addressType': '{address_type}'")
        if address.purpose not in ("", "GCE_ENDPOINT"):
            raise invalid(f"Invalid value for field 'resource.purpose': '{address.purpose}' for an IPv6 address")
        ipv6.check_address(store, address)
        if any(p != path for p, _ in store.holders(address.address, "addresses")):
            raise ApiError(409, "alreadyExists", f"IP '{address.address}' is already reserved by another address")
        address.status = "RESERVED"
        return
    if address_type == "INTERNAL":
        if not address.subnetwork:
            raise invalid("Invalid value for field 'resource.subnetwork': an INTERNAL address needs a subnetwork")
        store.resolve(address.subnetwork, "subnetworks")
        if address.purpose not in ("", "GCE_ENDPOINT", "SHARED_LOADBALANCER_VIP"):
            raise invalid(f"Invalid value for field 'resource.purpose': '{address.purpose}'")
    elif address_type == "EXTERNAL":
        if address.subnetwork or address.purpose:
            raise invalid("An EXTERNAL address takes neither a subnetwork nor a purpose")
        address.network_tier = address.network_tier or "PREMIUM"
        if address.network_tier not in NETWORK_TIERS:
            raise invalid(f"Invalid value for field 'resource.networkTier': '{address.network_tier}'")
    else:
        raise invalid(f"Invalid value for field 'resource.addressType': '{address_type}'")
    if address.address:
        ip = _check_ip(address.address)
        if address_type == "INTERNAL" and ip not in _subnet_range(store, address.subnetwork):
            raise invalid(f"Requested internal IP {ip} is outside the subnetwork's range")
        if any(p != path for p, _ in store.holders(address.address, "addresses")):
            raise ApiError(409, "alreadyExists", f"IP '{ip}' is already reserved by another address")
    else:
        address.address = allocate_ip(store, address.subnetwork if address_type == "INTERNAL" else None,
                                      address.network_tier)
    address.status = "RESERVED"


def _ports_of(rule: compute_v1.ForwardingRule) -> set[int] | None:
    """The ports a rule takes; None means all of them."""
    if rule.all_ports:
        return None
    if rule.port_range:
        low, _, high = rule.port_range.partition("-")
        return set(range(int(low), int(high or low) + 1))
    return {int(p) for p in rule.ports}


def _check_rule_ports(rule: compute_v1.ForwardingRule) -> None:
    chosen = sum(bool(x) for x in (rule.all_ports, rule.port_range, list(rule.ports)))
    if chosen != 1:
        raise invalid("Exactly one of 'ports', 'portRange' and 'allPorts' must be set for a passthrough rule")
    if len(rule.ports) > MAX_LISTED_PORTS:
        raise invalid(f"Invalid value for field 'resource.ports': at most {MAX_LISTED_PORTS} ports")
    try:
        ports = _ports_of(rule) or set()
    except ValueError:
        raise invalid("Invalid value for field 'resource.ports' or 'resource.portRange'") from None
    if any(not 1 <= p <= 65535 for p in ports):
        raise invalid("Invalid value for field 'resource.ports': ports must be 1-65535")
    if rule.I_p_protocol == "L3_DEFAULT" and not rule.all_ports:
        raise invalid("An L3_DEFAULT forwarding rule must use allPorts")


def _ports_overlap(a: set[int] | None, b: set[int] | None) -> bool:
    return a is None or b is None or bool(a & b)


def check_forwarding_rule(store: Store, path: ResourcePath, rule: compute_v1.ForwardingRule) -> None:
    scheme = rule.load_balancing_scheme or "EXTERNAL"
    rule.load_balancing_scheme = scheme
    rule.I_p_protocol = rule.I_p_protocol or "TCP"
    check_labels(rule.labels)
    if scheme not in PASSTHROUGH_SCHEMES:
        raise invalid(f"Load balancing scheme '{scheme}' is not served by this emulator")
    if not rule.backend_service or rule.target:
        raise invalid("A passthrough forwarding rule needs a backendService (target pools are not emulated)")
    if rule.I_p_protocol not in FORWARDING_RULE_PROTOCOLS:
        raise invalid(
            f"Invalid value for field 'resource.IPProtocol': '{rule.I_p_protocol}'. "
            f"A backend service based {scheme} forwarding rule accepts {sorted(FORWARDING_RULE_PROTOCOLS)}"
        )
    service_path, service = store.resolve(rule.backend_service, "backendServices")
    if service_path.location != path.location:
        raise invalid("The backend service must be in the forwarding rule's region")
    if service.load_balancing_scheme != scheme:
        raise invalid(f"Backend service scheme {service.load_balancing_scheme} does not match rule scheme {scheme}")
    if service.protocol not in (rule.I_p_protocol, "UNSPECIFIED"):
        raise invalid(
            f"Forwarding rule protocol {rule.I_p_protocol} does not match backend service protocol "
            f"{service.protocol}"
        )
    _check_rule_ports(rule)
    if rule.ip_version not in ("", "IPV4", "IPV6"):
        raise invalid(f"Invalid value for field 'resource.ipVersion': '{rule.ip_version}'")
    if scheme == "INTERNAL":
        if not rule.subnetwork:
            raise invalid("Invalid value for field 'resource.subnetwork': an INTERNAL rule needs a subnetwork")
        _, subnet = store.resolve(rule.subnetwork, "subnetworks")
        rule.network = rule.network or subnet.network
        rule.network_tier = ""
    else:
        if rule.allow_global_access or (rule.subnetwork and not ipv6.is_ipv6(rule)):
            raise invalid("allowGlobalAccess and subnetwork are only valid on INTERNAL (or IPv6) forwarding rules")
        rule.network_tier = rule.network_tier or "PREMIUM"
        if rule.network_tier not in NETWORK_TIERS:
            raise invalid(f"Invalid value for field 'resource.networkTier': '{rule.network_tier}'")
    _bind_address(store, path, rule)


def _bind_address(store: Store, path: ResourcePath, rule: compute_v1.ForwardingRule) -> None:
    """Give the rule its IP: a reserved address it names (which records it as a user) or an ephemeral one."""
    internal = rule.load_balancing_scheme == "INTERNAL"
    if ipv6.is_ipv6(rule):
        ip: ipaddress.IPv4Address | str = ipv6.bind_rule(store, rule)
    elif not rule.I_p_address:
        rule.I_p_address = allocate_ip(store, rule.subnetwork if internal else None, rule.network_tier)
        return
    else:
        ip = _check_ip(rule.I_p_address)
    reserved = [(p, a) for p, a in store.holders(str(ip), "addresses")
                if p.scope == "regions" and p.location == path.location]
    sharing = [r for p, r in store.holders(str(ip), "forwardingRules") if p != path]
    for other in sharing:
        if other.I_p_protocol == rule.I_p_protocol and _ports_overlap(_ports_of(other), _ports_of(rule)):
            raise invalid(f"IP {ip} is already used by forwarding rule '{other.name}' for overlapping ports")
    if reserved:
        _, address = reserved[0]
        if (address.address_type == "INTERNAL") != internal:
            raise invalid(f"Address {ip} is {address.address_type}, the rule is {rule.load_balancing_scheme}")
        if not internal and address.network_tier != rule.network_tier:
            raise invalid(f"The network tier of specified IP address is {address.network_tier}, "
                          "that of Forwarding Rule must be the same.")
        if internal and sharing and address.purpose != "SHARED_LOADBALANCER_VIP":
            raise in_use(f"address '{address.name}'", sharing[0].self_link)
        if internal and len(address.users) >= MAX_SHARED_VIP_RULES:
            raise invalid(f"Address '{address.name}' with purpose SHARED_LOADBALANCER_VIP is already used by "
                          f"{MAX_SHARED_VIP_RULES} forwarding rules, the most one shared internal IP address takes")
        address.users.append(path.link)
        address.status = "IN_USE"
    elif internal and isinstance(ip, ipaddress.IPv4Address) and ip not in _subnet_range(store, rule.subnetwork):
        raise invalid(f"IP {ip} is outside the rule's subnetwork")


def release_address(store: Store, rule_link: str, ip: str) -> None:
    """The rule at ``rule_link`` on ``ip`` goes: the addresses of that IP no longer list it as a user."""
    for _, address in store.holders(ip.split("/", 1)[0], "addresses"):
        if rule_link in address.users:
            address.users.remove(rule_link)
            address.status = "IN_USE" if address.users else "RESERVED"


def check_health_check(store: Store, path: ResourcePath, check: compute_v1.HealthCheck) -> None:
    kinds = {"HTTP": "http_health_check", "HTTPS": "https_health_check", "HTTP2": "http2_health_check",
             "TCP": "tcp_health_check", "SSL": "ssl_health_check"}
    if check.type_ not in kinds:
        raise invalid(f"Invalid value for field 'resource.type': '{check.type_}'")
    field = kinds[check.type_]
    if field not in check:
        raise invalid(f"A {check.type_} health check needs '{field}'")
    port = getattr(check, field).port
    if not 1 <= port <= 65535:
        raise invalid(f"Invalid value for field 'resource.{field}.port': {port}")
    check.check_interval_sec = check.check_interval_sec or 5
    check.timeout_sec = check.timeout_sec or 5
    if check.timeout_sec > check.check_interval_sec:
        raise invalid("timeoutSec must not be greater than checkIntervalSec")


def check_backend_service(store: Store, path: ResourcePath, service: compute_v1.BackendService) -> None:
    scheme = service.load_balancing_scheme or "EXTERNAL"
    service.load_balancing_scheme = scheme
    service.protocol = service.protocol or "TCP"
    if scheme not in PASSTHROUGH_SCHEMES:
        raise invalid(f"Load balancing scheme '{scheme}' is not served by this emulator")
    if service.protocol not in BACKEND_SERVICE_PROTOCOLS:
        raise invalid(f"Invalid value for field 'resource.protocol': '{service.protocol}' for a passthrough service")
    if len(service.health_checks) != 1:
        raise invalid("A passthrough backend service needs exactly one health check")
    check_path, _ = store.resolve(service.health_checks[0], "healthChecks")
    if check_path.location != path.location:
        raise invalid("Regional backend services need a health check in the same region")
    groups: set[ResourcePath] = set()
    for backend in service.backends:
        group_path, _ = store.resolve(backend.group, "instanceGroups")
        if group_path in groups:
            raise invalid(f"Duplicate backend group '{backend.group}'")
        groups.add(group_path)
        if backend.balancing_mode not in ("", "CONNECTION"):
            raise invalid("Passthrough backend services only accept balancingMode CONNECTION")
        backend.balancing_mode = "CONNECTION"
    for _, rule in store.users(path):
        if service.protocol not in (rule.I_p_protocol, "UNSPECIFIED"):
            raise invalid(f"Protocol {service.protocol} does not fit forwarding rule '{rule.name}'")


def check_instance_group(store: Store, path: ResourcePath, group: compute_v1.InstanceGroup) -> None:
    if group.network:
        store.resolve(group.network, "networks")
    group.size = 0


def check_firewall(store: Store, path: ResourcePath, firewall: compute_v1.Firewall) -> None:
    if not firewall.network:
        raise invalid("Invalid value for field 'resource.network': a firewall needs a network")
    store.resolve(firewall.network, "networks")
    firewall.direction = firewall.direction or "INGRESS"
    if not firewall.allowed and not firewall.denied:
        raise invalid("A firewall needs 'allowed' or 'denied'")
    entries: list[Any] = [*firewall.allowed, *firewall.denied]
    for rule in entries:
        protocol = rule.I_p_protocol
        if protocol not in FIREWALL_PROTOCOLS and not protocol.isdigit():
            raise invalid(f"Invalid value for field 'resource.allowed[].IPProtocol': '{protocol}'")
        if rule.ports and protocol not in ("tcp", "udp", "sctp", "6", "17", "132"):
            raise invalid(f"Ports are only allowed with tcp, udp and sctp, not '{protocol}'")
        for port in rule.ports:
            low, _, high = port.partition("-")
            if not (low.isdigit() and (not high or high.isdigit())):
                raise invalid(f"Invalid value for field 'resource.allowed[].ports': '{port}'")
    for cidr in [*firewall.source_ranges, *firewall.destination_ranges]:
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            raise invalid(f"Invalid value for field 'resource.sourceRanges': '{cidr}'") from None
    if firewall.direction == "INGRESS" and not firewall.source_ranges and not firewall.source_tags:
        firewall.source_ranges.append("0.0.0.0/0")


def check_delete(store: Store, path: ResourcePath, resource: Any) -> None:
    """Refuse to delete a resource that another one still references, as the API does."""
    users: list[str] = [user.self_link for _, user in store.users(path)]
    if path.collection == "addresses":
        users = list(resource.users)
    if users:
        raise in_use(f"{path.collection[:-1]} '{path.name}'", users[0])


def check_new_name(store: Store, path: ResourcePath) -> None:
    check_name(path.name)
    if store.find(path) is not None:
        raise already_exists(path.relative)
