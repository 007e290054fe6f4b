"""Walking the bundled Kubernetes schemas: what shape a field has and how its lists merge.

Field validation, server-side apply and the OpenAPI documents all ask the same
questions of a schema (is this a struct, a map, a list keyed by what?), so the
answers live here once. A kind without a bundled schema (kopf's peering CRDs)
is untyped: every field is accepted, maps are maps and lists are atomic, as for
a CRD with ``x-kubernetes-preserve-unknown-fields``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from cloudlb.kubeapi.schema_bundle import definitions

Shape = Literal["struct", "map", "list", "scalar", "untyped"]
ListType = Literal["atomic", "set", "map"]


@dataclass(frozen=True)
class Node:
    """One schema position; ``raw`` is None for an untyped position."""

    raw: dict[str, Any] | None

    @property
    def shape(self) -> Shape:
        raw = self.raw
        if raw is None:
            return "untyped"
        if "oneOf" in raw:  # IntOrString, Quantity: one scalar of either type
            return "scalar"
        types = raw.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        if "array" in types:
            return "list"
        if "object" in types or "properties" in raw:
            if "properties" in raw:
                return "struct"
            if "additionalProperties" in raw:
                return "map"
            return "untyped"  # RawExtension, FieldsV1: any JSON object, owned as a whole
        return "scalar"

    def field(self, name: str) -> Node | None:
        """The schema of a struct's field, None if the struct does not declare it."""
        if self.raw is None:
            return UNTYPED
        properties = self.raw.get("properties") or {}
        if name not in properties:
            return None
        return resolve(properties[name])

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple((self.raw or {}).get("properties") or {})

    def element(self) -> Node:
        """The schema of a map's values or a list's items."""
        if self.raw is None:
            return UNTYPED
        if self.shape == "map":
            return resolve(self.raw["additionalProperties"])
        items = self.raw.get("items")
        return resolve(items) if isinstance(items, dict) else UNTYPED

    @property
    def list_type(self) -> ListType:
        """How server-side apply merges this list (absent means atomic, as upstream treats it)."""
        value = (self.raw or {}).get("x-kubernetes-list-type")
        return value if value in ("set", "map") else "atomic"

    @property
    def map_keys(self) -> tuple[str, ...]:
        return tuple((self.raw or {}).get("x-kubernetes-list-map-keys") or ())

    @property
    def required(self) -> tuple[str, ...]:
        return tuple((self.raw or {}).get("required") or ())


UNTYPED = Node(None)


def resolve(schema: dict[str, Any]) -> Node:
    """Follow a ``$ref`` (the bundle's ``#/$defs/<name>``) to the definition it names."""
    reference = schema.get("$ref")
    if isinstance(reference, str):
        return Node(definitions()[reference.rsplit("/", 1)[-1]])
    return Node(schema)


@functools.cache
def definition_names_by_kind() -> dict[tuple[str, str, str], str]:
    """(group, version, kind) -> definition name, from each definition's x-kubernetes-group-version-kind."""
    found: dict[tuple[str, str, str], str] = {}
    for name, definition in definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind") or ():
            found.setdefault((gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")), name)
    return found


def for_kind(group: str, version: str, kind: str) -> Node:
    """The root schema of a kind, or the untyped node if none is bundled."""
    name = definition_names_by_kind().get((group, version, kind))
    return Node(definitions()[name]) if name else UNTYPED
