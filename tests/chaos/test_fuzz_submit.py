"""How the chaos run's generated Services reach the cluster: created, planted (validation refused them only), or
counted as not storable on any API server.

Against the emulated API server over HTTP, as the run does it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.chaos import fuzz
from cloudlb.kubeapi import EmulatedKubernetes


@pytest.fixture
def kube() -> Iterator[EmulatedKubernetes]:
    with EmulatedKubernetes() as cluster:
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fuzz"}})
        yield cluster


def manifest(name: str, metadata: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return fuzz.as_manifest({"metadata": metadata or {}, "spec": spec}, name, "fuzz")


def test_a_valid_service_is_created_through_the_api(kube: EmulatedKubernetes) -> None:
    assert fuzz.submit(kube, manifest("ok"))[:2] == ("accepted", 201)
    assert kube.get("v1", "services", "fuzz", "ok") is not None


def test_what_validation_refuses_is_planted_as_an_older_server_stored_it(kube: EmulatedKubernetes) -> None:
    outcome, status, message = fuzz.submit(kube, manifest("old", externalTrafficPolicy="Nope"))
    assert (outcome, status) == ("planted", 422), message
    stored = kube.get("v1", "services", "fuzz", "old")
    assert stored is not None and stored["spec"]["externalTrafficPolicy"] == "Nope"


@pytest.mark.parametrize("annotations", [["a"], "text", {"a": 1}, {"a": {"b": "c"}}])
def test_annotations_no_api_server_can_decode_are_not_storable(kube: EmulatedKubernetes, annotations: Any) -> None:
    outcome, status, message = fuzz.submit(kube, manifest("odd", {"annotations": annotations}))
    assert (outcome, status) == ("refused", 400), message
    assert "ObjectMeta.metadata.annotations" in message
    assert kube.get("v1", "services", "fuzz", "odd") is None


def test_null_annotations_are_a_service_without_annotations(kube: EmulatedKubernetes) -> None:
    body = manifest("nil")
    body["metadata"]["annotations"] = None
    assert fuzz.submit(kube, body)[:2] == ("accepted", 201)
    stored = kube.get("v1", "services", "fuzz", "nil")
    assert stored is not None and "annotations" not in stored["metadata"]


def test_a_service_whose_controller_is_still_retrying_is_not_named_yet() -> None:
    """The judge waits for a verdict: "retrying after a cloud fault" says nothing about the Service's input."""
    warning = [{"type": "Warning", "reason": "SyncLoadBalancerFailed"}]

    def service(reason: str) -> dict[str, Any]:
        return {"status": {"conditions": [{"type": "cloudlb.io/LoadBalancerSynced", "status": "False",
                                           "reason": reason}]}}

    assert not fuzz.is_named(service("RetryingAfterError"), warning)
    assert not fuzz.is_named(service("WaitingForCloud"), warning)
    assert fuzz.is_named(service("InvalidAnnotation"), warning)
    assert not fuzz.is_named(service("InvalidAnnotation"), [])
