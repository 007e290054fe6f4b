"""Namespaces with their lifecycle, Deployments and EndpointSlices over HTTP."""

from __future__ import annotations

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import MERGE, WatchStream, call, create_service

SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"


def deployment(name: str, labels: dict[str, str], selector: dict[str, str]) -> dict[str, object]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": selector},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}}


def endpoint_slice(name: str, service: str, address: str) -> dict[str, object]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def test_a_new_namespace_is_defaulted_as_upstream_does(kube: EmulatedKubernetes) -> None:
    created = call(kube, "POST", "/api/v1/namespaces", {"metadata": {"name": "shop"}})
    assert created.status == 201
    assert created.body["metadata"]["labels"] == {"kubernetes.io/metadata.name": "shop"}
    assert created.body["spec"] == {"finalizers": ["kubernetes"]} and created.body["status"] == {"phase": "Active"}
    bad = call(kube, "POST", "/api/v1/namespaces", {"metadata": {"name": "Shop"}})
    assert bad.status == 422
    assert bad.body["message"].startswith('Namespace "Shop" is invalid: metadata.name: Invalid value: "Shop": '
                                          "a lowercase RFC 1123 label must consist of")
    missing = create_service(kube, "web", namespace="nowhere")
    assert missing.status == 404 and missing.body["message"] == 'namespaces "nowhere" not found'


def test_deleting_a_namespace_empties_it_and_waits_for_finalizers(kube: EmulatedKubernetes) -> None:
    call(kube, "POST", "/api/v1/namespaces", {"metadata": {"name": "shop"}})
    create_service(kube, "free", namespace="shop")
    create_service(kube, "held", namespace="shop")
    call(kube, "PATCH", "/api/v1/namespaces/shop/services/held", {"metadata": {"finalizers": ["x.io/hold"]}}, MERGE)
    deleting = call(kube, "DELETE", "/api/v1/namespaces/shop")
    assert deleting.status == 200 and deleting.body["status"]["phase"] == "Terminating"
    assert kube.get("v1", "services", "shop", "free") is None
    held = kube.get("v1", "services", "shop", "held")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    refused = call(kube, "POST", "/api/v1/namespaces/shop/services",
                   {"metadata": {"generateName": "late-"}, "spec": {"ports": [{"port": 80}]}})
    assert refused.status == 403 and refused.body["reason"] == "Forbidden"
    assert refused.body["message"] == ("services is forbidden: unable to create new content in namespace shop "
                                       "because it is being terminated")
    assert refused.body["details"]["causes"] == [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                                  "message": "namespace shop is being terminated"}]
    call(kube, "PATCH", "/api/v1/namespaces/shop/services/held", {"metadata": {"finalizers": None}}, MERGE)
    assert kube.get("v1", "namespaces", None, "shop") is None


def test_deployments_are_defaulted_validated_and_say_nothing_runs_them(kube: EmulatedKubernetes) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    created = call(kube, "POST", path, deployment("web", {"app": "web"}, {"app": "web"}))
    assert created.status == 201, created.body
    spec = created.body["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"  # no tag: latest
    (condition,) = created.body["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Progressing", "Unknown", "NoControllerInSandbox")
    mismatch = call(kube, "POST", path, deployment("bad", {"app": "other"}, {"app": "web"}))
    assert mismatch.status == 422
    assert mismatch.body["message"] == ('Deployment.apps "bad" is invalid: spec.template.metadata.labels: Invalid '
                                        'value: map[string]string{"app":"other"}: `selector` does not match template '
                                        "`labels`")
    assert call(kube, "GET", "/apis/apps/v1/namespaces/default/replicasets").body["items"] == []


def test_endpoint_slices_list_and_watch_by_service_name(kube: EmulatedKubernetes) -> None:
    selector = "kubernetes.io/service-name=web"
    watch = WatchStream(kube, SLICES, labelSelector=selector)
    try:
        assert call(kube, "POST", SLICES, endpoint_slice("web-abc", "web", "10.1.0.5")).status == 201
        assert call(kube, "POST", SLICES, endpoint_slice("api-def", "api", "10.1.0.6")).status == 201
        event = watch.next_event()
        assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "web-abc"
    finally:
        watch.close()
    listed = call(kube, "GET", f"{SLICES}?labelSelector={selector}").body["items"]
    assert [item["endpoints"][0]["addresses"] for item in listed] == [["10.1.0.5"]]
    untyped = call(kube, "POST", SLICES, {"metadata": {"name": "x"}, "endpoints": []})
    assert untyped.status == 422
    assert untyped.body["message"] == 'EndpointSlice.discovery.k8s.io "x" is invalid: addressType: Required value'
