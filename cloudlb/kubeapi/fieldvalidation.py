"""Server-side field validation (``?fieldValidation=Strict|Warn|Ignore``): unknown and duplicate fields.

The real server decodes bodies strictly: a field its schema does not declare, or a
key given twice, is reported as ``unknown field "spec.foo"`` / ``duplicate field
"metadata.name"`` (the paths of sigs.k8s.io/json). ``Strict`` (kubectl's default
since 1.27) turns them into a 400, ``Warn`` (the server's default) into Warning
headers, ``Ignore`` drops them silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from cloudlb.kubeapi import errors
from cloudlb.kubeapi.schemas import UNTYPED, Node

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
DIRECTIVES = (STRICT, WARN, IGNORE)


def directive(value: str | None) -> str:
    """The request's directive; the server's default is Warn."""
    if value in (None, ""):
        return WARN
    if value not in DIRECTIVES:
        raise errors.bad_request(f"fieldValidation parameter unsupported: {value}")
    return value


@dataclass
class Decoded:
    """A decoded body and the strict-decoding problems found on the way."""

    value: Any
    problems: list[str] = field(default_factory=list)


class _Pairs(list[tuple[str, Any]]):
    """An object's key/value pairs as read, before duplicates are resolved (last one wins, as in Go)."""


def _resolve(value: Any, path: str, problems: list[str]) -> Any:
    if isinstance(value, _Pairs):
        result: dict[str, Any] = {}
        for key, child in value:
            child_path = f"{path}.{key}" if path else key
            if key in result:
                problems.append(f'duplicate field "{child_path}"')
            result[key] = _resolve(child, child_path, problems)
        return result
    if isinstance(value, list):
        return [_resolve(item, f"{path}[{index}]", problems) for index, item in enumerate(value)]
    return value


def decode_json(body: bytes) -> Decoded:
    try:
        raw = json.loads(body or b"null", object_pairs_hook=_Pairs)
    except ValueError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from exc
    decoded = Decoded(None)
    decoded.value = _resolve(raw, "", decoded.problems)
    return decoded


class _PairsLoader(yaml.SafeLoader):
    """A YAML loader that keeps duplicate keys for :func:`_resolve` to report."""


def _construct_pairs(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Pairs:
    loader.flatten_mapping(node)
    return _Pairs((loader.construct_object(key, deep=True), loader.construct_object(value, deep=True))
                  for key, value in node.value)


_PairsLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_pairs)


def decode_yaml(body: bytes) -> Decoded:
    try:
        raw = yaml.load(body.decode("utf-8"), Loader=_PairsLoader) if body else None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from exc
    decoded = Decoded(None)
    decoded.value = _resolve(raw, "", decoded.problems)
    return decoded


def unknown_fields(obj: Any, schema: Node) -> list[str]:
    """``unknown field "<path>"`` for every field the schema does not declare."""
    found: list[str] = []
    _walk(obj, schema, "", found)
    return [f'unknown field "{path}"' for path in found]


def _walk(value: Any, node: Node, path: str, found: list[str]) -> None:
    shape = node.shape
    if shape == "struct" and isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else key
            child_node = node.field(key)
            if child_node is None:
                found.append(child_path)
            else:
                _walk(child, child_node, child_path, found)
    elif shape == "map" and isinstance(value, dict):
        for key, child in value.items():
            _walk(child, node.element(), f"{path}.{key}", found)
    elif shape == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, node.element(), f"{path}[{index}]", found)


def drop_unknown_fields(obj: Any, schema: Node) -> Any:
    """A copy without the undeclared fields (what Ignore and Warn store, as the real decoder drops them)."""
    shape = schema.shape
    if shape == "struct" and isinstance(obj, dict):
        # Patch directives ($patch, $setElementOrder/...) are not fields: they stay.
        return {key: drop_unknown_fields(child, schema.field(key) or UNTYPED)
                for key, child in obj.items() if key.startswith("$") or schema.field(key) is not None}
    if shape == "map" and isinstance(obj, dict):
        return {key: drop_unknown_fields(child, schema.element()) for key, child in obj.items()}
    if shape == "list" and isinstance(obj, list):
        return [drop_unknown_fields(item, schema.element()) for item in obj]
    return obj


def enforce(problems: list[str], directive_value: str, warnings: list[str], prefix: str) -> None:
    """Strict: 400 with every problem; Warn: one Warning each; Ignore: nothing."""
    if not problems or directive_value == IGNORE:
        return
    if directive_value == STRICT:
        raise errors.bad_request(f"{prefix}strict decoding error: {', '.join(problems)}")
    warnings.extend(problems)
