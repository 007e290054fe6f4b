"""The /status subresource is isolated; finalizers hold a deleted object until they are gone."""

from __future__ import annotations

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import MERGE, SERVICES, WatchStream, call, create_service

INGRESS = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}


def test_status_patch_changes_only_status(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    reply = call(kube, "PATCH", f"{SERVICES}/web/status",
                 {"status": INGRESS, "spec": {"type": "NodePort"}, "metadata": {"labels": {"a": "b"}}}, MERGE)
    assert reply.status == 200
    assert reply.body["status"] == INGRESS
    assert reply.body["spec"]["type"] == "LoadBalancer"
    assert "labels" not in reply.body["metadata"]


def test_main_resource_patch_ignores_status(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    reply = call(kube, "PATCH", f"{SERVICES}/web", {"status": INGRESS, "metadata": {"labels": {"a": "b"}}}, MERGE)
    assert reply.body["metadata"]["labels"] == {"a": "b"}
    assert reply.body["status"] == {"loadBalancer": {}}


def test_status_given_on_create_is_dropped_for_services_but_kept_for_nodes(kube: EmulatedKubernetes) -> None:
    service = create_service(kube, "web").body
    assert service["status"] == {"loadBalancer": {}}
    node = call(kube, "POST", "/api/v1/nodes", {"metadata": {"name": "n1"},
                                                "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert node.body["status"]["conditions"][0]["type"] == "Ready"


def test_put_on_status_replaces_status_only(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    body = dict(created, status=INGRESS, spec=dict(created["spec"], sessionAffinity="ClientIP"))
    reply = call(kube, "PUT", f"{SERVICES}/web/status", body)
    assert reply.status == 200
    assert reply.body["status"] == INGRESS
    assert reply.body["spec"]["sessionAffinity"] == "None"


def test_unknown_subresource_is_not_found(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    assert call(kube, "PATCH", f"{SERVICES}/web/scale", {"spec": {}}, MERGE).status == 404


def test_delete_on_the_status_subresource_is_not_allowed(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    assert call(kube, "DELETE", f"{SERVICES}/web/status").status == 405
    assert call(kube, "GET", f"{SERVICES}/web").status == 200


def test_delete_without_finalizers_removes_at_once(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    reply = call(kube, "DELETE", f"{SERVICES}/web")
    assert reply.status == 200
    assert call(kube, "GET", f"{SERVICES}/web").status == 404


def test_delete_with_finalizers_marks_then_removal_of_last_finalizer_deletes(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"finalizers": ["a/one", "b/two"]}}, MERGE)
    watch = WatchStream(kube, SERVICES, resourceVersion=created["metadata"]["resourceVersion"])
    try:
        marked = call(kube, "DELETE", f"{SERVICES}/web")
        assert marked.status == 200
        assert marked.body["metadata"]["deletionTimestamp"]
        assert marked.body["metadata"]["deletionGracePeriodSeconds"] == 0
        again = call(kube, "DELETE", f"{SERVICES}/web")  # a second delete changes nothing
        assert again.body["metadata"]["resourceVersion"] == marked.body["metadata"]["resourceVersion"]

        ops = [{"op": "remove", "path": "/metadata/finalizers/0"}]
        one_left = call(kube, "PATCH", f"{SERVICES}/web", ops, "application/json-patch+json")
        assert one_left.body["metadata"]["finalizers"] == ["b/two"]
        assert call(kube, "GET", f"{SERVICES}/web").status == 200

        gone = call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"finalizers": None}}, MERGE)
        assert gone.status == 200
        assert call(kube, "GET", f"{SERVICES}/web").status == 404

        types = [watch.next_event()["type"] for _ in range(5)]
        assert types == ["MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"]
    finally:
        watch.close()


def test_no_new_finalizers_on_an_object_being_deleted(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"finalizers": ["a/one"]}}, MERGE)
    call(kube, "DELETE", f"{SERVICES}/web")
    reply = call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"finalizers": ["a/one", "b/new"]}}, MERGE)
    assert reply.status == 422
    assert reply.body["reason"] == "Invalid"
    assert reply.body["details"]["causes"][0]["field"] == "metadata.finalizers"


def test_strategic_merge_patch_replaces_the_finalizers_list(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"finalizers": ["a/one", "b/two"]}}, MERGE)
    reply = call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"finalizers": ["b/two"]}},
                 "application/strategic-merge-patch+json")
    assert reply.body["metadata"]["finalizers"] == ["b/two"]


def test_delete_precondition_on_uid(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    reply = call(kube, "DELETE", f"{SERVICES}/web", {"preconditions": {"uid": "not-the-uid"}})
    assert reply.status == 409
    assert call(kube, "GET", f"{SERVICES}/web").status == 200
