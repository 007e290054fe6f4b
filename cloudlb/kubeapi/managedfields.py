"""``metadata.managedFields``: who set which field, kept by every write as the real server keeps it.

An *Update* (create, PUT, merge/strategic/JSON patch) takes ownership of the fields
it changed, without conflicts, from whoever had them. An *Apply* (server-side apply)
owns exactly the fields of its configuration and may conflict (see
:mod:`cloudlb.kubeapi.serverside_apply`). A manager is identified by its name, its
operation, its subresource and, for updates, the API version it wrote with.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudlb.kubeapi import fieldsets
from cloudlb.kubeapi.fieldsets import FieldSet
from cloudlb.kubeapi.schemas import Node

APPLY = "Apply"
UPDATE = "Update"


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Manager:
    """A writer's identity: ``fieldManager`` (or its User-Agent), the operation and the subresource."""

    name: str
    operation: str
    api_version: str
    subresource: str = ""

    def matches(self, entry: Mapping[str, Any]) -> bool:
        same = (entry.get("manager") == self.name and entry.get("operation") == self.operation
                and (entry.get("subresource") or "") == self.subresource)
        return same and (self.operation == APPLY or entry.get("apiVersion") == self.api_version)

    def entry(self, fields: FieldSet) -> dict[str, Any]:
        entry: dict[str, Any] = {"manager": self.name, "operation": self.operation, "apiVersion": self.api_version,
                                 "time": now_rfc3339(), "fieldsType": "FieldsV1",
                                 "fieldsV1": fieldsets.to_fields_v1(fields)}
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry

    def described(self) -> str:
        """How conflict messages name a manager (``"kubectl-create" using v1`` for an update)."""
        text = f'"{self.name}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        return f"{text} using {self.api_version}" if self.operation == UPDATE else text


def manager_of(entry: Mapping[str, Any]) -> Manager:
    return Manager(str(entry.get("manager", "")), str(entry.get("operation", "")), str(entry.get("apiVersion", "")),
                   str(entry.get("subresource") or ""))


def manager_from_request(field_manager: str | None, user_agent: str) -> str:
    """``fieldManager`` if given, else the User-Agent's product name (``kubectl-create``, ``kopf``)."""
    if field_manager:
        return field_manager
    return user_agent.split("/", 1)[0].strip() or "unknown"


def owned(entries: list[dict[str, Any]]) -> list[tuple[Manager, FieldSet]]:
    return [(manager_of(entry), fieldsets.from_fields_v1(entry.get("fieldsV1"))) for entry in entries]


def rebuilt(ownership: list[tuple[Manager, FieldSet]], previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries from (manager, fields) pairs; an unchanged entry keeps its time, an emptied one goes."""
    by_manager = {manager_of(entry): entry for entry in previous}
    entries = []
    for manager, fields in ownership:
        if not fields:
            continue
        old = by_manager.get(manager)
        if old is not None and fieldsets.from_fields_v1(old.get("fieldsV1")) == fields:
            entries.append(old)
        else:
            entries.append(manager.entry(fields))
    return entries


def record_update(entries: list[dict[str, Any]], manager: Manager, taken: FieldSet, dropped: FieldSet) -> list[
        dict[str, Any]]:
    """The updater takes ``taken`` from everyone; fields the write removed (``dropped``) leave everyone."""
    ownership = []
    seen = False
    for other, fields in owned(entries):
        if other == manager:
            ownership.append((other, (fields | taken) - dropped))
            seen = True
        else:
            ownership.append((other, fields - taken - dropped))
    if not seen:
        ownership.append((manager, taken - dropped))
    return rebuilt(ownership, entries)


def is_reset_request(value: Any) -> bool:
    """``managedFields: [{}]`` clears every entry, as on the real server."""
    return bool(value == [{}])


def after_update(old: dict[str, Any], intended: dict[str, Any], schema: Node, manager: Manager,
                 sent: Any) -> list[dict[str, Any]]:
    """The entries after an update: ``intended`` is what the client asked for, before the server's defaults.

    A client may send managedFields itself: ``[{}]`` clears them, another list replaces them (kubectl does
    this when it moves an object from client-side to server-side apply); status writes cannot.
    """
    previous: list[dict[str, Any]] = list(old["metadata"].get("managedFields") or [])
    if is_reset_request(sent):
        return []
    if isinstance(sent, list) and sent != previous and manager.subresource != "status":
        return sent
    part = "status" if manager.subresource == "status" else None
    dropped = fieldsets.of_object(old, schema, part) - fieldsets.of_object(intended, schema, part)
    return record_update(previous, manager, fieldsets.changed(old, intended, schema, part), dropped)
