"""``metadata.labels`` and ``metadata.annotations``: Go ``map[string]string``, as the real server decodes them.

Every write reaches the real server's storage only through Go's JSON decoder into ``ObjectMeta``, so:

- a value that is not a JSON object (a list, a string, a number...), or a map holding anything but strings,
  fails to decode: a 400 before any validation, whatever the server's version (``check``);
- ``null`` decodes to a nil map and a ``null`` entry to ``""``; both fields are ``omitempty``, so a nil or
  empty map is not in the stored object at all (``normalise``).

The helpers (``EmulatedKubernetes.create``...) go through the same two steps: no API server, old or new, can
hold a non-map there, so no test can plant one.
"""

from __future__ import annotations

from typing import Any

from cloudlb.kubeapi import errors
from cloudlb.kubeapi.resources import ResourceType

FIELDS = ("labels", "annotations")
_GO_KINDS = {list: "array", str: "string", bool: "bool", int: "number", float: "number"}


def check(body: Any, resource: ResourceType) -> None:
    """A 400 in the Go decoder's words when ``body``'s labels or annotations are not maps of strings (or nulls)."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    if not isinstance(metadata, dict):
        return
    for field in FIELDS:
        value = metadata.get(field)
        if value is None:
            continue
        if not isinstance(value, dict):
            found = _GO_KINDS.get(type(value), "object")
        else:
            wrong = next((item for item in value.values() if item is not None and not isinstance(item, str)), None)
            if wrong is None:
                continue
            found = _GO_KINDS.get(type(wrong), "object")
        raise errors.bad_request(
            f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: json: cannot '
            f"unmarshal {found} into Go struct field ObjectMeta.metadata.{field} of type "
            f"{'map[string]string' if not isinstance(value, dict) else 'string'}")


def normalise(metadata: dict[str, Any]) -> None:
    """What a checked ``metadata`` holds once decoded and encoded again: no null or empty map, no null entry."""
    for field in FIELDS:
        value = metadata.get(field)
        if not value:
            metadata.pop(field, None)
        elif isinstance(value, dict):
            metadata[field] = {key: "" if item is None else item for key, item in value.items()}
