"""uid, resourceVersion and conflicts, generation, generateName, namespaces from the URL, PUT."""

from __future__ import annotations

import uuid

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import MERGE, SERVICES, call, create_service


def test_create_fills_uid_resource_version_timestamp_generation_and_namespace(kube: EmulatedKubernetes) -> None:
    reply = create_service(kube, "web")
    assert reply.status == 201
    metadata = reply.body["metadata"]
    assert uuid.UUID(metadata["uid"])
    assert int(metadata["resourceVersion"]) > 0
    assert metadata["creationTimestamp"].endswith("Z")
    assert metadata["generation"] == 1
    assert metadata["namespace"] == "default"  # taken from the URL, the body had none
    assert reply.body["kind"] == "Service" and reply.body["apiVersion"] == "v1"


def test_uids_differ_and_resource_versions_grow_across_resources(kube: EmulatedKubernetes) -> None:
    first = create_service(kube, "one").body["metadata"]
    node = call(kube, "POST", "/api/v1/nodes", {"metadata": {"name": "node-a"}}).body["metadata"]
    second = create_service(kube, "two").body["metadata"]
    assert len({first["uid"], node["uid"], second["uid"]}) == 3
    assert int(first["resourceVersion"]) < int(node["resourceVersion"]) < int(second["resourceVersion"])


def test_namespace_in_body_must_match_url(kube: EmulatedKubernetes) -> None:
    body = {"metadata": {"name": "web", "namespace": "kube-system"}, "spec": {"ports": [{"port": 80}]}}
    reply = call(kube, "POST", SERVICES, body)
    assert reply.status == 400
    assert reply.body["kind"] == "Status" and reply.body["reason"] == "BadRequest"


def test_unknown_namespace_is_not_found(kube: EmulatedKubernetes) -> None:
    reply = create_service(kube, "web", namespace="nowhere")
    assert reply.status == 404
    assert reply.body["reason"] == "NotFound"


def test_duplicate_name_is_already_exists(kube: EmulatedKubernetes) -> None:
    assert create_service(kube, "web").status == 201
    reply = create_service(kube, "web")
    assert reply.status == 409
    assert reply.body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'services "web" already exists', "reason": "AlreadyExists", "code": 409,
        "details": {"name": "web", "kind": "services"},
    }


def test_generate_name_gets_a_random_suffix_so_events_never_collide(kube: EmulatedKubernetes) -> None:
    body = {"metadata": {"generateName": "kopf-event-"}, "reason": "Test", "message": "hello",
            "involvedObject": {"kind": "Service", "name": "web", "namespace": "default"}}
    names = {call(kube, "POST", "/api/v1/namespaces/default/events", body).body["metadata"]["name"]
             for _ in range(20)}
    assert len(names) == 20
    assert all(name.startswith("kopf-event-") and len(name) == len("kopf-event-") + 5 for name in names)


def test_missing_name_is_invalid(kube: EmulatedKubernetes) -> None:
    reply = call(kube, "POST", "/api/v1/nodes", {"metadata": {}})
    assert reply.status == 422
    assert reply.body["details"]["causes"][0]["field"] == "metadata.name"


def test_stale_resource_version_on_merge_patch_is_a_conflict(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    stale = created["metadata"]["resourceVersion"]
    assert call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"labels": {"a": "1"}}},
                "application/merge-patch+json").status == 200
    reply = call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"resourceVersion": stale, "labels": {"a": "2"}}},
                 "application/merge-patch+json")
    assert reply.status == 409
    assert reply.body["reason"] == "Conflict"
    assert kube.get("v1", "services", "default", "web")["metadata"]["labels"] == {"a": "1"}  # type: ignore[index]


