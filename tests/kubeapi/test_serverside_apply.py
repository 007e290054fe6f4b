"""Server-side apply and managedFields over HTTP, for the writes kubectl and controllers make."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import MERGE, SERVICES, Reply, call, create_service

APPLY = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"


def apply(kube: EmulatedKubernetes, name: str, body: dict[str, Any], manager: str, *, force: bool = False,
          subresource: str = "") -> Reply:
    query = f"?fieldManager={manager}" + ("&force=true" if force else "")
    path = f"{SERVICES}/{name}" + (f"/{subresource}" if subresource else "")
    return call(kube, "PATCH", path + query, body, APPLY)


def configuration(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}], **spec}}


def managers(reply_body: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(entry["manager"], entry["operation"], entry.get("subresource", "")): entry["fieldsV1"]
            for entry in reply_body["metadata"].get("managedFields", [])}


def test_apply_creates_then_updates_and_a_no_op_apply_writes_nothing(kube: EmulatedKubernetes) -> None:
    created = apply(kube, "web", configuration("web"), "ci")
    assert created.status == 201
    again = apply(kube, "web", configuration("web"), "ci")
    assert again.status == 200
    assert again.body["metadata"]["resourceVersion"] == created.body["metadata"]["resourceVersion"]
    fields = managers(again.body)[("ci", "Apply", "")]
    assert fields["f:spec"]["f:ports"]['k:{"port":80,"protocol":"TCP"}'] == {".": {}, "f:name": {}, "f:port": {}}
    assert "f:clusterIP" not in fields["f:spec"]  # allocated by the server: nobody's


def test_a_field_dropped_from_the_configuration_is_removed_unless_someone_else_owns_it(
        kube: EmulatedKubernetes) -> None:
    apply(kube, "web", configuration("web", loadBalancerSourceRanges=["10.0.0.0/8"], externalTrafficPolicy="Local"),
          "ci")
    # An update takes the fields it changes from their owner, without a conflict.
    call(kube, "PATCH", f"{SERVICES}/web?fieldManager=ops", {"metadata": {"labels": {"team": "blue"}},
                                                              "spec": {"externalTrafficPolicy": "Cluster"}}, MERGE)
    reply = apply(kube, "web", configuration("web"), "ci")
    assert reply.status == 200, reply.body
    assert "loadBalancerSourceRanges" not in reply.body["spec"]
    assert reply.body["spec"]["externalTrafficPolicy"] == "Cluster"
    assert reply.body["metadata"]["labels"] == {"team": "blue"}
    assert "f:externalTrafficPolicy" in managers(reply.body)[("ops", "Update", "")]["f:spec"]


def test_same_value_is_shared_without_conflict_and_a_different_one_conflicts(kube: EmulatedKubernetes) -> None:
    apply(kube, "web", configuration("web", sessionAffinity="None"), "first")
    shared = apply(kube, "web", configuration("web", sessionAffinity="None"), "second")
    assert shared.status == 200
    assert {manager for manager, _, _ in managers(shared.body)} == {"first", "second"}
    conflict = apply(kube, "web", configuration("web", sessionAffinity="ClientIP", loadBalancerClass="x.io/y"),
                     "second")
    assert conflict.status == 409 and conflict.body["reason"] == "Conflict"
    assert conflict.body["message"] == 'Apply failed with 1 conflict: conflict with "first": .spec.sessionAffinity'
    assert conflict.body["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                                   "message": 'conflict with "first"',
                                                   "field": ".spec.sessionAffinity"}]
    forced = apply(kube, "web", configuration("web", sessionAffinity="ClientIP"), "second", force=True)
    assert forced.status == 200 and forced.body["spec"]["sessionAffinity"] == "ClientIP"
    assert "f:sessionAffinity" not in managers(forced.body)[("first", "Apply", "")].get("f:spec", {})


def test_several_conflicts_are_listed_by_manager(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web", ports=[{"name": "http", "port": 80}])
    call(kube, "PATCH", f"{SERVICES}/web?fieldManager=ops", {"metadata": {"labels": {"a": "1", "b": "2"}}}, MERGE)
    body = configuration("web")
    body["metadata"]["labels"] = {"a": "x", "b": "y"}
    conflict = apply(kube, "web", body, "ci")
    assert conflict.status == 409
    assert conflict.body["message"] == ('Apply failed with 2 conflicts: conflicts with "ops" using v1:\n'
                                        "- .metadata.labels.a\n- .metadata.labels.b")


def test_a_resource_version_in_the_configuration_is_a_precondition(kube: EmulatedKubernetes) -> None:
    created = apply(kube, "web", configuration("web"), "ci").body
    stale = configuration("web", sessionAffinity="ClientIP")
    stale["metadata"]["resourceVersion"] = "1"
    assert apply(kube, "web", stale, "ci").status == 409
    current = configuration("web", sessionAffinity="ClientIP")
    current["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    assert apply(kube, "web", current, "ci").status == 200


def test_apply_needs_a_field_manager_and_force_needs_apply(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    missing = call(kube, "PATCH", f"{SERVICES}/web", configuration("web"), APPLY)
    assert missing.status == 422
    assert missing.body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                                       "is required for apply patch")
    forced = call(kube, "PATCH", f"{SERVICES}/web?force=true", {"metadata": {}}, MERGE)
    assert forced.status == 422
    assert "force: Forbidden: may not be specified for non-apply patch" in forced.body["message"]


def test_a_controller_s_status_and_finalizer_patches_are_tracked(kube: EmulatedKubernetes) -> None:
    """kopf's writes: a merge patch of /status and a JSON patch of metadata.finalizers guarded by a test."""
    created = create_service(kube, "web").body
    request = urllib.request.Request(
        f"{kube.url}{SERVICES}/web", method="PATCH", headers={"Content-Type": JSON_PATCH, "User-Agent": "kopf/1.45.2"},
        data=json.dumps([{"op": "test", "path": "/metadata/resourceVersion",
                          "value": created["metadata"]["resourceVersion"]},
                         {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/cleanup"]}]).encode())
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    status = call(kube, "PATCH", f"{SERVICES}/web/status?fieldManager=kopf",
                  {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}, MERGE)
    assert status.status == 200
    fields = managers(status.body)
    assert fields[("kopf", "Update", "")]["f:metadata"]["f:finalizers"] == {".": {}, 'v:"example.com/cleanup"': {}}
    assert fields[("kopf", "Update", "status")] == {"f:status": {"f:loadBalancer": {"f:ingress": {}}}}
    # Removing the finalizer drops it from its owner's fields, and an emptied entry goes.
    call(kube, "PATCH", f"{SERVICES}/web?fieldManager=kopf", {"metadata": {"finalizers": None}}, MERGE)
    after = kube.get("v1", "services", "default", "web")
    assert after is not None
    assert ("kopf", "Update", "") not in managers(after)


def test_apply_to_the_status_subresource_owns_status_only(kube: EmulatedKubernetes) -> None:
    apply(kube, "web", configuration("web"), "ci")
    reply = apply(kube, "web", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}},
                  "controller", subresource="status")
    assert reply.status == 200, reply.body
    assert reply.body["status"]["loadBalancer"]["ingress"] == [{"hostname": "lb.example"}]
    assert managers(reply.body)[("controller", "Apply", "status")] == {"f:status": {"f:loadBalancer": {
        "f:ingress": {}}}}


def test_a_client_may_rewrite_or_reset_managed_fields(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    entries = created["metadata"]["managedFields"]
    entries[0]["manager"] = "renamed"
    rewritten = call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"managedFields": entries}}, MERGE)
    assert [entry["manager"] for entry in rewritten.body["metadata"]["managedFields"]] == ["renamed"]
    reset = call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"managedFields": [{}]}}, MERGE)
    assert "managedFields" not in reset.body["metadata"]
