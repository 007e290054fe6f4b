"""What the controller keeps of a Service."""

from __future__ import annotations

from typing import Any

from cloudlb.memory import LAST_APPLIED, slim_service


def test_a_cached_service_drops_managed_fields_and_kubectls_copy_and_keeps_everything_read() -> None:
    service: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7", "generation": 2,
                     "finalizers": ["service.kubernetes.io/load-balancer-cleanup"],
                     "annotations": {LAST_APPLIED: '{"big": "copy"}', "cloudlb.io/share-key": "k"},
                     "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
    }
    slim = slim_service(service)
    assert "managedFields" not in slim["metadata"]
    assert slim["metadata"]["annotations"] == {"cloudlb.io/share-key": "k"}
    assert {k: v for k, v in slim["metadata"].items() if k != "annotations"} == {
        k: v for k, v in service["metadata"].items() if k not in ("annotations", "managedFields")}
    assert (slim["spec"], slim["status"], slim["kind"]) == (service["spec"], service["status"], "Service")
    assert "managedFields" in service["metadata"], "the event's own object is left as it was"


def test_a_service_without_metadata_or_annotations_is_kept_as_it_is() -> None:
    assert slim_service({"spec": {}}) == {"spec": {}}
    assert slim_service({"metadata": {"name": "a"}}) == {"metadata": {"name": "a"}}

