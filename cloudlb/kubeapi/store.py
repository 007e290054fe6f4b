"""The object store: the API server's semantics for create, read, update, patch, delete and watch.

Everything here runs on the emulator's event loop thread and never awaits while
mutating, so each operation is atomic without a lock.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import datetime
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cloudlb.kubeapi import errors, patching
from cloudlb.kubeapi.errors import ApiError, FieldCause
from cloudlb.kubeapi.resources import Catalogue, ResourceType
from cloudlb.kubeapi.selectors import Selector

Obj = dict[str, Any]
ObjectKey = tuple[str | None, str]  # (namespace, name)

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# The alphabet the real server uses for generateName suffixes (no vowels, no look-alikes).
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_IMMUTABLE_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                       "namespace", "name", "generation", "generateName")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def now_timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Admission(Protocol):
    """Per-resource defaulting and validation, run on every create and spec update."""

    def admit(self, new: Obj, old: Obj | None, others: Iterable[Obj]) -> None:
        """Default and validate ``new`` in place (raise ApiError to reject)."""


@dataclass(frozen=True)
class Change:
    """One committed change, as watch streams replay and deliver it.

    ``obj`` and ``old`` are the store's own snapshots, taken at commit and never
    mutated afterwards, so every watcher is handed the same ``obj``.
    """

    type: str  # ADDED, MODIFIED, DELETED
    resource: ResourceType
    obj: Obj
    old: Obj | None
    resource_version: int


@dataclass(eq=False)
class Watch:
    """One open watch: its scope and a queue the store feeds (None means the server stops)."""

    resource: ResourceType
    namespace: str | None
    selector: Selector
    queue: asyncio.Queue[tuple[str, Obj] | None] = field(default_factory=asyncio.Queue)

    def _in_scope(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        namespace_ok = self.namespace is None or obj.get("metadata", {}).get("namespace") == self.namespace
        return namespace_ok and self.selector.matches(obj)

    def event_type(self, change: Change) -> str | None:
        """What this watcher sees: objects moving in or out of a selector become ADDED/DELETED."""
        if change.resource != self.resource:
            return None
        now_in, was_in = self._in_scope(change.obj), self._in_scope(change.old)
        if change.type == "MODIFIED":
            if now_in and was_in:
                return "MODIFIED"
            if now_in:
                return "ADDED"
            return "DELETED" if was_in else None
        return change.type if now_in else None


def _spec_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in ("metadata", "status", "kind", "apiVersion")}


class ObjectStore:
    """In-memory objects per resource, with a global resourceVersion and a replayable history."""

    def __init__(self, catalogue: Catalogue, admissions: Mapping[tuple[str, str], Admission] | None = None,
                 history_limit: int = 10_000) -> None:
        self.catalogue = catalogue
        self._admissions = dict(admissions or {})
        self._objects: dict[ResourceType, dict[ObjectKey, Obj]] = {r: {} for r in catalogue.all}
        self._resource_version = 0
        self._history: collections.deque[Change] = collections.deque(maxlen=history_limit)
        self._history_floor = 0  # changes at or below this resourceVersion cannot be replayed
        self._watches: set[Watch] = set()
        self._closed = False
        namespaces = catalogue.find("", "v1", "namespaces")
        if namespaces is not None:
            for name in INITIAL_NAMESPACES:
                self.create(namespaces, None, {"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]},
                                               "status": {"phase": "Active"}})

    @property
    def resource_version(self) -> int:
        return self._resource_version

    # --- reading ---------------------------------------------------------------------------------

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> Obj:
        return copy.deepcopy(self._existing(resource, namespace, name))

    def list(self, resource: ResourceType, namespace: str | None, selector: Selector) -> tuple[list[Obj], int]:
        items = [
            copy.deepcopy(obj)
            for (obj_namespace, _), obj in sorted(self._objects[resource].items(),
                                                  key=lambda item: (item[0][0] or "", item[0][1]))
            if (namespace is None or obj_namespace == namespace) and selector.matches(obj)
        ]
        return items, self._resource_version

    def _existing(self, resource: ResourceType, namespace: str | None, name: str) -> Obj:
        key = (namespace if resource.namespaced else None, name)
        obj = self._objects[resource].get(key)
        if obj is None:
            raise errors.not_found(resource.plural, name, resource.group)
        return obj

    # --- writing ---------------------------------------------------------------------------------

    def create(self, resource: ResourceType, namespace: str | None, body: Any) -> Obj:
        obj = self._checked_body(resource, body)
        metadata = obj["metadata"]
        if resource.namespaced:
            if namespace is None:
                raise errors.method_not_allowed("POST")
            if metadata.get("namespace") not in (None, "", namespace):
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            metadata["namespace"] = namespace
            self._require_namespace(namespace)
        else:
            metadata.pop("namespace", None)
        name = self._name_for_create(resource, metadata)
        key = (metadata.get("namespace"), name)
        if key in self._objects[resource]:
            raise errors.already_exists(resource.plural, name, resource.group)
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "managedFields"):
            metadata.pop(transient, None)
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = now_timestamp()
        if resource.tracks_generation:
            metadata["generation"] = 1
        if resource.resets_status_on_create:
            obj.pop("status", None)
        self._admit(resource, obj, None)
        return copy.deepcopy(self._commit(resource, key, obj, None, "ADDED"))

    def replace(self, resource: ResourceType, namespace: str | None, name: str, body: Any,
                subresource: str | None) -> Obj:
        old = self._existing(resource, namespace, name)
        candidate = self._checked_body(resource, body)
        if candidate["metadata"].get("name") not in (None, name):
            raise errors.bad_request("the name of the object does not match the name on the URL")
        return self._update(resource, old, candidate, subresource)

    def patch(self, resource: ResourceType, namespace: str | None, name: str, content_type: str, patch: Any,
              subresource: str | None) -> Obj:
        old = self._existing(resource, namespace, name)
        candidate = patching.apply(old, content_type, patch)
        if not isinstance(candidate.get("metadata"), dict):
            raise errors.bad_request("metadata must be an object")
        return self._update(resource, old, candidate, subresource)

    def delete(self, resource: ResourceType, namespace: str | None, name: str, options: Any) -> Obj:
        obj = self._existing(resource, namespace, name)
        metadata = obj["metadata"]
        preconditions = options.get("preconditions") if isinstance(options, dict) else None
        if isinstance(preconditions, dict):
            for field_name in ("uid", "resourceVersion"):
                wanted = preconditions.get(field_name)
                if wanted and wanted != metadata.get(field_name):
                    raise ApiError(409, "Conflict", f"Precondition failed: {field_name} in precondition: "
                                   f"{wanted}, {field_name} in object meta: {metadata.get(field_name)}")
        if metadata.get("deletionTimestamp"):
            return copy.deepcopy(obj)
        key = (metadata.get("namespace"), name)
        if metadata.get("finalizers"):
            marked = copy.deepcopy(obj)
            marked["metadata"]["deletionTimestamp"] = now_timestamp()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            return copy.deepcopy(self._commit(resource, key, marked, obj, "MODIFIED"))
        return copy.deepcopy(self._remove(resource, key))

    # --- watching --------------------------------------------------------------------------------

    def open_watch(self, resource: ResourceType, namespace: str | None, selector: Selector,
                   since: str | None) -> Watch:
        """Register a watch; its queue is pre-filled with what happened since ``since``."""
        watch = Watch(resource, namespace, selector)
        if self._closed:
            watch.queue.put_nowait(None)
            return watch
        if since in (None, "", "0"):
            items, _ = self.list(resource, namespace, selector)
            for item in items:
                watch.queue.put_nowait(("ADDED", item))
        else:
            try:
                since_version = int(since)
            except ValueError as exc:
                raise errors.bad_request(f"invalid resourceVersion: {since!r}") from exc
            if since_version < self._history_floor:
                raise errors.gone(f"too old resource version: {since_version} ({self._history_floor})")
            for change in self._history:
                event_type = watch.event_type(change) if change.resource_version > since_version else None
                if event_type is not None:
                    watch.queue.put_nowait((event_type, change.obj))
        self._watches.add(watch)
        return watch

    def close_watch(self, watch: Watch) -> None:
        self._watches.discard(watch)

    def close(self) -> None:
        """End every open watch and refuse new ones (the server is stopping)."""
        self._closed = True
        for watch in self._watches:
            watch.queue.put_nowait(None)
        self._watches.clear()

    # --- internals -------------------------------------------------------------------------------

    def _checked_body(self, resource: ResourceType, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        obj = copy.deepcopy(body)
        for field_name, expected in (("kind", resource.kind), ("apiVersion", resource.api_version)):
            if obj.get(field_name) not in (None, "", expected):
                raise errors.bad_request(f"the API version in the data ({obj.get('apiVersion')}) and kind "
                                         f"({obj.get('kind')}) do not match {resource.api_version}, "
                                         f"{resource.kind}")
            obj[field_name] = expected
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.bad_request("metadata must be an object")
        return obj

    def _name_for_create(self, resource: ResourceType, metadata: dict[str, Any]) -> str:
        name = metadata.get("name")
        prefix = metadata.get("generateName")
        if not name and prefix:
            for _ in range(16):
                candidate = prefix + "".join(secrets.choice(_NAME_SUFFIX_ALPHABET) for _ in range(5))
                if (metadata.get("namespace"), candidate) not in self._objects[resource]:
                    name = candidate
                    break
        if not name:
            raise errors.invalid(resource.kind, "", [FieldCause(
                "metadata.name", "Required value: name or generateName is required", "FieldValueRequired")],
                resource.group)
        if not isinstance(name, str) or len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
            raise errors.invalid(resource.kind, str(name), [FieldCause(
                "metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of '
                "lower case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character")], resource.group)
        metadata["name"] = name
        return name

    def _require_namespace(self, namespace: str) -> None:
        namespaces = self.catalogue.find("", "v1", "namespaces")
        if namespaces is not None and (None, namespace) not in self._objects[namespaces]:
            raise errors.not_found("namespaces", namespace)

    def _admit(self, resource: ResourceType, obj: Obj, old: Obj | None) -> None:
        admission = self._admissions.get((resource.group, resource.plural))
        if admission is not None:
            key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            others = [other for other_key, other in self._objects[resource].items() if other_key != key]
            admission.admit(obj, old, others)

    def _update(self, resource: ResourceType, old: Obj, candidate: Obj, subresource: str | None) -> Obj:
        """Write ``candidate`` (a whole object: PUT's body or the patched object) over ``old``."""
        sent_version = candidate["metadata"].get("resourceVersion")
        if sent_version and sent_version != old["metadata"]["resourceVersion"]:
            raise errors.conflict(resource.plural, old["metadata"]["name"], resource.group)
        if subresource not in (None, *resource.subresources):
            raise errors.not_found(f"{resource.plural}/{subresource}", old["metadata"]["name"], resource.group)
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in candidate:
                new["status"] = candidate["status"]
            else:
                new.pop("status", None)
        else:
            new = candidate
            new["kind"], new["apiVersion"] = old["kind"], old["apiVersion"]
            for field_name in _IMMUTABLE_METADATA:
                if field_name in old["metadata"]:
                    new["metadata"][field_name] = old["metadata"][field_name]
                else:
                    new["metadata"].pop(field_name, None)
            if resource.has_status:  # the main resource cannot write status, like the real server
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            self._refuse_new_finalizers_while_deleting(resource, old, new)
            self._admit(resource, new, old)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return copy.deepcopy(old)  # a no-op write does not bump resourceVersion, as on a real server
        if resource.tracks_generation and _spec_part(new) != _spec_part(old):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        key = (old["metadata"].get("namespace"), old["metadata"]["name"])
        committed = self._commit(resource, key, new, old, "MODIFIED")
        if committed["metadata"].get("deletionTimestamp") and not committed["metadata"].get("finalizers"):
            return copy.deepcopy(self._remove(resource, key))
        return copy.deepcopy(committed)

    def _refuse_new_finalizers_while_deleting(self, resource: ResourceType, old: Obj, new: Obj) -> None:
        if not old["metadata"].get("deletionTimestamp"):
            return
        added = sorted(set(new["metadata"].get("finalizers") or []) - set(old["metadata"].get("finalizers") or []))
        if added:
            raise errors.invalid(resource.kind, old["metadata"]["name"], [FieldCause(
                "metadata.finalizers",
                f"Forbidden: no new finalizers can be added if the object is being deleted, "
                f"found new finalizers {added!r}", "FieldValueForbidden")], resource.group)

    def _commit(self, resource: ResourceType, key: ObjectKey, obj: Obj, old: Obj | None, change_type: str) -> Obj:
        self._resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self._resource_version)
        self._objects[resource][key] = obj
        self._publish(Change(change_type, resource, copy.deepcopy(obj), copy.deepcopy(old), self._resource_version))
        return obj

    def _remove(self, resource: ResourceType, key: ObjectKey) -> Obj:
        obj = self._objects[resource].pop(key)
        self._resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self._resource_version)
        self._publish(Change("DELETED", resource, copy.deepcopy(obj), None, self._resource_version))
        return obj

    def _publish(self, change: Change) -> None:
        if len(self._history) == self._history.maxlen:
            self._history_floor = self._history[0].resource_version
        self._history.append(change)
        for watch in self._watches:
            event_type = watch.event_type(change)
            if event_type is not None:
                watch.queue.put_nowait((event_type, change.obj))
