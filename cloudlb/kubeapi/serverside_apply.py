"""Server-side apply (``PATCH`` with ``application/apply-patch+yaml``): merge, ownership and conflicts.

The applier owns exactly the fields of its configuration. A field another manager
owns with a different value is a conflict (409, one cause per field) unless the
request says ``force=true``, which moves the field to the applier. Fields the
applier set last time and no longer sets are removed, unless someone else owns
them too. Lists merge as their schema says: keyed lists by key, sets by value,
everything else as a whole.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import yaml

from cloudlb.kubeapi import errors, fieldsets, managedfields
from cloudlb.kubeapi.errors import ApiError
from cloudlb.kubeapi.fieldsets import FieldSet, Path
from cloudlb.kubeapi.managedfields import Manager
from cloudlb.kubeapi.schemas import Node

APPLY_PATCH = "application/apply-patch+yaml"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# The manager kubectl applies as; only it inherits what its client-side apply annotation recorded.
KUBECTL = "kubectl"


def parse_configuration(body: bytes) -> dict[str, Any]:
    """The applied configuration (YAML, which includes JSON)."""
    try:
        document = yaml.safe_load(body.decode("utf-8")) if body else None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise errors.bad_request("the applied configuration must be an object")
    return document


@dataclass(frozen=True)
class Applied:
    """The merged object and the managedFields after the apply."""

    obj: dict[str, Any]
    managed_fields: list[dict[str, Any]]


def conflict_error(conflicts: list[tuple[Manager, Path]]) -> ApiError:
    """409 Conflict in the apiserver's words (``Apply failed with N conflicts: ...``)."""
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {manager.described()}: {fieldsets.describe(path)}"
    else:
        lines: list[str] = []
        for described in sorted({manager.described() for manager, _ in conflicts}):
            lines.append(f"conflicts with {described}:")
            lines += [f"- {fieldsets.describe(path)}" for manager, path in conflicts
                      if manager.described() == described]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {manager.described()}",
               "field": fieldsets.describe(path)} for manager, path in conflicts]
    return ApiError(409, "Conflict", message, {"causes": causes})


def _upgrading_from_client_side_apply(live: dict[str, Any], conflicts: list[tuple[Manager, Path]], schema: Node,
                                      manager: Manager) -> bool:
    """kubectl moving from client- to server-side apply takes the fields its annotation lists, without a conflict.

    The apiserver's lastAppliedManager does this for the ``kubectl`` manager only: conflicts on fields the
    ``last-applied-configuration`` annotation records become a forced apply.
    """
    if manager.name != KUBECTL or manager.operation != managedfields.APPLY:
        return False
    annotation = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        last_applied = json.loads(annotation) if isinstance(annotation, str) else None
    except ValueError:
        return False
    if not isinstance(last_applied, dict):
        return False
    allowed = fieldsets.of_object(last_applied, schema, None)
    return all(path in allowed for _, path in conflicts)


def apply(live: dict[str, Any] | None, configuration: dict[str, Any], schema: Node, manager: Manager,
          force: bool) -> Applied:
    """Apply ``configuration`` as ``manager`` over ``live`` (None: the object does not exist yet)."""
    part = "status" if manager.subresource == "status" else None
    applied_fields = fieldsets.of_object(configuration, schema, part)
    base = copy.deepcopy(live) if live is not None else {}
    entries: list[dict[str, Any]] = list((base.get("metadata") or {}).get("managedFields") or [])
    ownership = managedfields.owned(entries)
    conflicts = [
        (other, path)
        for other, fields in ownership if other != manager
        for path in sorted(fields & applied_fields)
        if fieldsets.is_leaf(path, applied_fields)
        and fieldsets.value_at(base, path) != fieldsets.value_at(configuration, path)
    ]
    if conflicts and not force and not _upgrading_from_client_side_apply(base, conflicts, schema, manager):
        raise conflict_error(conflicts)
    taken = frozenset(path for _, path in conflicts)
    previous: FieldSet = frozenset().union(*(fields for other, fields in ownership if other == manager))
    kept_by_others: FieldSet = frozenset().union(*(fields - taken for other, fields in ownership if other != manager))
    merged = fieldsets.merge(base, configuration, schema)
    for path in sorted(previous - applied_fields - kept_by_others, key=len, reverse=True):
        fieldsets.remove(merged, path)
    new_ownership = [(other, fields - taken) for other, fields in ownership if other != manager]
    new_ownership.append((manager, applied_fields))
    return Applied(merged, managedfields.rebuilt(new_ownership, entries))
