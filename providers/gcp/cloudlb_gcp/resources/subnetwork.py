"""Subnetworks, read-only: whether one carries IPv6, and of which kind.

A dual-stack subnetwork (``stackType`` ``IPV4_IPV6``) has one IPv6 access type: ``EXTERNAL`` (an
``externalIpv6Prefix``, for external load balancers) or ``INTERNAL`` (an ``ipv6CidrRange``, for internal
ones). A plan reads a subnetwork once, when a Service first asks for IPv6 on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudlb_gcp.resources.common import Json, relative_link

DUAL_STACKS = frozenset({"IPV4_IPV6", "IPV6_ONLY"})


@dataclass(frozen=True)
class SubnetRecord:
    link: str
    stack_type: str
    ipv6_access_type: str
    ipv6_range: str  # the range of its access type ("" without IPv6)

    def serves_ipv6(self, internal: bool) -> bool:
        """Whether load balancers of that scheme can take an IPv6 address from it."""
        kind = "INTERNAL" if internal else "EXTERNAL"
        return self.stack_type in DUAL_STACKS and self.ipv6_access_type == kind and bool(self.ipv6_range)

    def described(self) -> str:
        if self.stack_type not in DUAL_STACKS:
            return f"stackType {self.stack_type or 'IPV4_ONLY'}"
        return f"stackType {self.stack_type}, ipv6AccessType {self.ipv6_access_type or 'none'}"


def parse(item: Json) -> SubnetRecord:
    access = item.get("ipv6AccessType", "")
    prefix = item.get("externalIpv6Prefix" if access == "EXTERNAL" else "ipv6CidrRange", "")
    return SubnetRecord(relative_link(item.get("selfLink", "")), item.get("stackType", "IPV4_ONLY") or "IPV4_ONLY",
                        access, prefix)
