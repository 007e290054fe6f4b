"""IPv6 on passthrough load balancers, as the Compute API takes it.

A subnetwork carries IPv6 when its ``stackType`` is ``IPV4_IPV6`` (or ``IPV6_ONLY``), and then one kind:
``ipv6AccessType: EXTERNAL`` (a /64 ``externalIpv6Prefix``, for external load balancers) or ``INTERNAL``
(a /64 ``ipv6CidrRange``, for internal ones). IPv6 addresses and forwarding rules (``ipVersion: IPV6``)
must name such a subnetwork; each gets a /96 of its range. An external IPv6 rule names its address with
the ``/96`` suffix (the API refuses it without), and IPv6 is not served in the Standard tier.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from google.cloud import compute_v1

from cloudlb_gcp.emulator.errors import invalid
from cloudlb_gcp.emulator.store import Store

PREFIX_LENGTH = 96
SUFFIX = f"/{PREFIX_LENGTH}"
DUAL_STACKS = frozenset({"IPV4_IPV6", "IPV6_ONLY"})


def is_ipv6(resource: Any) -> bool:
    return bool(resource.ip_version == "IPV6")


def range_of(store: Store, subnetwork: str, external: bool) -> ipaddress.IPv6Network:
    """The subnetwork's IPv6 range of the kind a load balancer of that scheme takes; 400 when it has none."""
    if not subnetwork:
        raise invalid("Invalid value for field 'resource.subnetwork': ''. "
                      "Subnetwork or Ip Collection must be specified for IPv6 forwarding rules.")
    _, subnet = store.resolve(subnetwork, "subnetworks")
    kind = "EXTERNAL" if external else "INTERNAL"
    prefix = subnet.external_ipv6_prefix if external else subnet.ipv6_cidr_range
    if subnet.stack_type not in DUAL_STACKS or subnet.ipv6_access_type != kind or not prefix:
        raise invalid(f"Invalid value for field 'resource.subnetwork': '{subnetwork}'. The subnetwork "
                      f"(stackType {subnet.stack_type or 'IPV4_ONLY'}) has no {kind.lower()} IPv6 range.")
    return ipaddress.IPv6Network(prefix)


def _used(store: Store) -> set[ipaddress.IPv6Address]:
    return {ipaddress.IPv6Address(text) for text in store.used_ips() if ":" in text}


def allocate(store: Store, within: ipaddress.IPv6Network) -> str:
    """The first free /96 of a /64 range (the first one is the subnet's own)."""
    used = _used(store)
    for index in range(1, 1 << 16):
        candidate = within.network_address + (index << (128 - PREFIX_LENGTH))
        if candidate not in used:
            return str(candidate)
    raise invalid(f"no free IPv6 range left in {within}")


def parse(text: str, within: ipaddress.IPv6Network) -> ipaddress.IPv6Address:
    try:
        ip = ipaddress.IPv6Address(text.removesuffix(SUFFIX))
    except ValueError:
        raise invalid(f"Invalid value for field 'resource.IPAddress': '{text}'. Invalid IPv6 address.") from None
    if ip not in within:
        raise invalid(f"IPv6 address {ip} is outside the subnetwork's range {within}")
    return ip


def check_address(store: Store, address: compute_v1.Address) -> None:
    """An IPv6 address: in the subnetwork's range of its type, a /96, Premium tier if external."""
    external = address.address_type == "EXTERNAL"
    if external:
        address.network_tier = address.network_tier or "PREMIUM"
        if address.network_tier != "PREMIUM":
            raise invalid("IPv6 addresses are only available in the PREMIUM network tier")
        if address.ipv6_endpoint_type not in ("", "NETLB", "VM"):
            raise invalid(f"Invalid value for field 'resource.ipv6EndpointType': '{address.ipv6_endpoint_type}'")
    within = range_of(store, address.subnetwork, external)
    address.address = str(parse(address.address, within)) if address.address else allocate(store, within)
    address.prefix_length = PREFIX_LENGTH


def bind_rule(store: Store, rule: compute_v1.ForwardingRule) -> str:
    """An IPv6 rule's address (without the suffix): the one it names, or a free /96 of its subnetwork."""
    external = rule.load_balancing_scheme == "EXTERNAL"
    within = range_of(store, rule.subnetwork, external)
    if external and rule.network_tier != "PREMIUM":
        raise invalid("IPv6 forwarding rules are only available in the PREMIUM network tier")
    if not rule.I_p_address:
        ip = allocate(store, within)
        rule.I_p_address = ip + SUFFIX if external else ip
        return ip
    if external and not rule.I_p_address.endswith(SUFFIX):
        raise invalid(f"Invalid value for field 'resource.IPAddress': '{rule.I_p_address}'. "
                      f"An external IPv6 address must be given as a {SUFFIX} range.")
    return str(parse(rule.I_p_address, within))