def test_put_replaces_and_checks_resource_version(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    replacement = dict(created, metadata=dict(created["metadata"], labels={"team": "blue"}))
    reply = call(kube, "PUT", f"{SERVICES}/web", replacement)
    assert reply.status == 200
    assert reply.body["metadata"]["labels"] == {"team": "blue"}
    assert reply.body["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(reply.body["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    stale_again = call(kube, "PUT", f"{SERVICES}/web", replacement)  # still carries the old resourceVersion
    assert stale_again.status == 409


def test_put_of_missing_object_is_not_found(kube: EmulatedKubernetes) -> None:
    reply = call(kube, "PUT", "/api/v1/nodes/ghost", {"metadata": {"name": "ghost"}})
    assert reply.status == 404
    assert reply.body["message"] == 'nodes "ghost" not found'


def test_json_patch_test_on_stale_resource_version_is_rejected(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    stale = created["metadata"]["resourceVersion"]
    call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"labels": {"a": "1"}}}, "application/merge-patch+json")
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": stale},
           {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/x"]}]
    reply = call(kube, "PATCH", f"{SERVICES}/web", ops, "application/json-patch+json")
    assert reply.status == 422
    assert reply.body["kind"] == "Status"
    assert "finalizers" not in kube.get("v1", "services", "default", "web")["metadata"]  # type: ignore[index]


def test_json_patch_test_on_current_resource_version_applies(kube: EmulatedKubernetes) -> None:
    current = create_service(kube, "web").body["metadata"]["resourceVersion"]
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": current},
           {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/x"]}]
    reply = call(kube, "PATCH", f"{SERVICES}/web", ops, "application/json-patch+json")
    assert reply.status == 200
    assert reply.body["metadata"]["finalizers"] == ["example.com/x"]


def test_generation_bumps_on_spec_change_only(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    labelled = call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"labels": {"a": "1"}}},
                    "application/merge-patch+json").body
    assert labelled["metadata"]["generation"] == 1
    with_status = call(kube, "PATCH", f"{SERVICES}/web/status",
                       {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}},
                       "application/merge-patch+json").body
    assert with_status["metadata"]["generation"] == 1
    respec = call(kube, "PATCH", f"{SERVICES}/web", {"spec": {"sessionAffinity": "ClientIP"}},
                  "application/merge-patch+json").body
    assert respec["metadata"]["generation"] == 2


def test_no_op_patch_does_not_bump_resource_version(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    same = call(kube, "PATCH", f"{SERVICES}/web", {"spec": {"type": "LoadBalancer"}},
                "application/merge-patch+json").body
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_immutable_metadata_cannot_be_patched(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    patched = call(kube, "PATCH", f"{SERVICES}/web",
                   {"metadata": {"uid": "forged", "creationTimestamp": "2000-01-01T00:00:00Z"}},
                   "application/merge-patch+json").body
    assert patched["metadata"]["uid"] == created["metadata"]["uid"]
    assert patched["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


def test_unknown_patch_type_is_unsupported_media_type(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    reply = call(kube, "PATCH", f"{SERVICES}/web", {"spec": {}}, "application/json")
    assert reply.status == 415
    assert reply.body["reason"] == "UnsupportedMediaType"


def test_dry_run_answers_what_would_be_stored_and_stores_nothing(kube: EmulatedKubernetes) -> None:
    body = {"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    reply = call(kube, "POST", f"{SERVICES}?dryRun=All", body)
    assert reply.status == 201
    assert reply.body["metadata"]["uid"] and reply.body["spec"]["ports"][0]["nodePort"]
    assert kube.get("v1", "services", "default", "web") is None
    create_service(kube, "web")
    patched = call(kube, "PATCH", f"{SERVICES}/web?dryRun=All", {"metadata": {"labels": {"a": "b"}}}, MERGE)
    assert patched.status == 200 and patched.body["metadata"]["labels"] == {"a": "b"}
    current = call(kube, "GET", f"{SERVICES}/web").body
    current["spec"]["sessionAffinity"] = "ClientIP"
    replaced = call(kube, "PUT", f"{SERVICES}/web?dryRun=All", current)
    assert replaced.status == 200 and replaced.body["spec"]["sessionAffinity"] == "ClientIP"
    deleted = call(kube, "DELETE", f"{SERVICES}/web?dryRun=All")
    assert deleted.status == 200
    stored = kube.get("v1", "services", "default", "web")
    assert stored is not None and "labels" not in stored["metadata"]
    assert stored["spec"]["sessionAffinity"] == "None"
    assert call(kube, "POST", f"{SERVICES}?dryRun=Some", body).status == 400
