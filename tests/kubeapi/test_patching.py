"""The three patch formats, checked directly and over HTTP with the Content-Types clients send."""

from __future__ import annotations

from typing import Any

import pytest

from cloudlb.kubeapi import ApiError, EmulatedKubernetes
from cloudlb.kubeapi.patching import json_patch, merge_patch, strategic_merge_patch
from tests.kubeapi.client import call, create_service


def test_merge_patch_merges_dicts_deletes_nulls_and_replaces_lists() -> None:
    document = {"a": {"b": 1, "c": 2}, "list": [1, 2], "gone": True}
    patched = merge_patch(document, {"a": {"b": 9}, "list": [3], "gone": None})
    assert patched == {"a": {"b": 9, "c": 2}, "list": [3]}
    assert document["a"] == {"b": 1, "c": 2}  # the original is untouched


def test_strategic_merge_patch_merges_ports_by_port_and_follows_element_order() -> None:
    spec: dict[str, Any] = {"ports": [{"name": "http", "port": 80, "nodePort": 31000},
                                      {"name": "https", "port": 443, "nodePort": 31001}]}
    patch = {"$setElementOrder/ports": [{"port": 443}, {"port": 80}, {"port": 53}],
             "ports": [{"port": 80, "targetPort": 8080}, {"port": 53, "name": "dns"}]}
    patched = strategic_merge_patch(spec, patch)
    assert patched["ports"] == [
        {"name": "https", "port": 443, "nodePort": 31001},
        {"name": "http", "port": 80, "nodePort": 31000, "targetPort": 8080},
        {"port": 53, "name": "dns"},
    ]


def test_strategic_merge_patch_delete_directive_and_scalar_lists() -> None:
    spec = {"ports": [{"port": 80}, {"port": 443}], "finalizers": ["a", "b"]}
    patched = strategic_merge_patch(spec, {"ports": [{"port": 80, "$patch": "delete"}], "finalizers": ["c"]})
    assert patched == {"ports": [{"port": 443}], "finalizers": ["c"]}


def test_json_patch_operations() -> None:
    document = {"metadata": {"finalizers": ["a"]}, "spec": {"x": 1}}
    patched = json_patch(document, [
        {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
        {"op": "replace", "path": "/spec/x", "value": 2},
        {"op": "copy", "from": "/spec/x", "path": "/spec/y"},
        {"op": "move", "from": "/spec/y", "path": "/spec/z"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
        {"op": "test", "path": "/spec/z", "value": 2},
    ])
    assert patched == {"metadata": {"finalizers": ["b"]}, "spec": {"x": 2, "z": 2}}


@pytest.mark.parametrize("operation", [
    {"op": "test", "path": "/spec/x", "value": 2},
    {"op": "remove", "path": "/spec/missing"},
    {"op": "replace", "path": "/spec/missing", "value": 1},
    {"op": "add", "path": "/nowhere/deep", "value": 1},
    {"op": "frobnicate", "path": "/spec"},
    # Other scripts' digits are not array indexes (str.isdigit() takes them, int() refuses "²").
    {"op": "replace", "path": "/spec/list/\u00b2", "value": 1},
    {"op": "add", "path": "/spec/list/\u0663", "value": 1},
])
def test_json_patch_failures_are_422(operation: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as raised:
        json_patch({"spec": {"x": 1, "list": [0, 1, 2, 3, 4]}}, [operation])
    assert raised.value.code == 422


def test_kubectl_apply_style_strategic_patch_over_http(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web", ports=[{"name": "http", "port": 80}]).body
    patch = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
             "spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 443}],
                      "ports": [{"name": "https", "port": 443}]}}
    reply = call(kube, "PATCH", "/api/v1/namespaces/default/services/web", patch,
                 "application/strategic-merge-patch+json")
    assert reply.status == 200, reply.body
    ports = reply.body["spec"]["ports"]
    assert [port["port"] for port in ports] == [80, 443]
    assert ports[0]["nodePort"] == created["spec"]["ports"][0]["nodePort"]
    assert ports[1]["nodePort"] and ports[1]["protocol"] == "TCP"
