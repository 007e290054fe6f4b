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

from cloudlb_gcp.emulator.errors import not_found
from cloudlb_gcp.emulator.paths import ResourcePath, parse_reference


@dataclass
class Store:
    project: str
    _collections: defaultdict[str, dict[ResourcePath, Any]] = field(default_factory=lambda: defaultdict(dict))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

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
        self._collections[path.collection][path] = resource

    def remove(self, path: ResourcePath) -> None:
        del self._collections[path.collection][path]

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
