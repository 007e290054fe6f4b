"""The GKE annotations the GCP provider reads, and the problems a malformed one causes.

Upstream names are used so that manifests written for GKE work unchanged.
Which annotation makes a Service internal is decided by the core
(``spec.internal``); the options below only shape the load balancer. Names
are matched in full against GCE's ASCII name rule; ``validate`` never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cloudlb.model import DEFAULT_SESSION_AFFINITY_TIMEOUT, SESSION_AFFINITY_CLIENT_IP, LoadBalancerSpec
from cloudlb.parsing import quoted, trimmed
from cloudlb.problems import INVALID_ANNOTATION, UNSUPPORTED_OPTION, Problem

SUBNET = "networking.gke.io/internal-load-balancer-subnet"
GLOBAL_ACCESS = "networking.gke.io/internal-load-balancer-allow-global-access"
IP_ADDRESSES = "networking.gke.io/load-balancer-ip-addresses"
NETWORK_TIER = "cloud.google.com/network-tier"
INTERNAL_ONLY = (SUBNET, GLOBAL_ACCESS)
EXTERNAL_ONLY = (NETWORK_TIER,)
# Every annotation read here (the load-balancer type annotations are read by the core's translation).
PARSED = (SUBNET, GLOBAL_ACCESS, IP_ADDRESSES, NETWORK_TIER)
# The namespaces GKE's annotations live in.
PREFIXES = ("cloud.google.com/", "networking.gke.io/")
RESOURCE_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
# GKE turns global access on for exactly "true" (anything else silently means off); cloudlb takes
# "true" and "false" and names every other value instead of guessing.
BOOLEANS = ("true", "false")
# The annotation's values as GKE spells them (case-sensitive: anything else is an error upstream), and the
# API's names of the tiers. Premium is the default, as upstream.
NETWORK_TIERS = {"Premium": "PREMIUM", "Standard": "STANDARD"}
DEFAULT_TIER = "PREMIUM"
# GKE takes at most one IPv4 and one IPv6 address name (dual stack); IPv6 is not served here.
MAX_ADDRESS_NAMES = 2


@dataclass(frozen=True)
class GCPOptions:
    subnet: str | None = None
    global_access: bool = False
    address_names: tuple[str, ...] = ()
    network_tier: str = DEFAULT_TIER  # the API's name: PREMIUM or STANDARD


def _address_names(value: str) -> tuple[str, ...]:
    return tuple(trimmed(part) for part in value.split(",") if trimmed(part))


def read_options(annotations: Mapping[str, str]) -> GCPOptions:
    """The options as the provider uses them; ``validate`` has already refused malformed values."""
    return GCPOptions(
        subnet=trimmed(annotations.get(SUBNET, "")) or None,
        global_access=trimmed(annotations.get(GLOBAL_ACCESS, "")) == "true",
        address_names=_address_names(annotations.get(IP_ADDRESSES, "")),
        network_tier=NETWORK_TIERS.get(trimmed(annotations.get(NETWORK_TIER, "")), DEFAULT_TIER),
    )


def network_tier_of(spec: LoadBalancerSpec) -> str:
    """The tier an external load balancer's address and rules are in (internal ones have none)."""
    return "" if spec.internal else read_options(spec.annotations).network_tier


def validate(spec: LoadBalancerSpec) -> Sequence[Problem]:
    """Problems with the GKE annotations; malformed ones are fatal, since guessing could change who can connect."""
    found: list[Problem] = []
    annotations = spec.annotations

    def bad(name: str, message: str) -> None:
        found.append(Problem(f"metadata.annotations[{name}]", INVALID_ANNOTATION, message, fatal=True))

    if GLOBAL_ACCESS in annotations and trimmed(annotations[GLOBAL_ACCESS]) not in BOOLEANS:
        bad(GLOBAL_ACCESS, f'must be "true" or "false" (lower case, as GKE reads it), '
                           f"not {quoted(annotations[GLOBAL_ACCESS])}")
    if SUBNET in annotations and not RESOURCE_NAME.fullmatch(trimmed(annotations[SUBNET])):
        bad(SUBNET, f"{quoted(annotations[SUBNET])} is not a subnetwork name (a-z, 0-9 and -, at most 63)")
    if NETWORK_TIER in annotations and not spec.internal and trimmed(annotations[NETWORK_TIER]) not in NETWORK_TIERS:
        # Upstream refuses the Service ("unsupported network tier"): guessing a tier would change its IP.
        bad(NETWORK_TIER, f'must be "Standard" or "Premium" (as GKE reads it), not {quoted(annotations[NETWORK_TIER])}')
    if IP_ADDRESSES in annotations:
        names = _address_names(annotations[IP_ADDRESSES])
        if not names:
            bad(IP_ADDRESSES, "names no reserved address")
        elif len(names) > MAX_ADDRESS_NAMES:
            bad(IP_ADDRESSES, f"names {len(names)} addresses; at most {MAX_ADDRESS_NAMES} (one per IP family)")
        for name in names:
            if not RESOURCE_NAME.fullmatch(name):
                bad(IP_ADDRESSES, f"{quoted(name)} is not an address name (a-z, 0-9 and -, at most 63)")
        if spec.requested_ips:
            found.append(Problem(
                "spec.loadBalancerIP", UNSUPPORTED_OPTION,
                f"ignored: the {IP_ADDRESSES} annotation takes precedence over spec.loadBalancerIP",
            ))
    if not spec.internal:
        for name in INTERNAL_ONLY:
            if name in annotations:
                found.append(Problem(f"metadata.annotations[{name}]", UNSUPPORTED_OPTION,
                                     "ignored: only internal load balancers take this annotation"))
    else:
        for name in EXTERNAL_ONLY:
            if name in annotations:
                found.append(Problem(f"metadata.annotations[{name}]", UNSUPPORTED_OPTION,
                                     "ignored: only external load balancers take this annotation"))
    timeout = spec.session_affinity_timeout
    if spec.session_affinity == SESSION_AFFINITY_CLIENT_IP and timeout not in (None, DEFAULT_SESSION_AFFINITY_TIMEOUT):
        found.append(Problem("spec.sessionAffinityConfig.clientIP.timeoutSeconds", UNSUPPORTED_OPTION,
                             f"ignored ({timeout}): a GCP backend service's CLIENT_IP affinity has no timeout; "
                             "a client stays on one node while that node is healthy"))
    return found
