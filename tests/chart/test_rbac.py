"""The ClusterRole and the leader-election Role grant what the controller uses, no more.

See also the recorded-requests test, which runs the controller and compares.
"""

from __future__ import annotations

import pytest

from tests.chart.rendering import (
    REQUIRED_VALUES,
    Rule,
    clusterrole_rules,
    granted_rules,
    objects_of_kind,
    only_object,
    rendered_objects,
)

pytestmark = pytest.mark.timeout(60)

CONTROLLER: set[Rule] = {
    ("", "services", "get"), ("", "services", "list"), ("", "services", "watch"), ("", "services", "patch"),
    ("", "services/status", "patch"),
    ("", "nodes", "list"), ("", "nodes", "watch"),
    ("discovery.k8s.io", "endpointslices", "list"), ("discovery.k8s.io", "endpointslices", "watch"),
    ("", "events", "create"), ("", "events", "patch"),
}
LEASE: set[Rule] = {("coordination.k8s.io", "leases", verb) for verb in ("create", "get", "update")}
CRD_SCANNING: set[Rule] = {("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("list", "watch")}
SINGLE_REPLICA = {**REQUIRED_VALUES, "replicaCount": 1, "leaderElection": {"enabled": False}}


def test_default_rules_are_exactly_the_controllers_requests() -> None:
    assert clusterrole_rules() == CONTROLLER | CRD_SCANNING
    assert granted_rules() == CONTROLLER | CRD_SCANNING | LEASE


def test_without_leader_election_there_is_no_lease_role() -> None:
    objects = rendered_objects(SINGLE_REPLICA)
    assert objects_of_kind(objects, "Role") == [] and objects_of_kind(objects, "RoleBinding") == []
    assert granted_rules(SINGLE_REPLICA) == CONTROLLER | CRD_SCANNING


def test_crd_scanning_can_be_switched_off() -> None:
    assert clusterrole_rules({**REQUIRED_VALUES, "rbac": {"crdScanning": False}}) == CONTROLLER


def test_nothing_is_granted_on_secrets_or_writes_on_nodes() -> None:
    rules = granted_rules()
    assert not {rule for rule in rules if rule[1] == "secrets"}
    assert {verb for group, resource, verb in rules if resource == "nodes"} == {"list", "watch"}
    assert not {rule for rule in rules if rule[0] == "events.k8s.io" or "*" in rule}


def test_lease_reads_and_renewals_are_limited_to_the_releases_lease_in_its_namespace() -> None:
    objects = rendered_objects({**REQUIRED_VALUES, "leaderElection": {"leaseName": "lb-leader"}})
    role = only_object(objects, "Role")
    assert role["metadata"]["namespace"] == "kube-system"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["lb-leader"],
         "verbs": ["get", "update"]},
    ]
    args = only_object(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-elect-resource-name=lb-leader" in args
    assert "--leader-elect-resource-namespace=kube-system" in args
    assert not [rule for rule in only_object(objects, "ClusterRole")["rules"] if rule.get("resourceNames")]


def test_two_releases_compete_for_separate_leases_by_default() -> None:
    first = only_object(rendered_objects(release="lb-public"), "Role")["rules"][1]["resourceNames"]
    second = only_object(rendered_objects(release="lb-private"), "Role")["rules"][1]["resourceNames"]
    assert (first, second) == (["lb-public-cloudlb"], ["lb-private-cloudlb"])


def test_bindings_give_the_roles_to_the_controllers_service_account() -> None:
    objects = rendered_objects({**REQUIRED_VALUES, "serviceAccount": {"name": "lb-controller"}})
    subject = [{"kind": "ServiceAccount", "name": "lb-controller", "namespace": "kube-system"}]
    for binding_kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        binding, role = only_object(objects, binding_kind), only_object(objects, role_kind)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                                      "name": role["metadata"]["name"]}
        assert binding["subjects"] == subject
    pod = only_object(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "lb-controller"
    assert only_object(objects, "ServiceAccount")["metadata"]["name"] == "lb-controller"


def test_rbac_can_be_left_to_the_operator() -> None:
    kinds = {obj["kind"] for obj in rendered_objects({**REQUIRED_VALUES, "rbac": {"create": False}})}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
