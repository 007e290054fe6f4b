"""The emulated Compute API behind the HTTP server: requests in, messages or errors out.

Every request body is parsed into its ``google.cloud.compute_v1`` message type
with unknown fields rejected, checked by ``rules``, stored, and answered with a
RUNNING operation. Faults can be injected per API method, and every request is
logged by method name so that tests and benchmarks can count Compute calls.
"""

from __future__ import annotations

import builtins
import datetime
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.cloud import compute_v1
from google.protobuf.json_format import ParseError  # type: ignore[import-untyped]

from cloudlb_gcp.emulator import rules
from cloudlb_gcp.emulator.errors import ApiError, invalid, not_found
from cloudlb_gcp.emulator.kinds import KINDS, LOAD_BALANCING, READ_ONLY, Kind
from cloudlb_gcp.emulator.operations import Operations
from cloudlb_gcp.emulator.paths import ResourcePath, parse_reference
from cloudlb_gcp.emulator.store import Store

Checker = Callable[[Store, ResourcePath, Any], None]
CHECKS: dict[str, Checker] = {
    "addresses": rules.check_address,
    "forwardingRules": rules.check_forwarding_rule,
    "backendServices": rules.check_backend_service,
    "healthChecks": rules.check_health_check,
    "instanceGroups": rules.check_instance_group,
    "firewalls": rules.check_firewall,
}
# Fields the API computes; a client may send them back (read-modify-write) and they are ignored.
OUTPUT_ONLY = ("id", "selfLink", "creationTimestamp", "kind", "region", "zone", "users", "status", "size",
               "fingerprint", "labelFingerprint", "selfLinkWithId")
READ_VERBS = frozenset({"get", "list", "listInstances", "wait", "aggregatedList"})


@dataclass(frozen=True)
class LoggedCall:
    method: str  # e.g. "forwardingRules.insert"
    path: str
    status: int
    query: str = ""  # the query string as sent (``filter=...&maxResults=500``)

    @property
    def is_write(self) -> bool:
        return self.method.rsplit(".", 1)[1] not in READ_VERBS


@dataclass
class Fault:
    """Fail calls ``nth`` to ``nth + times - 1`` of ``method``, counted from when the fault was set.

    By default the call is refused with ``status`` and ``reason`` before anything changes. With
    ``operation_error`` (e.g. ``QUOTA_EXCEEDED``) it is accepted, changes nothing, and its operation ends
    DONE with that error, as the API reports many failures. With ``lose_response`` it is carried out and
    its answer replaced by the error: the client cannot tell whether it happened.
    """

    method: str
    nth: int
    status: int
    times: int = 1
    reason: str | None = None
    operation_error: str | None = None
    lose_response: bool = False
    seen: int = 0

    def error(self) -> ApiError:
        reason = self.reason or ("backendError" if self.status >= 500 else "injected")
        return ApiError(self.status, reason, f"injected fault in {self.method}")


def parse_body(message: type[Any], body: bytes) -> Any:
    try:
        return message.from_json(body or b"{}", ignore_unknown_fields=False)
    except (ParseError, ValueError) as exc:
        raise invalid(f"Invalid JSON payload received. {exc}") from None


