"""The three patch formats of the Kubernetes API, applied to plain JSON objects.

* JSON merge patch (RFC 7386): dicts merge, ``null`` deletes, lists are replaced.
* Strategic merge patch: a merge patch where lists of objects with a known merge
  key (``ports`` by ``port``, ``conditions`` by ``type``...) are merged item by item,
  plus the directives ``kubectl apply`` sends (``$patch``, ``$setElementOrder/…``,
  ``$retainKeys``, ``$deleteFromPrimitiveList/…``). Lists of scalars, finalizers
  included, are replaced as a whole.
* JSON patch (RFC 6902) with ``test``; a failed test is the optimistic-concurrency
  signal kopf relies on.
"""

from __future__ import annotations

import copy
from typing import Any

from cloudlb.kubeapi.errors import ApiError, unsupported_media_type

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# Merge keys of the lists our resources carry (from the Kubernetes Go types' patchMergeKey).
_MERGE_KEYS: dict[str, str] = {
    "ports": "port",
    "conditions": "type",
    "addresses": "type",
    "taints": "key",
    "ownerReferences": "uid",
    "containers": "name",
    "volumes": "name",
    "env": "name",
    "images": "names",
}


class PatchFailed(ApiError):
    """A patch that cannot be applied: 422, as the real server answers."""

    def __init__(self, message: str) -> None:
        super().__init__(422, "Invalid", message)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: apply a JSON merge patch and return the new document."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch for the subset of list strategies our objects use."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    retain_keys = patch.get("$retainKeys")
    order_directives: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            order_directives[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [item for item in result[name] if item not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    for name, order in order_directives.items():
        if isinstance(result.get(name), list):
            result[name] = _reorder(result[name], order, _MERGE_KEYS.get(name))
    if isinstance(retain_keys, list):
        result = {k: v for k, v in result.items() if k in retain_keys}
    return result


def _merge_list(current: Any, patch: list[Any], field_name: str) -> list[Any]:
    merge_key = _MERGE_KEYS.get(field_name)
    objects_only = all(isinstance(item, dict) for item in patch)
    if merge_key is None or not objects_only or not isinstance(current, list):
        return [
            strategic_merge_patch(None, item) if isinstance(item, dict) else copy.deepcopy(item)
            for item in patch
            if not (isinstance(item, dict) and item.get("$patch") == "delete")
        ]
    if any(item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy({k: v for k, v in item.items() if k != "$patch"})
                for item in patch if item.get("$patch") != "replace"]
    merged = [copy.deepcopy(item) for item in current]
    for item in patch:
        position = next((i for i, old in enumerate(merged)
                         if isinstance(old, dict) and old.get(merge_key) == item.get(merge_key)), None)
        if item.get("$patch") == "delete":
            if position is not None:
                merged.pop(position)
        elif position is None:
            merged.append(strategic_merge_patch(None, item))
        else:
            merged[position] = strategic_merge_patch(merged[position], item)
    return merged


def _reorder(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    """Follow ``$setElementOrder``: listed items first in the given order, the rest after."""
    def identity(item: Any) -> Any:
        return item.get(merge_key) if merge_key and isinstance(item, dict) else item

    wanted = [identity(entry) for entry in order]
    ranked = sorted(items, key=lambda item: wanted.index(identity(item)) if identity(item) in wanted
                    else len(wanted))
    return ranked


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902: apply a list of operations; any failure (including ``test``) is a 422."""
    if not isinstance(operations, list):
        raise PatchFailed("json patch must be a list of operations")
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchFailed(f"invalid json patch operation: {operation!r}")
        result = _apply_operation(result, operation)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchFailed(f"invalid json pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _existing_key(node: Any, token: str) -> str | int | None:
    """The key or index ``token`` names in ``node``, or None when it names nothing there."""
    if isinstance(node, dict) and token in node:
        return token
    if isinstance(node, list) and token.isascii() and token.isdigit() and int(token) < len(node):
        return int(token)
    return None


def _resolve_parent(document: Any, tokens: list[str], path: str) -> Any:
    node = document
    for token in tokens[:-1]:
        key = _existing_key(node, token)
        if key is None:
            raise PatchFailed(f"doc is missing path: {path!r}")
        node = node[key]
    return node


def _get(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return document
    parent = _resolve_parent(document, tokens, path)
    key = _existing_key(parent, tokens[-1])
    if key is None:
        raise PatchFailed(f"doc is missing path: {path!r}")
    return parent[key]


def _remove(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    parent = _resolve_parent(document, tokens, path)
    key = _existing_key(parent, tokens[-1] if tokens else "")
    if key is None:
        raise PatchFailed(f"unable to remove nonexistent key: {path!r}")
    return parent.pop(key)


def _add(document: Any, path: str, value: Any, replace: bool) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return copy.deepcopy(value)
    parent = _resolve_parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchFailed(f"replace operation does not apply: doc is missing key: {path!r}")
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(copy.deepcopy(value))
        elif last.isascii() and last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = copy.deepcopy(value)
            else:
                parent.insert(int(last), copy.deepcopy(value))
        else:
            raise PatchFailed(f"index out of range: {path!r}")
    else:
        raise PatchFailed(f"doc is missing path: {path!r}")
    return document


def _apply_operation(document: Any, operation: dict[str, Any]) -> Any:
    op, path = operation["op"], operation["path"]
    if op == "test":
        if _get(document, path) != operation.get("value"):
            raise PatchFailed(f"the server rejected our request due to an error in our request: "
                              f"testing value {path} failed")
        return document
    if op == "add":
        return _add(document, path, operation.get("value"), replace=False)
    if op == "replace":
        return _add(document, path, operation.get("value"), replace=True)
    if op == "remove":
        _remove(document, path)
        return document
    if op in ("move", "copy"):
        source = operation.get("from")
        if not isinstance(source, str):
            raise PatchFailed(f"{op} operation needs 'from'")
        value = _remove(document, source) if op == "move" else copy.deepcopy(_get(document, source))
        return _add(document, path, value, replace=False)
    raise PatchFailed(f"unexpected json patch operation: {op!r}")


def apply(document: dict[str, Any], content_type: str, patch: Any) -> dict[str, Any]:
    """Apply a patch of the given Content-Type to a copy of ``document``."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == MERGE_PATCH:
        result = merge_patch(copy.deepcopy(document), patch)
    elif media == STRATEGIC_MERGE_PATCH:
        result = strategic_merge_patch(copy.deepcopy(document), patch)
    elif media == JSON_PATCH:
        result = json_patch(document, patch)
    else:
        raise unsupported_media_type((JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH))
    if not isinstance(result, dict):
        raise PatchFailed("the patched object is not a JSON object")
    return result
