"""Parsing of Kubernetes API URLs into what they address.

kmock's own parser reads ``/api/v1/namespaces/default`` as "namespace default,
no resource"; the real server reads it as "the Namespace named default". This
parser follows the real server's routing.
"""

from __future__ import annotations

from dataclasses import dataclass

# Subresources of a Namespace, which otherwise look like a resource inside it.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class ResourcePath:
    """A URL that addresses a resource collection, one object, or its subresource."""

    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


@dataclass(frozen=True)
class DiscoveryPath:
    """A discovery URL: ``/api``, ``/apis``, ``/apis/<group>``, ``/api/v1``, ``/apis/<g>/<v>``."""

    group: str | None  # None for the /api and /apis roots
    version: str | None
    legacy: bool  # True for the core /api tree


def parse(path: str) -> ResourcePath | DiscoveryPath | None:
    """Parse a URL path, or return None if it is not part of the resource API."""
    parts = [part for part in path.split("/") if part]
    if not parts or parts[0] not in ("api", "apis"):
        return None
    if parts[0] == "api":
        if len(parts) == 1:
            return DiscoveryPath(group=None, version=None, legacy=True)
        group, version, rest = "", parts[1], parts[2:]
        if not rest:
            return DiscoveryPath(group="", version=version, legacy=True)
    else:
        if len(parts) == 1:
            return DiscoveryPath(group=None, version=None, legacy=False)
        if len(parts) == 2:
            return DiscoveryPath(group=parts[1], version=None, legacy=False)
        group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            return DiscoveryPath(group=group, version=version, legacy=False)
    return _parse_resource(group, version, rest)


def _parse_resource(group: str, version: str, rest: list[str]) -> ResourcePath | None:
    namespace: str | None = None
    is_namespace_object = group == "" and rest[0] == "namespaces" and (
        len(rest) <= 2 or (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    )
    if rest[0] == "namespaces" and not is_namespace_object:
        if len(rest) < 3:
            return None
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    return ResourcePath(group, version, plural, namespace, name, subresource)
