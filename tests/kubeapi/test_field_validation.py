"""fieldValidation=Strict|Warn|Ignore on create, update and patch: unknown and duplicate fields."""

from __future__ import annotations

import http.client
import json

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.kubeapi.errors import ApiError
from tests.kubeapi.client import MERGE, SERVICES, call, create_service, service

DUPLICATE_NAME = (b'{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","name":"other"},'
                  b'"spec":{"ports":[{"port":80}]}}')


def raw_post(kube: EmulatedKubernetes, query: str, body: bytes) -> tuple[int, dict[str, object], list[str]]:
    connection = http.client.HTTPConnection("127.0.0.1", kube.port, timeout=10)
    try:
        connection.request("POST", f"{SERVICES}{query}", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read())
        return response.status, payload, response.headers.get_all("Warning") or []
    finally:
        connection.close()


def test_strict_refuses_unknown_fields_with_the_decoders_message(kube: EmulatedKubernetes) -> None:
    body = service("web", foo="bar")
    body["spec"]["ports"][0]["bogus"] = 1
    reply = call(kube, "POST", f"{SERVICES}?fieldValidation=Strict", body)
    assert reply.status == 400 and reply.body["reason"] == "BadRequest"
    # In the order the body gives them (spec.ports comes before spec.foo here).
    assert reply.body["message"] == ('Service in version "v1" cannot be handled as a Service: strict decoding error: '
                                     'unknown field "spec.ports[0].bogus", unknown field "spec.foo"')
    assert kube.get("v1", "services", "default", "web") is None


def test_duplicate_fields_are_reported_and_the_last_one_wins(kube: EmulatedKubernetes) -> None:
    status, payload, _ = raw_post(kube, "?fieldValidation=Strict", DUPLICATE_NAME)
    assert status == 400
    assert payload["message"] == ('Service in version "v1" cannot be handled as a Service: strict decoding error: '
                                  'duplicate field "metadata.name"')
    status, payload, warnings = raw_post(kube, "?fieldValidation=Warn", DUPLICATE_NAME)
    assert status == 201 and warnings == ['299 - "duplicate field \\"metadata.name\\""']
    assert payload["metadata"]["name"] == "other"  # type: ignore[index]


@pytest.mark.parametrize("directive", ["Warn", "", "Ignore"])
def test_warn_and_ignore_store_without_the_unknown_field(kube: EmulatedKubernetes, directive: str) -> None:
    query = f"?fieldValidation={directive}" if directive else ""
    status, _, warnings = raw_post(kube, query, json.dumps(service("web", foo="bar")).encode())
    assert status == 201
    assert warnings == ([] if directive == "Ignore" else ['299 - "unknown field \\"spec.foo\\""'])
    stored = kube.get("v1", "services", "default", "web")
    assert stored is not None and "foo" not in stored["spec"]


def test_patches_are_checked_too(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    refused = call(kube, "PATCH", f"{SERVICES}/web?fieldValidation=Strict", {"spec": {"colour": "red"}}, MERGE)
    assert refused.status == 400
    assert refused.body["message"] == 'strict decoding error: unknown field "spec.colour"'
    directive = call(kube, "PATCH", f"{SERVICES}/web?fieldValidation=Strict", {
        "spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"port": 80, "name": "http"}]}},
        "application/strategic-merge-patch+json")
    assert directive.status == 200, directive.body
    assert directive.body["spec"]["ports"][0]["name"] == "http"


def test_an_unknown_directive_is_refused(kube: EmulatedKubernetes) -> None:
    reply = call(kube, "POST", f"{SERVICES}?fieldValidation=Loud", service("web"))
    assert reply.status == 400 and reply.body["message"] == "fieldValidation parameter unsupported: Loud"


def test_untyped_kinds_accept_any_field(kube: EmulatedKubernetes) -> None:
    reply = call(kube, "POST", "/apis/kopf.dev/v1/clusterkopfpeerings?fieldValidation=Strict",
                 {"metadata": {"name": "cloudlb"}, "status": {"anything": {"goes": 1}}})
    assert reply.status == 201, reply.body


@pytest.mark.parametrize(("annotations", "found"), [(["a"], "array"), ("x", "string"), (True, "bool")])
def test_annotations_that_are_not_a_map_of_strings_are_a_400_as_go_decodes_them(
        kube: EmulatedKubernetes, annotations: object, found: str) -> None:
    manifest = service("odd")
    manifest["metadata"]["annotations"] = annotations
    reply = call(kube, "POST", "/api/v1/namespaces/default/services", manifest)
    assert reply.status == 400
    assert reply.body["message"] == (
        'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal '
        f"{found} into Go struct field ObjectMeta.metadata.annotations of type map[string]string")
    merge = call(kube, "PATCH", "/api/v1/namespaces/default/services/kubernetes",
                 {"metadata": {"labels": {"a": 1}}}, content_type="application/merge-patch+json")
    assert merge.status == 400 and "ObjectMeta.metadata.labels of type string" in merge.body["message"]


def test_the_helpers_cannot_store_what_no_api_server_can_decode(kube: EmulatedKubernetes) -> None:
    """The helpers skip validation (to plant what an older server stored), not the Go decoder: no version of the
    API server ever held annotations or labels that are not maps of strings."""
    for field, value in (("annotations", ["a"]), ("labels", {"a": 1})):
        manifest = service("planted")
        manifest["metadata"][field] = value
        with pytest.raises(ApiError) as refused:
            kube.create(manifest)
        assert refused.value.code == 400
        assert f"Go struct field ObjectMeta.metadata.{field}" in str(refused.value)
        assert kube.get("v1", "services", "default", "planted") is None
    kube.create(service("planted"))
    with pytest.raises(ApiError) as refused:
        kube.patch("v1", "services", "default", "planted", {"metadata": {"annotations": {"a": True}}})
    assert refused.value.code == 400


@pytest.mark.parametrize("through", ["http", "helper"])
def test_null_maps_and_entries_are_stored_as_go_decodes_them(kube: EmulatedKubernetes, through: str) -> None:
    """``annotations: null`` is a nil map and ``{}`` an empty one, both omitted; a null entry is ``""``."""
    for name, metadata in (("nil", {"annotations": None, "labels": None}), ("empty", {"annotations": {}}),
                           ("entry", {"annotations": {"a": None, "b": "x"}, "labels": {"c": None}})):
        manifest = service(name)
        manifest["metadata"].update(metadata)
        if through == "http":
            reply = call(kube, "POST", SERVICES, manifest)
            assert reply.status == 201, reply.body
        else:
            kube.create(manifest)
    stored = {}
    for name in ("nil", "empty", "entry"):
        found = kube.get("v1", "services", "default", name)
        assert found is not None
        stored[name] = found
    assert "annotations" not in stored["nil"]["metadata"] and "labels" not in stored["nil"]["metadata"]
    assert "annotations" not in stored["empty"]["metadata"]
    assert stored["entry"]["metadata"]["annotations"] == {"a": "", "b": "x"}
    assert stored["entry"]["metadata"]["labels"] == {"c": ""}
    reply = call(kube, "PATCH", f"{SERVICES}/entry", {"metadata": {"annotations": {"a": None, "b": None}}}, MERGE)
    assert reply.status == 200 and "annotations" not in reply.body["metadata"]


def test_an_unknown_field_named_with_a_control_character_is_warned_about_not_a_dropped_connection(
        kube: EmulatedKubernetes) -> None:
    manifest = service("ctl")
    manifest["spec"]["bad\nfield"] = 1
    reply = call(kube, "POST", "/api/v1/namespaces/default/services?fieldValidation=Warn", manifest)
    assert reply.status == 201
