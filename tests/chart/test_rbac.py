"""The ClusterRole grants what the controller uses, no more (see also the recorded-requests test)."""

from __future__ import annotations

import pytest

from tests.chart.rendering import REQUIRED_VALUES, Rule, clusterrole_rules, only_object, rendered_objects

pytestmark = pytest.mark.timeout(60)

CONTROLLER: set[Rule] = {
    ("", "services", "get"), ("", "services", "list"), ("", "services", "watch"), ("", "services", "patch"),
    ("", "services/status", "patch"),
    ("", "nodes", "list"), ("", "nodes", "watch"),
    ("", "events", "create"),
}
PEERING: set[Rule] = {("kopf.dev", "clusterkopfpeerings", verb) for verb in ("list", "watch", "get", "patch")}
CRD_SCANNING: set[Rule] = {("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("list", "watch")}


def test_default_rules_are_exactly_the_controllers_requests() -> None:
    assert clusterrole_rules() == CONTROLLER | PEERING | CRD_SCANNING


def test_standalone_drops_the_peering_rules() -> None:
    values = {**REQUIRED_VALUES, "replicaCount": 1, "peering": {"standalone": True}}
    assert clusterrole_rules(values) == CONTROLLER | CRD_SCANNING


def test_crd_scanning_can_be_switched_off() -> None:
    assert clusterrole_rules({**REQUIRED_VALUES, "rbac": {"crdScanning": False}}) == CONTROLLER | PEERING


def test_nothing_is_granted_on_secrets_or_writes_on_nodes() -> None:
    rules = clusterrole_rules()
    assert not {rule for rule in rules if rule[1] == "secrets"}
    assert {verb for group, resource, verb in rules if resource == "nodes"} == {"list", "watch"}
    assert not {rule for rule in rules if rule[0] == "events.k8s.io" or "*" in rule}


def test_peering_writes_are_limited_to_the_releases_peering_object() -> None:
    objects = rendered_objects({**REQUIRED_VALUES, "peering": {"name": "lb-peers"}})
    rules = only_object(objects, "ClusterRole")["rules"]
    named = [rule for rule in rules if rule.get("resourceNames")]
    assert named == [{"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"],
                      "resourceNames": ["lb-peers"], "verbs": ["get", "patch"]}]
    assert only_object(objects, "ClusterKopfPeering")["metadata"]["name"] == "lb-peers"


def test_two_releases_get_separate_peering_objects_by_default() -> None:
    first = only_object(rendered_objects(release="lb-public"), "ClusterKopfPeering")
    second = only_object(rendered_objects(release="lb-private"), "ClusterKopfPeering")
    assert first["metadata"]["name"] == "lb-public-cloudlb"
    assert second["metadata"]["name"] == "lb-private-cloudlb"


def test_binding_gives_the_role_to_the_controllers_service_account() -> None:
    objects = rendered_objects({**REQUIRED_VALUES, "serviceAccount": {"name": "lb-controller"}})
    binding = only_object(objects, "ClusterRoleBinding")
    role = only_object(objects, "ClusterRole")
    pod = only_object(objects, "Deployment")["spec"]["template"]["spec"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "lb-controller", "namespace": "kube-system"}]
    assert pod["serviceAccountName"] == "lb-controller"
    assert only_object(objects, "ServiceAccount")["metadata"]["name"] == "lb-controller"


def test_rbac_can_be_left_to_the_operator() -> None:
    kinds = {obj["kind"] for obj in rendered_objects({**REQUIRED_VALUES, "rbac": {"create": False}})}
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
