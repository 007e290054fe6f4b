"""The emulator's resources, keyed by path, with the lookups the validation rules need.

Resources are indexed by collection, so that a check or a list touches one
collection rather than everything stored: a benchmark at 1,000 load balancers
holds ~7,000 resources, and the emulator's own speed must not be what is measured.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cloudlb_gcp.emulator.errors import ApiError, not_found
from cloudlb_gcp.emulator.paths import ResourcePath, parse_reference


def _ips_of(collection: str, resource: Any) -> tuple[str, ...]:
    """The IPs a resource holds (an address, a rule, an instance's interfaces), without a ``/96`` suffix."""
    if collection == "addresses":
        texts = [resource.address]
    elif collection == "forwardingRules":
        texts = [resource.I_p_address]
    elif collection == "instances":
        texts = [nic.network_i_p for nic in resource.network_interfaces]
    else:
        return ()
    return tuple(text.split("/", 1)[0] for text in texts if text)


def _links_of(collection: str, resource: Any) -> list[str]:
    """The references that make a resource a user of another: a rule's backend service, a backend service's
    health checks and instance groups."""
    if collection == "forwardingRules":
        return [resource.backend_service]
    if collection == "backendServices":
        return [*resource.health_checks, *(backend.group for backend in resource.backends)]
    return []


@dataclass
class Store:
    project: str
    _collections: defaultdict[str, dict[ResourcePath, Any]] = field(default_factory=lambda: defaultdict(dict))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    # Who holds each IP: finding it costs the same with 10 or 10,000 resources (not a scan of proto-plus messages).
    _holders: defaultdict[str, set[ResourcePath]] = field(default_factory=lambda: defaultdict(set))
    _ips: dict[ResourcePath, tuple[str, ...]] = field(default_factory=dict)
    # Who references each resource (the API refuses to delete what is in use): the same, without a scan.
    _users: defaultdict[ResourcePath, set[ResourcePath]] = field(default_factory=lambda: defaultdict(set))
    _uses: dict[ResourcePath, tuple[ResourcePath, ...]] = field(default_factory=dict)

    def next_id(self) -> int:
        return next(self._ids)

    def get(self, path: ResourcePath) -> Any:
        try:
            return self._collections[path.collection][path]
        except KeyError:
            raise not_found(path.relative) from None

    def find(self, path: ResourcePath) -> Any | None:
        return self._collections[path.collection].get(path)

    def resolve(self, link: str, collection: str) -> tuple[ResourcePath, Any]:
        """The resource a reference names; 404 when it does not exist, 400 when it names another collection."""
        path = parse_reference(link, self.project)
        if path.collection != collection:
            raise not_found(link)
        return path, self.get(path)

    def put(self, path: ResourcePath, resource: Any) -> None:
        """Store ``resource`` (the IPs it holds must not change until it is put again or removed)."""
        self._collections[path.collection][path] = resource
        self._unindex(path)
        if ips := _ips_of(path.collection, resource):
            self._ips[path] = ips
            for ip in ips:
                self._holders[ip].add(path)
        if uses := tuple(self._referenced(_links_of(path.collection, resource))):
            self._uses[path] = uses
            for used in uses:
                self._users[used].add(path)

    def _referenced(self, links: list[str]) -> Iterator[ResourcePath]:
        for link in links:
            try:
                yield parse_reference(link, self.project)
            except ApiError:
                continue

    def remove(self, path: ResourcePath) -> None:
        del self._collections[path.collection][path]
        self._unindex(path)

    def _unindex(self, path: ResourcePath) -> None:
        for ip in self._ips.pop(path, ()):
            self._holders[ip].discard(path)
            if not self._holders[ip]:
                del self._holders[ip]
        for used in self._uses.pop(path, ()):
            self._users[used].discard(path)
            if not self._users[used]:
                del self._users[used]

    def users(self, path: ResourcePath) -> list[tuple[ResourcePath, Any]]:
        """The resources that reference ``path`` (rules their backend service, backend services their health
        checks and groups), by path."""
        return [(user, self._collections[user.collection][user]) for user in sorted(self._users.get(path, ()))]

    def holders(self, ip: str, collection: str) -> list[tuple[ResourcePath, Any]]:
        """The resources of ``collection`` that hold ``ip`` (given without a ``/96`` suffix), by path."""
        found = sorted(path for path in self._holders.get(ip, ()) if path.collection == collection)
        return [(path, self._collections[collection][path]) for path in found]

    def ip_used(self, ip: str) -> bool:
        return ip in self._holders

    def used_ips(self) -> list[str]:
        return list(self._holders)

    def items(self, collection: str, scope: str | None = None, location: str | None = None,
              ) -> Iterator[tuple[ResourcePath, Any]]:
        """One collection's resources in the API's order (by name within a scope), optionally of one scope."""
        for path, resource in sorted(self._collections[collection].items(), key=lambda item: item[0]):
            if scope is not None and path.scope != scope:
                continue
            if location is not None and path.location != location:
                continue
            yield path, resource

    def all_paths(self) -> list[ResourcePath]:
        return sorted(path for collection in self._collections.values() for path in collection)
