"""The OpenAPI v3 documents kubectl reads (root, per group-version) and the bundles they come from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.kubeapi.protobuf_bundle import BUNDLE_PATH as PROTOBUF_BUNDLE
from cloudlb.kubeapi.protobuf_bundle import build_bundle as build_protobuf_bundle
from cloudlb.kubeapi.schema_bundle import BUNDLE_PATH as SCHEMA_BUNDLE
from cloudlb.kubeapi.schema_bundle import build_bundle as build_schema_bundle
from tests.kubeapi.client import call


def _document(kube: EmulatedKubernetes, group_version: str) -> dict[str, Any]:
    root = call(kube, "GET", "/openapi/v3").body
    url = root["paths"][group_version]["serverRelativeURL"]
    assert url.startswith(f"/openapi/v3/{group_version}?hash=")
    reply = call(kube, "GET", url)
    assert reply.status == 200 and reply.content_type == "application/json"
    document: dict[str, Any] = reply.body
    return document


def test_root_lists_every_served_group_version(kube: EmulatedKubernetes) -> None:
    paths = call(kube, "GET", "/openapi/v3").body["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/discovery.k8s.io/v1", "apis/kopf.dev/v1",
            "apis/coordination.k8s.io/v1", "apis/events.k8s.io/v1"} <= set(paths)
    assert call(kube, "GET", "/openapi/v3/apis/nothing/v1").status == 404


def test_patch_operations_declare_field_validation_for_their_kind(kube: EmulatedKubernetes) -> None:
    """What kubectl's QueryParamVerifierV3 looks for before it leaves validation to the server."""
    for group_version, kind in (("api/v1", "Service"), ("apis/apps/v1", "Deployment"),
                                ("apis/kopf.dev/v1", "ClusterKopfPeering")):
        document = _document(kube, group_version)
        patches = [path["patch"] for path in document["paths"].values() if "patch" in path
                   and path["patch"]["x-kubernetes-group-version-kind"]["kind"] == kind]
        assert patches, kind
        assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= {
            parameter["name"] for parameter in patches[0]["parameters"]}
        assert "application/apply-patch+yaml" in patches[0]["requestBody"]["content"]


def test_schemas_are_the_kubernetes_definitions_shaped_as_the_server_serves_them(kube: EmulatedKubernetes) -> None:
    schemas = _document(kube, "api/v1")["components"]["schemas"]
    service = schemas["io.k8s.api.core.v1.Service"]
    assert service["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Service", "version": "v1"}]
    assert service["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ServiceSpec"}]
    ports = schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert ports["type"] == "array" and ports["x-kubernetes-list-map-keys"] == ["port", "protocol"]
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["x-kubernetes-int-or-string"] is True
    peering = _document(kube, "apis/kopf.dev/v1")["components"]["schemas"]["dev.kopf.v1.KopfPeering"]
    assert peering["x-kubernetes-preserve-unknown-fields"] is True


def test_the_schema_bundle_is_what_kubernetes_validate_ships() -> None:
    assert json.loads(Path(SCHEMA_BUNDLE).read_text()) == build_schema_bundle()


def test_the_protobuf_tables_are_those_compiled_into_kubectl() -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl must be on PATH for these tests"
    assert json.loads(Path(PROTOBUF_BUNDLE).read_text()) == build_protobuf_bundle(Path(kubectl).read_bytes())