class ComputeCloud:
    """One project's Compute resources; thread-safe (one request at a time)."""

    def __init__(self, project: str, region: str) -> None:
        self.project = project
        self.region = region
        self.store = Store(project)
        self.operations = Operations(project)
        self.members: dict[ResourcePath, list[str]] = {}
        # The most items one list page holds; small values make clients follow nextPageToken.
        self.page_size = 500
        self.log: list[LoggedCall] = []
        self._faults: list[Fault] = []
        self.lock = threading.RLock()

    # -- seeding and test controls -------------------------------------------------------------------

    def seed(self, kind_name: str, location: str, resource: Any) -> Any:
        kind = next(k for k in KINDS if k.collection == kind_name)
        with self.lock:
            path = ResourcePath(self.project, kind.scope, location, kind.collection, resource.name)
            self._stamp(kind, path, resource)
            self.store.put(path, resource)
            return resource

    def fail(self, fault: Fault) -> None:
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def leftovers(self) -> list[str]:
        with self.lock:
            return [p.listed for p in self.store.all_paths() if p.collection in LOAD_BALANCING]

    # -- request handling ---------------------------------------------------------------------------------

    def record(self, method: str, path: str, status: int, query: str = "") -> None:
        with self.lock:
            self.log.append(LoggedCall(method, path, status, query))

    def inject(self, method: str) -> Fault | None:
        """The fault chosen for this call of ``method``, if any; a refusing fault is raised here."""
        with self.lock:
            for fault in list(self._faults):
                if fault.method != method:
                    continue
                fault.seen += 1
                if fault.seen >= fault.nth + fault.times - 1:
                    self._faults.remove(fault)
                if fault.seen < fault.nth:
                    continue
                if fault.operation_error or fault.lose_response:
                    return fault
                raise fault.error()
        return None

    def failed_operation(self, target: ResourcePath, method: str, code: str) -> compute_v1.Operation:
        """An accepted write that changes nothing and whose operation finishes with ``code``."""
        with self.lock:
            return self.operations.start(target, method.rsplit(".", 1)[1], error=code)

    def _stamp(self, kind: Kind, path: ResourcePath, resource: Any) -> None:
        resource.kind = kind.kind
        resource.id = self.store.next_id()
        resource.self_link = path.link
        resource.creation_timestamp = datetime.datetime.now(datetime.UTC).isoformat()
        if "label_fingerprint" in kind.message.meta.fields:
            resource.label_fingerprint = rules.label_fingerprint(resource.labels)
        if kind.scope == "regions":
            resource.region = path.scope_link()
        elif kind.scope == "zones":
            resource.zone = path.scope_link()

    def insert(self, kind: Kind, location: str, body: bytes) -> compute_v1.Operation:
        resource = self._parse(kind, body)
        path = ResourcePath(self.project, kind.scope, location, kind.collection, resource.name)
        with self.lock:
            rules.check_new_name(self.store, path)
            CHECKS[kind.collection](self.store, path, resource)
            self._stamp(kind, path, resource)
            self.store.put(path, resource)
            if kind.collection == "instanceGroups":
                self.members[path] = []
            return self.operations.start(path, "insert")

    def patch(self, kind: Kind, path: ResourcePath, body: bytes) -> compute_v1.Operation:
        """Merge the fields the body sets into the stored resource (lists and maps are replaced)."""
        if kind.collection == "forwardingRules":
            raise invalid("Forwarding rules only allow patching of a few fields; recreate the rule instead")
        changes = self._parse_fields(kind, body)
        with self.lock:
            current = self.store.get(path)
            if changes.get("name", path.name) != path.name:
                raise invalid("A patch cannot rename a resource")
            fields = json.loads(kind.message.to_json(current))
            fields.update(changes)
            merged = parse_body(kind.message, json.dumps(fields).encode())
            CHECKS[kind.collection](self.store, path, merged)
            self.store.put(path, merged)
            return self.operations.start(path, "patch")

    def delete(self, path: ResourcePath) -> compute_v1.Operation:
        with self.lock:
            resource = self.store.get(path)
            if path.collection in READ_ONLY:
                raise invalid(f"{path.collection} are read-only in the emulator")
            rules.check_delete(self.store, path, resource)
            if path.collection == "forwardingRules":
                rules.release_address(self.store, path.link, resource.I_p_address)
            self.store.remove(path)
            self.members.pop(path, None)
            return self.operations.start(path, "delete")

    def get(self, path: ResourcePath) -> Any:
        with self.lock:
            return self.store.get(path)

    def list(self, kind: Kind, location: str) -> list[Any]:
        with self.lock:
            return [r for _, r in self.store.items(kind.collection, kind.scope, location or None)]

    # -- instance group membership ----------------------------------------------------------------------

    def add_instances(self, path: ResourcePath, body: bytes) -> compute_v1.Operation:
        request = parse_body(compute_v1.InstanceGroupsAddInstancesRequest, body)
        with self.lock:
            group = self.store.get(path)
            members = self.members[path]
            wanted = [self._instance_in_zone(ref.instance, path.location) for ref in request.instances]
            for instance in wanted:
                if instance.link in members:
                    raise ApiError(400, "memberAlreadyExists", f"'{instance.link}' is already a member")
                self._check_one_balanced_group(path, instance.link)
            members.extend(i.link for i in wanted)
            group.size = len(members)
            return self.operations.start(path, "addInstances")

    def remove_instances(self, path: ResourcePath, body: bytes) -> compute_v1.Operation:
        request = parse_body(compute_v1.InstanceGroupsRemoveInstancesRequest, body)
        with self.lock:
            group = self.store.get(path)
            members = self.members[path]
            for ref in request.instances:
                link = parse_reference(ref.instance, self.project).link
                if link not in members:
                    raise ApiError(400, "memberNotFound", f"'{ref.instance}' is not a member of '{path.name}'")
                members.remove(link)
            group.size = len(members)
            return self.operations.start(path, "removeInstances")

    def list_instances(self, path: ResourcePath, body: bytes) -> builtins.list[compute_v1.InstanceWithNamedPorts]:
        parse_body(compute_v1.InstanceGroupsListInstancesRequest, body)
        with self.lock:
            self.store.get(path)
            return [compute_v1.InstanceWithNamedPorts(instance=link, status="RUNNING") for link in self.members[path]]

    # -- labels --------------------------------------------------------------------------------------

    def set_labels(self, path: ResourcePath, body: bytes) -> compute_v1.Operation:
        """Replace a resource's labels; the request must carry the fingerprint of the labels it replaces."""
        request = parse_body(compute_v1.RegionSetLabelsRequest, body)
        with self.lock:
            resource = self.store.get(path)
            if request.label_fingerprint != resource.label_fingerprint:
                raise ApiError(412, "conditionNotMet",
                               "Labels fingerprint either invalid or resource labels have changed")
            rules.check_labels(request.labels)
            resource.labels = dict(request.labels)
            resource.label_fingerprint = rules.label_fingerprint(resource.labels)
            return self.operations.start(path, "setLabels")

    def _instance_in_zone(self, link: str, zone: str) -> ResourcePath:
        path = parse_reference(link, self.project)
        if path.collection != "instances" or self.store.find(path) is None:
            raise not_found(link)
        if path.location != zone:
            raise invalid(f"Instance '{link}' is not in the group's zone {zone}")
        return path

    def _check_one_balanced_group(self, group: ResourcePath, instance_link: str) -> None:
        """An instance may belong to only one instance group that a load balancer uses."""
        others = [other for other, members in self.members.items() if other != group and instance_link in members]
        if not others:
            return
        balanced = {
            parse_reference(b.group, self.project)
            for _, service in self.store.items("backendServices") for b in service.backends
        }
        for other in others:
            if other in balanced:
                raise invalid(f"Instance '{instance_link}' is already in load-balanced group '{other.name}'")

    def _parse_fields(self, kind: Kind, body: bytes) -> dict[str, Any]:
        """The body's fields after a strict parse against the schema, without the output-only ones."""
        if kind.collection in READ_ONLY:
            raise invalid(f"{kind.collection} are read-only in the emulator")
        parse_body(kind.message, body)
        fields: dict[str, Any] = json.loads(body or b"{}")
        return {key: value for key, value in fields.items() if key not in OUTPUT_ONLY}

    def _parse(self, kind: Kind, body: bytes) -> Any:
        return parse_body(kind.message, json.dumps(self._parse_fields(kind, body)).encode())
