"""Field sets in the ``FieldsV1`` form of ``metadata.managedFields``, computed from objects by schema.

A path is a tuple of FieldsV1 keys: ``f:<field>`` for a struct field or map key,
``k:{"port":80,"protocol":"TCP"}`` for an item of a list keyed by fields, ``v:<json>``
for an item of a set. As upstream (structured-merge-diff) does, a struct is not a
member by itself, while maps, lists and keyed list items are (``.`` in FieldsV1),
so that owning ``metadata.labels`` is different from owning one label.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from cloudlb.kubeapi.schemas import UNTYPED, Node

Path = tuple[str, ...]
FieldSet = frozenset[Path]

# Map keys with an upstream default (`+default="TCP"` on ServicePort, ContainerPort and EndpointPort
# protocol): an applied item without the key is the same item as the stored, defaulted one.
_MAP_KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}

# Written by the server, never owned by a manager.
_SERVER_METADATA = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                              "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink",
                              "generateName"})


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def item_key(item: Any, keys: tuple[str, ...]) -> str:
    """The ``k:`` key of a keyed list item (its key fields, defaults filled in, sorted by name)."""
    fields = {key: item.get(key, _MAP_KEY_DEFAULTS.get(key)) for key in keys} if isinstance(item, dict) else {}
    return "k:" + _compact({key: value for key, value in fields.items() if value is not None})


def _member(value: Any, node: Node, path: Path, out: set[Path]) -> None:
    shape = node.shape
    if shape == "struct" and isinstance(value, dict):
        if not value:
            out.add(path)
        _struct_fields(value, node, path, out)
    elif shape in ("map", "untyped") and isinstance(value, dict):
        out.add(path)
        for key, child in value.items():
            _member(child, node.element(), (*path, f"f:{key}"), out)
    elif shape == "list" and isinstance(value, list):
        out.add(path)
        _list_items(value, node, path, out)
    else:
        out.add(path)


def _struct_fields(value: dict[str, Any], node: Node, path: Path, out: set[Path]) -> None:
    for key, child in value.items():
        _member(child, node.field(key) or UNTYPED, (*path, f"f:{key}"), out)


def _list_items(items: list[Any], node: Node, path: Path, out: set[Path]) -> None:
    if node.list_type == "set":
        out.update((*path, f"v:{_compact(item)}") for item in items)
    elif node.list_type == "map":
        element = node.element()
        for item in items:
            item_path = (*path, item_key(item, node.map_keys))
            out.add(item_path)
            if isinstance(item, dict):
                _struct_fields(item, element, item_path, out)


def of_object(obj: dict[str, Any], schema: Node, part: str | None) -> FieldSet:
    """The fields an object sets; ``part`` "status" keeps only the status, None everything but the status."""
    out: set[Path] = set()
    trimmed = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind")}
    metadata = trimmed.get("metadata")
    if isinstance(metadata, dict):
        trimmed["metadata"] = {key: value for key, value in metadata.items() if key not in _SERVER_METADATA}
        if not trimmed["metadata"]:
            del trimmed["metadata"]
    if part == "status":
        trimmed = {"status": trimmed["status"]} if "status" in trimmed else {}
    else:
        trimmed.pop("status", None)
    _struct_fields(trimmed, schema, (), out)
    return frozenset(out)


def changed(old: dict[str, Any] | None, new: dict[str, Any], schema: Node, part: str | None) -> FieldSet:
    """Fields ``new`` sets that ``old`` did not set or set to another value (what an update takes over)."""
    new_fields = of_object(new, schema, part)
    if old is None:
        return new_fields
    old_fields = of_object(old, schema, part)
    return frozenset(path for path in new_fields
                     if path not in old_fields or (is_leaf(path, new_fields) and value_at(old, path) != value_at(
                         new, path)))


def is_leaf(path: Path, fields: FieldSet) -> bool:
    return not any(len(other) > len(path) and other[:len(path)] == path for other in fields)


# --- FieldsV1 <-> sets ---------------------------------------------------------------------------

def to_fields_v1(fields: Iterable[Path]) -> dict[str, Any]:
    members = set(fields)
    tree: dict[str, Any] = {}
    for path in sorted(members):
        node = tree
        for key in path:
            node = node.setdefault(key, {})
    _mark_members(tree, (), members)
    return tree


def _mark_members(node: dict[str, Any], path: Path, members: set[Path]) -> None:
    """A node that has children and is itself a member carries ``"."`` (first, as the real server writes it)."""
    for key, child in node.items():
        child_path = (*path, key)
        if child:
            _mark_members(child, child_path, members)
            if child_path in members:
                children = dict(child)
                child.clear()
                child["."] = {}
                child.update(children)


def from_fields_v1(tree: Any, prefix: Path = ()) -> FieldSet:
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return frozenset()
    for key, child in tree.items():
        if key == ".":
            out.add(prefix)
            continue
        path = (*prefix, key)
        if isinstance(child, dict) and child:
            out.update(from_fields_v1(child, path))
        else:
            out.add(path)
    return frozenset(out)


def describe(path: Path) -> str:
    """``.spec.ports[port=80,protocol="TCP"].targetPort``, the form conflicts are reported in."""
    parts = []
    for key in path:
        kind, _, rest = key.partition(":")
        if kind == "f":
            parts.append(f".{rest}")
        elif kind == "k":
            fields = json.loads(rest)
            parts.append("[" + ",".join(f"{name}={json.dumps(value)}" for name, value in fields.items()) + "]")
        elif kind == "v":
            parts.append(f"[={rest}]")
        else:
            parts.append(f"[{rest}]")
    return "".join(parts)


# --- reading and editing objects by path -----------------------------------------------------------

_MISSING = object()


def _step(container: Any, key: str) -> tuple[Any, Any]:
    """(index or key into ``container``, the value there) for one path key, or (None, _MISSING)."""
    kind, _, rest = key.partition(":")
    if kind == "f" and isinstance(container, dict):
        return (rest, container[rest]) if rest in container else (None, _MISSING)
    if kind in ("k", "v") and isinstance(container, list):
        wanted = json.loads(rest)
        for index, item in enumerate(container):
            if kind == "v" and item == wanted:
                return index, item
            if kind == "k" and isinstance(item, dict) and all(
                    item.get(name, _MAP_KEY_DEFAULTS.get(name)) == value for name, value in wanted.items()):
                return index, item
    return None, _MISSING


def value_at(obj: Any, path: Path) -> Any:
    node = obj
    for key in path:
        _, node = _step(node, key)
        if node is _MISSING:
            return None
    return node


def remove(obj: dict[str, Any], path: Path) -> None:
    """Remove the field or list item at ``path``, if it is there."""
    node: Any = obj
    for key in path[:-1]:
        _, node = _step(node, key)
        if node is _MISSING:
            return
    index, _ = _step(node, path[-1])
    if index is not None:
        del node[index]


def merge(live: Any, applied: Any, node: Node) -> Any:
    """The applied configuration merged over the live object, lists merged as their schema says."""
    shape = node.shape
    if isinstance(live, dict) and isinstance(applied, dict) and shape in ("struct", "map", "untyped"):
        merged = dict(live)
        for key, value in applied.items():
            child = (node.field(key) or UNTYPED) if shape == "struct" else node.element()
            merged[key] = merge(live[key], value, child) if key in live else copy.deepcopy(value)
        return merged
    if isinstance(live, list) and isinstance(applied, list) and shape == "list":
        if node.list_type == "set":
            return list(live) + [copy.deepcopy(item) for item in applied if item not in live]
        if node.list_type == "map":
            keys = node.map_keys
            merged_items = [copy.deepcopy(item) for item in live]
            positions = {item_key(item, keys): index for index, item in enumerate(merged_items)}
            for item in applied:
                position = positions.get(item_key(item, keys))
                if position is None:
                    merged_items.append(copy.deepcopy(item))
                else:
                    merged_items[position] = merge(merged_items[position], item, node.element())
            return merged_items
    return copy.deepcopy(applied)
