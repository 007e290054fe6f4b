"""Discovery documents as kubectl's and kopf's discovery clients read them."""

from __future__ import annotations

from typing import Any

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import call


def _by_name(resource_list: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in resource_list["resources"]}


def test_core_api_versions(kube: EmulatedKubernetes) -> None:
    body = call(kube, "GET", "/api").body
    assert body["kind"] == "APIVersions" and body["versions"] == ["v1"]


def test_core_v1_resources(kube: EmulatedKubernetes) -> None:
    body = call(kube, "GET", "/api/v1").body
    assert body["kind"] == "APIResourceList" and body["groupVersion"] == "v1"
    resources = _by_name(body)
    assert resources["services"]["kind"] == "Service" and resources["services"]["namespaced"] is True
    assert resources["services"]["shortNames"] == ["svc"]
    assert resources["nodes"]["shortNames"] == ["no"] and resources["nodes"]["namespaced"] is False
    assert resources["events"]["shortNames"] == ["ev"]
    assert resources["namespaces"]["shortNames"] == ["ns"]
    assert set(resources["services"]["verbs"]) >= {"create", "delete", "get", "list", "patch", "update", "watch"}
    status = resources["services/status"]
    assert "shortNames" not in status and status["kind"] == "Service"
    assert set(status["verbs"]) == {"get", "patch", "update"}
    assert "nodes/status" in resources


def test_groups_and_group_versions(kube: EmulatedKubernetes) -> None:
    groups = {group["name"]: group for group in call(kube, "GET", "/apis").body["groups"]}
    assert {"kopf.dev", "events.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io"} <= set(groups)
    assert groups["kopf.dev"]["preferredVersion"] == {"groupVersion": "kopf.dev/v1", "version": "v1"}
    group = call(kube, "GET", "/apis/kopf.dev").body
    assert group["kind"] == "APIGroup" and group["name"] == "kopf.dev"
    peerings = _by_name(call(kube, "GET", "/apis/kopf.dev/v1").body)
    assert peerings["clusterkopfpeerings"]["namespaced"] is False
    assert peerings["kopfpeerings"]["namespaced"] is True
    leases = call(kube, "GET", "/apis/coordination.k8s.io/v1").body
    assert leases["groupVersion"] == "coordination.k8s.io/v1"
    assert _by_name(leases)["leases"]["kind"] == "Lease"


def test_unknown_group_and_resource_are_not_found(kube: EmulatedKubernetes) -> None:
    assert call(kube, "GET", "/apis/example.com").status == 404
    assert call(kube, "GET", "/apis/example.com/v1").status == 404
    reply = call(kube, "GET", "/api/v1/pods")
    assert reply.status == 404 and reply.body["kind"] == "Status"


def test_version_health_and_no_openapi(kube: EmulatedKubernetes) -> None:
    version = call(kube, "GET", "/version").body
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.")
    assert call(kube, "GET", "/healthz").body == "ok"
    assert call(kube, "GET", "/openapi/v2").status == 404


def test_initial_namespaces_are_listed_with_kind(kube: EmulatedKubernetes) -> None:
    body = call(kube, "GET", "/api/v1/namespaces").body
    assert body["kind"] == "NamespaceList" and body["apiVersion"] == "v1"
    names = {item["metadata"]["name"] for item in body["items"]}
    assert {"default", "kube-system"} <= names
    default = call(kube, "GET", "/api/v1/namespaces/default").body
    assert default["kind"] == "Namespace" and default["status"]["phase"] == "Active"


def test_lists_of_other_groups_carry_their_api_version(kube: EmulatedKubernetes) -> None:
    body = call(kube, "GET", "/apis/kopf.dev/v1/clusterkopfpeerings").body
    assert body["kind"] == "ClusterKopfPeeringList" and body["apiVersion"] == "kopf.dev/v1"
