"""The object store: the API server's semantics for create, read, update, patch, delete and watch.

Everything here runs on the emulator's event loop thread and never awaits while
mutating, so each operation is atomic without a lock.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import datetime
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cloudlb.kubeapi import (
    decoding,
    errors,
    fieldsets,
    managedfields,
    names,
    namespaces,
    patching,
    schemas,
    serverside_apply,
    stringmaps,
)
from cloudlb.kubeapi.errors import ApiError, FieldCause
from cloudlb.kubeapi.managedfields import Manager
from cloudlb.kubeapi.resources import Catalogue, ResourceType
from cloudlb.kubeapi.selectors import Selector
from cloudlb.kubeapi.writes import WriteOptions

Obj = dict[str, Any]
Entries = list[Obj]  # managedFields entries (named here: ObjectStore.list shadows the builtin in its body)
ObjectKey = tuple[str | None, str]  # (namespace, name)

# The alphabet the real server uses for generateName suffixes (no vowels, no look-alikes).
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_IMMUTABLE_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                       "namespace", "name", "generation", "generateName")
# Limits that keep a long-running server's memory bounded.
HISTORY_LIMIT = 10_000  # changes kept for resuming watches...
HISTORY_WINDOW = 300.0  # ...for at most this long, as etcd compacts every 5 minutes by default
WATCH_BACKLOG_LIMIT = 1_000  # a watcher this far behind is closed (it re-lists), as the real watch cache does
EVENT_TTL = 3600.0  # kube-apiserver --event-ttl default: Events expire an hour after their last write
_EXPIRY_SWEEP_INTERVAL = 1.0


def now_timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Admission(Protocol):
    """Per-resource defaulting and validation, run on every create and spec update."""

    def admit(self, new: Obj, old: Obj | None, others: Iterable[Obj], options: WriteOptions) -> None:
        """Default and validate ``new`` in place (raise ApiError to reject; append Warnings to options)."""


@dataclass(frozen=True)
class Change:
    """One committed change, as watch streams replay and deliver it.

    ``obj`` and ``old`` are the very dicts the store held: a committed object is
    never mutated (a write replaces it with a new dict, reads hand out copies), so
    history and every watcher share them instead of keeping copies of their own.
    """

    type: str  # ADDED, MODIFIED, DELETED
    resource: ResourceType
    obj: Obj
    old: Obj | None
    resource_version: int
    at: float = field(default_factory=time.monotonic)


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
                 history_limit: int = HISTORY_LIMIT, history_window: float = HISTORY_WINDOW,
                 event_ttl: float = EVENT_TTL, watch_backlog_limit: int = WATCH_BACKLOG_LIMIT) -> None:
        self.catalogue = catalogue
        self._admissions = dict(admissions or {})
        self._objects: dict[ResourceType, dict[ObjectKey, Obj]] = {r: {} for r in catalogue.all}
        self._resource_version = 0
        self._history: collections.deque[Change] = collections.deque(maxlen=history_limit)
        self._history_window = history_window
        self._history_floor = 0  # changes at or below this resourceVersion cannot be replayed
        self._watches: set[Watch] = set()
        self._watch_backlog_limit = watch_backlog_limit
        self._event_ttl = event_ttl
        self._expiry: dict[tuple[ResourceType, ObjectKey], float] = {}
        self._next_sweep = 0.0
        self._closed = False
        self._namespaces = catalogue.find("", "v1", "namespaces")

    @property
    def resource_version(self) -> int:
        return self._resource_version

    # --- reading ---------------------------------------------------------------------------------

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> Obj:
        self._expire()
        return copy.deepcopy(self._existing(resource, namespace, name))

    def list(self, resource: ResourceType, namespace: str | None, selector: Selector) -> tuple[list[Obj], int]:
        self._expire()
        items = [
            copy.deepcopy(obj)
            for (obj_namespace, _), obj in sorted(self._objects[resource].items(),
                                                  key=lambda item: (item[0][0] or "", item[0][1]))
            if (namespace is None or obj_namespace == namespace) and selector.matches(obj)
        ]
        return items, self._resource_version

    def resource_exists(self, resource: ResourceType, namespace: str | None, name: str) -> bool:
        return self._find(resource, namespace, name) is not None

    def _existing(self, resource: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._find(resource, namespace, name)
        if obj is None:
            raise errors.not_found(resource.plural, name, resource.group)
        return obj

    def _find(self, resource: ResourceType, namespace: str | None, name: str) -> Obj | None:
        return self._objects[resource].get((namespace if resource.namespaced else None, name))

    # --- writing ---------------------------------------------------------------------------------

    def create(self, resource: ResourceType, namespace: str | None, body: Any,
               options: WriteOptions | None = None) -> Obj:
        options = options or WriteOptions()
        self._expire()
        obj = self._checked_body(resource, body)
        return self._create(resource, namespace, obj, options, None)

    def _create(self, resource: ResourceType, namespace: str | None, obj: Obj, options: WriteOptions,
                managed: Entries | None) -> Obj:
        metadata = obj["metadata"]
        if resource.namespaced:
            if namespace is None:
                raise errors.method_not_allowed("POST")
            if metadata.get("namespace") not in (None, "", namespace):
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        if resource.namespaced:  # admission runs before a generateName is turned into a name
            self._require_live_namespace(resource, namespace or "", str(metadata.get("name") or ""))
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
        schema = _schema(resource)
        if managed is None:
            manager = Manager(options.manager, managedfields.UPDATE, resource.api_version)
            managed = managedfields.record_update([], manager, fieldsets.of_object(obj, schema, None), frozenset())
        if managed:
            metadata["managedFields"] = managed
        self._admit(resource, obj, None, options)
        if options.dry_run:
            return copy.deepcopy(obj)
        return copy.deepcopy(self._commit(resource, key, obj, None, "ADDED"))

    def replace(self, resource: ResourceType, namespace: str | None, name: str, body: Any,
                subresource: str | None, options: WriteOptions | None = None) -> Obj:
        options = options or WriteOptions()
        self._expire()
        old = self._existing(resource, namespace, name)
        candidate = self._checked_body(resource, body)
        if candidate["metadata"].get("name") not in (None, name):
            raise errors.bad_request("the name of the object does not match the name on the URL")
        return self._update(resource, old, candidate, subresource, options)

    def patch(self, resource: ResourceType, namespace: str | None, name: str, content_type: str, patch: Any,
              subresource: str | None, options: WriteOptions | None = None) -> Obj:
        options = options or WriteOptions()
        self._expire()
        old = self._existing(resource, namespace, name)
        candidate = patching.apply(old, content_type, patch)
        if not isinstance(candidate.get("metadata"), dict):
            raise errors.bad_request("metadata must be an object")
        stringmaps.check(candidate, resource)
        stringmaps.normalise(candidate["metadata"])
        wrong = decoding.type_error(candidate, _schema(resource))
        if wrong is not None:  # the patched object does not decode: upstream names the patch, as a 422
            raise errors.invalid("", "", [FieldCause("patch", f"Invalid value: {json.dumps(patch)[:200]}: {wrong}")])
        return self._update(resource, old, candidate, subresource, options)

    def apply(self, resource: ResourceType, namespace: str | None, name: str, configuration: Obj,
              subresource: str | None, options: WriteOptions) -> Obj:
        """Server-side apply: create the object if it does not exist, else merge as ``options.manager``."""
        self._expire()
        configuration = self._checked_body(resource, configuration)
        if configuration["metadata"].get("name") not in (None, name):
            raise errors.bad_request("the name of the object does not match the name on the URL")
        configuration["metadata"]["name"] = name
        manager = Manager(options.manager, managedfields.APPLY, resource.api_version, subresource or "")
        schema = _schema(resource)
        live = self._find(resource, namespace, name)
        if live is None:
            if subresource is not None:
                raise errors.not_found(resource.plural, name, resource.group)
            result = serverside_apply.apply(None, configuration, schema, manager, options.force)
            return self._create(resource, namespace, result.obj, options, result.managed_fields)
        precondition = configuration["metadata"].get("resourceVersion")
        result = serverside_apply.apply(live, configuration, schema, manager, options.force)
        candidate = result.obj
        # The live object's resourceVersion came along with the merge; only one the configuration gives is a
        # precondition (a 409 if stale), as upstream.
        if precondition:
            candidate["metadata"]["resourceVersion"] = precondition
        else:
            candidate["metadata"].pop("resourceVersion", None)
        return self._update(resource, live, candidate, subresource, options, result.managed_fields)

    def delete(self, resource: ResourceType, namespace: str | None, name: str, options: Any,
               write: WriteOptions | None = None) -> Obj:
        write = write or WriteOptions()
        self._expire()
        obj = self._existing(resource, namespace, name)
        metadata = obj["metadata"]
        preconditions = options.get("preconditions") if isinstance(options, dict) else None
        if isinstance(preconditions, dict):
            for field_name in ("uid", "resourceVersion"):
                wanted = preconditions.get(field_name)
                if wanted and wanted != metadata.get(field_name):
                    raise ApiError(409, "Conflict", f"Precondition failed: {field_name} in precondition: "
                                   f"{wanted}, {field_name} in object meta: {metadata.get(field_name)}")
        if resource is self._namespaces:
            namespaces.refuse_deleting_immortal(name)
        if metadata.get("deletionTimestamp"):
            return copy.deepcopy(obj)
        key = (metadata.get("namespace"), name)
        marked = copy.deepcopy(obj)
        marked["metadata"]["deletionTimestamp"] = now_timestamp()
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        if resource is self._namespaces:
            marked.setdefault("status", {})["phase"] = namespaces.TERMINATING
        waits = bool(metadata.get("finalizers")) or resource is self._namespaces
        if write.dry_run:
            return marked if waits else copy.deepcopy(obj)
        if not waits:
            return copy.deepcopy(self._remove(resource, key))
        committed = copy.deepcopy(self._commit(resource, key, marked, obj, "MODIFIED"))
        if resource is self._namespaces:
            self._empty_namespace(name)
            committed = copy.deepcopy(self._objects[resource].get(key, committed))
        return committed

    # --- watching --------------------------------------------------------------------------------

    def open_watch(self, resource: ResourceType, namespace: str | None, selector: Selector,
                   since: str | None) -> Watch:
        """Register a watch; its queue is pre-filled with what happened since ``since``."""
        self._expire()
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

    @property
    def open_watches(self) -> int:
        return len(self._watches)

    @property
    def history_length(self) -> int:
        return len(self._history)

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
        stringmaps.check(obj, resource)  # the Go decoder's step: every write, HTTP or helper, goes through it
        stringmaps.normalise(metadata)
        wrong = decoding.type_error(obj, _schema(resource))
        if wrong is not None:
            raise errors.bad_request(f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                                     f"{resource.kind}: {wrong}")
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
        rule = {"subdomain": names.dns1123_subdomain, "label": names.dns1123_label,
                "dns1035": names.dns1035_label}[resource.name_rule]
        problems = rule(name) if isinstance(name, str) else [names.SUBDOMAIN_MESSAGE]
        if problems:
            raise errors.invalid(resource.kind, str(name), [
                FieldCause("metadata.name", f"Invalid value: {json.dumps(name)}: {problem}") for problem in problems],
                resource.group)
        metadata["name"] = str(name)
        return str(name)

    def _require_live_namespace(self, resource: ResourceType, namespace: str, name: str) -> None:
        """NamespaceLifecycle admission: no new objects in a missing or terminating namespace."""
        if self._namespaces is None:
            return
        found = self._objects[self._namespaces].get((None, namespace))
        if found is None:
            raise errors.not_found("namespaces", namespace)
        if found["metadata"].get("deletionTimestamp"):
            raise namespaces.terminating(resource, name, namespace)

    def _admit(self, resource: ResourceType, obj: Obj, old: Obj | None, options: WriteOptions) -> None:
        admission = self._admissions.get((resource.group, resource.plural))
        if admission is not None:
            key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            others = [other for other_key, other in self._objects[resource].items() if other_key != key]
            admission.admit(obj, old, others, options)

    def _update(self, resource: ResourceType, old: Obj, candidate: Obj, subresource: str | None,
                options: WriteOptions, applied_managed: Entries | None = None) -> Obj:
        """Write ``candidate`` (a whole object: PUT's body, the patched or the applied object) over ``old``."""
        sent_version = candidate["metadata"].get("resourceVersion")
        if sent_version and sent_version != old["metadata"]["resourceVersion"]:
            raise errors.conflict(resource.plural, old["metadata"]["name"], resource.group)
        if subresource not in (None, *resource.subresources):
            raise errors.not_found(f"{resource.plural}/{subresource}", old["metadata"]["name"], resource.group)
        old_managed = old["metadata"].get("managedFields") or []
        sent_managed = candidate["metadata"].get("managedFields")
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
        intended = copy.deepcopy(new)  # what the client asked for, before the server's defaults
        if subresource != "status":
            self._admit(resource, new, old, options)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if applied_managed is not None:
            new["metadata"]["managedFields"] = applied_managed
        else:
            manager = Manager(options.manager, managedfields.UPDATE, resource.api_version, subresource or "")
            new["metadata"]["managedFields"] = managedfields.after_update(
                old, intended, _schema(resource), manager, sent_managed)
        if not new["metadata"]["managedFields"]:
            del new["metadata"]["managedFields"]
        # A no-op write changes nothing, not even managedFields' times, as on a real server; a write that
        # only moves ownership (an apply, a client rewriting managedFields) is recorded.
        ownership_unchanged = (new["metadata"].get("managedFields") or []) == old_managed or (
            applied_managed is None and sent_managed in (None, old_managed))
        if ownership_unchanged and _without_managed_fields(new) == _without_managed_fields(old):
            return copy.deepcopy(old)
        if resource.tracks_generation and _spec_part(new) != _spec_part(old):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if options.dry_run:
            return copy.deepcopy(new)
        key = (old["metadata"].get("namespace"), old["metadata"]["name"])
        committed = self._commit(resource, key, new, old, "MODIFIED")
        if committed["metadata"].get("deletionTimestamp") and not committed["metadata"].get("finalizers") and (
                resource is not self._namespaces):
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
        if resource.expires:
            self._expiry[(resource, key)] = time.monotonic() + self._event_ttl
        self._publish(Change(change_type, resource, obj, old, self._resource_version))
        return obj

    def _remove(self, resource: ResourceType, key: ObjectKey) -> Obj:
        stored = self._objects[resource].pop(key)
        self._expiry.pop((resource, key), None)
        self._resource_version += 1
        # A new top level and metadata: the stored dict may still be a Change's ``obj`` (see Change).
        obj = {**stored, "metadata": {**stored["metadata"], "resourceVersion": str(self._resource_version)}}
        self._publish(Change("DELETED", resource, obj, None, self._resource_version))
        namespace = key[0]
        if namespace is not None and self._is_terminating(namespace):
            self._finish_namespace_if_empty(namespace)
        return obj

    def _publish(self, change: Change) -> None:
        history = self._history
        while history and (len(history) == history.maxlen or change.at - history[0].at > self._history_window):
            self._history_floor = history.popleft().resource_version
        history.append(change)
        for watch in list(self._watches):
            event_type = watch.event_type(change)
            if event_type is None:
                continue
            if watch.queue.qsize() >= self._watch_backlog_limit:
                self._drop_watch(watch)
            else:
                watch.queue.put_nowait((event_type, change.obj))

    def _drop_watch(self, watch: Watch) -> None:
        """Close a watch that fell too far behind; its client re-lists, as with the real watch cache."""
        while not watch.queue.empty():
            watch.queue.get_nowait()
        watch.queue.put_nowait(None)
        self._watches.discard(watch)

    def _expire(self) -> None:
        """Remove Events whose TTL passed (checked at most once a second, on the next request)."""
        moment = time.monotonic()
        if moment < self._next_sweep:
            return
        self._next_sweep = moment + _EXPIRY_SWEEP_INTERVAL
        for resource, key in [entry for entry, deadline in self._expiry.items() if deadline <= moment]:
            if key in self._objects[resource]:
                self._remove(resource, key)

    # --- namespace lifecycle (the namespace controller's part) ------------------------------------------

    def _is_terminating(self, namespace: str) -> bool:
        if self._namespaces is None:
            return False
        found = self._objects[self._namespaces].get((None, namespace))
        return bool(found and found["metadata"].get("deletionTimestamp"))

    def _empty_namespace(self, namespace: str) -> None:
        """Delete everything in a terminating namespace; it goes once the last object is gone."""
        for resource in self.catalogue.all:
            if not resource.namespaced:
                continue
            for key in [key for key in self._objects[resource] if key[0] == namespace]:
                obj = self._objects[resource].get(key)
                if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                    self.delete(resource, namespace, key[1], {})
        self._finish_namespace_if_empty(namespace)

    def _finish_namespace_if_empty(self, namespace: str) -> None:
        if self._namespaces is None or (None, namespace) not in self._objects[self._namespaces]:
            return
        if any(key[0] == namespace for resource in self.catalogue.all if resource.namespaced
               for key in self._objects[resource]):
            return
        self._remove(self._namespaces, (None, namespace))


def _schema(resource: ResourceType) -> schemas.Node:
    return schemas.for_kind(resource.group, resource.version, resource.kind)


def _without_managed_fields(obj: Obj) -> Obj:
    trimmed = dict(obj)
    trimmed["metadata"] = {key: value for key, value in obj["metadata"].items() if key != "managedFields"}
    return trimmed
