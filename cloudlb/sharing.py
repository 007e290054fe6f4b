"""Which cloud load balancer a Service is served by, and which Services may share one. Pure.

A Service is served by its own load balancer unless it names a share key
(``cloudlb.io/share-key``): Services of one namespace with the same key share
one load balancer. Across namespaces only those the operator allowed to share
with each other (``--share-namespaces``) do, so that a team cannot attach its
Service to another team's load balancer by guessing a key.

Members join in a fixed order (oldest ``creationTimestamp`` first, then
namespace and name), so the winner of a clash never depends on which event
arrived first: a port already served by an earlier member, or a Service whose
load-balancer-wide settings differ from the first member's, is reported on the
later Service and the existing members are untouched.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloudlb.model import LoadBalancerKey, LoadBalancerSpec, PortKey, ServiceRef

SHARE_KEY_ANNOTATION = "cloudlb.io/share-key"
PORT_IN_USE = "PortInUseBySharedLoadBalancer"
INCOMPATIBLE = "IncompatibleWithSharedLoadBalancer"
INVALID_SHARE_KEY = "InvalidShareKey"
# A DNS label, as label values and cloud names allow; the key ends up hashed into cloud names.
_SHARE_KEY = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class SharingPolicy:
    """Groups of namespaces whose Services may share load balancers with each other (by the same key)."""

    namespace_groups: tuple[frozenset[str], ...] = ()

    def scope(self, namespace: str) -> str:
        """The namespace itself, or the group it belongs to (named by its sorted members)."""
        for group in self.namespace_groups:
            if namespace in group:
                return "+".join(sorted(group))
        return namespace


def parse_policy(text: str) -> SharingPolicy:
    """``"team-a,team-b;x,y"``: each ``;``-separated group of namespaces may share across namespaces."""
    groups = []
    seen: set[str] = set()
    for part in (chunk for chunk in text.split(";") if chunk.strip()):
        names = frozenset(name.strip() for name in part.split(",") if name.strip())
        if len(names) < 2:
            raise ValueError(f"{part.strip()!r}: a group of namespaces that may share needs at least two names")
        if names & seen:
            raise ValueError(f"namespace {sorted(names & seen)[0]!r} is in two sharing groups")
        seen |= names
        groups.append(names)
    return SharingPolicy(tuple(groups))


def share_key(service: Mapping[str, Any]) -> str | None:
    """The share key a Service names, or None; an invalid key is None (reported by ``share_key_problem``)."""
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(SHARE_KEY_ANNOTATION)
    if not isinstance(value, str) or not _SHARE_KEY.match(value.strip()):
        return None
    return value.strip()


def share_key_problem(service: Mapping[str, Any]) -> str | None:
    """Why the share-key annotation is unusable, or None when it is absent or valid."""
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    if SHARE_KEY_ANNOTATION not in annotations or share_key(service) is not None:
        return None
    return (f"{annotations[SHARE_KEY_ANNOTATION]!r} is not a share key: use lower-case letters, digits and '-', "
            "at most 63 characters, starting and ending with a letter or digit; the Service gets a load balancer "
            "of its own until it is fixed")


def key_for(service: Mapping[str, Any], policy: SharingPolicy) -> LoadBalancerKey:
    metadata = service.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "default")
    key = share_key(service)
    if key is None:
        return LoadBalancerKey(namespace, str(metadata.get("name", "")))
    return LoadBalancerKey(policy.scope(namespace), key, shared=True)


def precedence(service: Mapping[str, Any]) -> tuple[str, str, str]:
    """Oldest first, then by namespace and name: who keeps a port when two members ask for it."""
    metadata = service.get("metadata") or {}
    return (str(metadata.get("creationTimestamp") or "9999"), str(metadata.get("namespace") or ""),
            str(metadata.get("name") or ""))


@dataclass(frozen=True)
class Refusal:
    """Why one member cannot take (part of) a shared load balancer; ``ports`` empty: the whole Service."""

    service: ServiceRef
    reason: str
    message: str
    ports: tuple[PortKey, ...] = ()


@dataclass(frozen=True)
class Assignment:
    members: tuple[LoadBalancerSpec, ...]
    refusals: tuple[Refusal, ...]


def assign(candidates: Sequence[LoadBalancerSpec], traits: Iterable[Hashable]) -> Assignment:
    """Merge candidates (already in precedence order) into members: the first sets the traits, ports are unique.

    A candidate whose traits differ from the first member's is refused whole; a
    port already taken is removed from the later candidate and reported on it,
    and a candidate left without ports is not a member.
    """
    members: list[LoadBalancerSpec] = []
    refusals: list[Refusal] = []
    taken: dict[PortKey, ServiceRef] = {}
    first_traits: Hashable = None
    for spec, spec_traits in zip(candidates, traits, strict=True):
        if members and spec_traits != first_traits:
            refusals.append(Refusal(spec.service, INCOMPATIBLE, (
                f"cannot share the load balancer of {members[0].service}: its scheme, offering, source ranges or "
                f"load-balancer-wide annotations differ; make them equal or use another {SHARE_KEY_ANNOTATION}")))
            continue
        kept = tuple(port for port in spec.ports if port.key not in taken)
        refusals.extend(Refusal(spec.service, PORT_IN_USE,
                                f"port {port.key} is already served by {taken[port.key]} on the shared load balancer",
                                ports=(port.key,))
                        for port in spec.ports if port.key in taken)
        if not kept:
            continue
        if not members:
            first_traits = spec_traits
        taken.update((port.key, spec.service) for port in kept)
        members.append(spec if len(kept) == len(spec.ports) else dataclasses.replace(spec, ports=kept))
    return Assignment(tuple(members), tuple(refusals))
