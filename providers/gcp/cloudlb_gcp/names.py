"""Deterministic GCE names for one Service's load balancer, and for the cluster's shared instance groups.

Names must match ``[a-z]([-a-z0-9]{0,61}[a-z0-9])?``. They carry a readable
namespace and name (truncated) for humans and a hash of cluster + namespace +
name for uniqueness, so two clusters in one project, or two long names that
share a prefix, never collide.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cloudlb.model import LoadBalancerKey, ServiceRef

MAX_NAME_LENGTH = 63
PREFIX = "clb"
HASH_LENGTH = 10
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]+")
# The list ``filter`` (a regular expression on the whole name) that selects cloudlb's resources of the kinds
# without labels; the description then says which cluster and load balancer each belongs to.
NAME_FILTER = f'name eq "{PREFIX}-.*"'
SHARED = "s"
MEMBER = "m"
# A member's names: 63 - "clb-m-" - "-" - "-<hash>" - the longest suffix ("-tcp-20").
_MEMBER_NAMESPACE_ROOM = 10
_MEMBER_NAME_ROOM = MAX_NAME_LENGTH - len(PREFIX) - 3 - _MEMBER_NAMESPACE_ROOM - 1 - (1 + HASH_LENGTH) - 7
# Room left for the readable parts: 63 - "clb-" - "-" - "-<hash>" - the longest suffix ("-udp").
_NAMESPACE_ROOM = 14
_NAME_ROOM = MAX_NAME_LENGTH - len(PREFIX) - 1 - _NAMESPACE_ROOM - 1 - (1 + HASH_LENGTH) - 4


def digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:HASH_LENGTH]


def _readable(text: str, room: int) -> str:
    return _NOT_ALLOWED.sub("-", text.lower())[:room]


@dataclass(frozen=True)
class LoadBalancerNames:
    """The name of every GCE resource of one Service's load balancer."""

    base: str

    @property
    def address(self) -> str:
        return self.base

    @property
    def health_check(self) -> str:
        return self.base

    @property
    def backend_service(self) -> str:
        return self.base

    @property
    def traffic_firewall(self) -> str:
        return self.base

    @property
    def health_check_firewall(self) -> str:
        return f"{self.base}-hc"

    # IPv6 (dual-stack or IPv6-only Services): an address, rules and firewalls of their own; the suffixes
    # fit in the room the IPv4 ones leave ("-udp").
    @property
    def address6(self) -> str:
        return f"{self.base}-6"

    @property
    def traffic_firewall6(self) -> str:
        return f"{self.base}-6"

    @property
    def health_check_firewall6(self) -> str:
        return f"{self.base}-hc6"

    def forwarding_rule(self, protocol: str, part: int = 1, ipv6: bool = False) -> str:
        """One rule per IP protocol on the address: ``-tcp``, ``-udp`` or ``-l3`` (L3_DEFAULT), on the IPv6
        address ``-t6``, ``-u6`` or ``-l6``; a member of a shared load balancer may need several per protocol
        (five ports each): ``-tcp-2``, ``-tcp-3``..."""
        suffix = ({"TCP": "t6", "UDP": "u6", "L3_DEFAULT": "l6"} if ipv6 else
                  {"TCP": "tcp", "UDP": "udp", "L3_DEFAULT": "l3"})[protocol]
        return f"{self.base}-{suffix}" + (f"-{part}" if part > 1 else "")


def names_for(cluster: str, service: ServiceRef) -> LoadBalancerNames:
    """The names of a Service's own load balancer."""
    return names_for_key(cluster, LoadBalancerKey.of(service))


def names_for_key(cluster: str, key: LoadBalancerKey) -> LoadBalancerNames:
    """A Service's own load balancer keeps the names derived from the Service; a shared one's names say
    so (``clb-s-``) and hash differently, so that they never meet a Service of the same namespace and name."""
    shared = (SHARED,) if key.shared else ()
    base = "-".join((
        PREFIX, *shared,
        _readable(key.namespace, _NAMESPACE_ROOM - 2 * len(shared)),
        _readable(key.name, _NAME_ROOM),
        digest(cluster, *shared, key.namespace, key.name),
    ))
    return LoadBalancerNames(base)


def member_names(cluster: str, key: LoadBalancerKey, service: ServiceRef) -> LoadBalancerNames:
    """The names of one member Service's own resources on a shared load balancer (``clb-m-``): its rules,
    backend service, health check and firewalls. The hash covers the cluster, the shared key and the member;
    the base leaves room for the longest rule suffix (``-tcp-20``: 100 ports in rules of five)."""
    base = "-".join((
        PREFIX, MEMBER,
        _readable(service.namespace, _MEMBER_NAMESPACE_ROOM),
        _readable(service.name, _MEMBER_NAME_ROOM),
        digest(cluster, SHARED, key.namespace, key.name, service.namespace, service.name),
    ))
    return LoadBalancerNames(base)


def instance_group_name(cluster: str) -> str:
    """One unmanaged group per zone for the whole cluster: GCE lets an instance be in one load-balanced group."""
    return f"{PREFIX}-ig-{_readable(cluster, 30).strip('-')}-{digest(cluster)}".replace("--", "-")
