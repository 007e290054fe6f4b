"""The real server's first step on a typed kind: decoding JSON into its Go struct, where a wrong type fails.

``"externalTrafficPolicy": {"a": 1}``, ``"port": "80"``, ``"ports": "x"`` or ``"port": 1.5`` never reach
validation on a real server: ``json.Unmarshal`` refuses them (a 400 on create or update, a 422 naming
``patch`` when a patch produced them), whatever the server's version, so no cluster can hold such an object.
``null`` decodes anywhere (to the zero value). Untyped kinds (kopf's peering CRDs) take anything.
"""

from __future__ import annotations

from typing import Any

from cloudlb.kubeapi.schemas import Node

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def type_error(obj: Any, schema: Node) -> str | None:
    """The Go decoder's message for the first value of the wrong type in ``obj``, or None."""
    return _walk(obj, schema, "")


def _walk(value: Any, node: Node, path: str) -> str | None:
    if value is None:
        return None
    shape = node.shape
    if shape == "untyped":
        return None
    if shape == "struct":
        if not isinstance(value, dict):
            return _refused(_kind(value), path, "struct")
        for key, child in value.items():
            child_node = node.field(key)
            if child_node is not None:  # an unknown field is field validation's business, not a type error
                found = _walk(child, child_node, f"{path}.{key}" if path else key)
                if found:
                    return found
        return None
    if shape in ("map", "list"):
        wanted = dict if shape == "map" else list
        if not isinstance(value, wanted):
            return _refused(_kind(value), path, "map[string]" + _go_type(node.element()) if shape == "map"
                            else "[]" + _go_type(node.element()))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            found = _walk(child, node.element(), f"{path}.{key}" if shape == "map" else f"{path}[{key}]")
            if found:
                return found
        return None
    return _scalar(value, node, path)


def _scalar(value: Any, node: Node, path: str) -> str | None:
    raw = node.raw or {}
    alternatives = raw.get("oneOf")
    types = _types(raw) if not alternatives else {t for option in alternatives for t in _types(option)}
    if isinstance(value, bool):
        return None if "boolean" in types else _refused("bool", path, _go_type(node))
    if isinstance(value, str):
        return None if "string" in types else _refused("string", path, _go_type(node))
    if isinstance(value, int | float):
        if "number" in types:
            return None
        if "integer" in types:
            low, high = _INT_RANGES.get(str(raw.get("format")), _INT_RANGES["int64"])
            if isinstance(value, int) and low <= value <= high:
                return None
            return _refused(f"number {value}", path, _go_type(node))
        return _refused("number", path, _go_type(node))
    return _refused(_kind(value), path, _go_type(node))


def _types(raw: dict[str, Any]) -> set[str]:
    types = raw.get("type")
    return {types} if isinstance(types, str) else set(types or ())


def _go_type(node: Node) -> str:
    raw = node.raw or {}
    if raw.get("oneOf"):
        return "intstr.IntOrString" if {"string", "integer"} <= {t for o in raw["oneOf"] for t in _types(o)} \
            else "resource.Quantity"
    shape = node.shape
    if shape == "struct":
        return "struct"
    if shape == "map":
        return "map[string]" + _go_type(node.element())
    if shape == "list":
        return "[]" + _go_type(node.element())
    types = _types(raw)
    if "integer" in types:
        return str(raw.get("format") or "int64")
    if "number" in types:
        return "float64"
    if "boolean" in types:
        return "bool"
    return "string" if "string" in types else "interface {}"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    return "number"


def _refused(found: str, path: str, go_type: str) -> str:
    return f"json: cannot unmarshal {found} into Go struct field {path} of type {go_type}"
