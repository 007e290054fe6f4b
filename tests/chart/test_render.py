"""The chart renders, lints strictly and produces valid objects for every documented setup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pytest

from tests.chart.rendering import (
    CHART_DIR,
    REQUIRED_VALUES,
    controller_container,
    documented_setups,
    example_files,
    load_values,
    objects_of_kind,
    only_object,
    render,
    rendered_objects,
)
from tests.chart.validation import CUSTOM_KINDS, KUBERNETES_VERSIONS, schema_errors, service_monitor_problems

EXAMPLES = example_files()
SETUPS = documented_setups()
SETUP_IDS = [name for name, _ in SETUPS]

pytestmark = pytest.mark.timeout(60)


def test_there_are_documented_examples_for_both_clouds() -> None:
    providers = {load_values(path)["provider"] for path in EXAMPLES}
    assert providers == {"aws", "gcp"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_explains_itself_in_a_comment_header(path: Path) -> None:
    first_line = path.read_text().splitlines()[0]
    assert first_line.startswith("# "), f"{path.name} should open with a comment saying what setup it is for"


@pytest.mark.parametrize(("name", "values"), SETUPS, ids=SETUP_IDS)
@pytest.mark.parametrize("kube_version", [f"v{v}" for v in KUBERNETES_VERSIONS])
def test_chart_lints_strictly(name: str, values: dict[str, Any], kube_version: str) -> None:
    report = helm_python.lint(CHART_DIR, values, strict=True, kube_version=kube_version)
    # Severity 2 is a warning, 3 an error; strict lint fails on both. "icon is recommended" is info (1).
    findings = [m for m in report["messages"] if m["severity"] >= 2]
    assert findings == []
    assert report["errors"] == []


@pytest.mark.parametrize(("name", "values"), SETUPS, ids=SETUP_IDS)
def test_every_rendered_object_is_valid_kubernetes(name: str, values: dict[str, Any]) -> None:
    objects = rendered_objects(values)
    kinds = {obj["kind"] for obj in objects}
    assert {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= kinds
    assert ({"Role", "RoleBinding"} <= kinds) == values.get("leaderElection", {}).get("enabled", True)
    errors = [
        error
        for obj in objects
        # Custom kinds have no schema in kubernetes-validate; they are checked in the tests below.
        if (obj["apiVersion"], obj["kind"]) not in CUSTOM_KINDS
        for version in KUBERNETES_VERSIONS
        if (error := schema_errors(obj, version)) is not None
    ]
    assert errors == []


def test_the_chart_ships_no_custom_resource_definitions() -> None:
    # Leader election uses a built-in Lease; nothing is left for Helm's crds/ folder to install.
    assert not (CHART_DIR / "crds").exists()


def test_the_validator_catches_an_unknown_field() -> None:
    # Guards the tests above against a validator that accepts anything.
    deployment = only_object(rendered_objects(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    error = schema_errors(deployment, KUBERNETES_VERSIONS[0])
    assert error is not None
    assert "imagePullPolicyy" in error


@pytest.mark.parametrize(("name", "values"), SETUPS, ids=SETUP_IDS)
def test_leader_election_flags_match_the_role(name: str, values: dict[str, Any]) -> None:
    objects = rendered_objects(values)
    args = controller_container(objects)["args"]
    roles = objects_of_kind(objects, "Role")
    if not values.get("leaderElection", {}).get("enabled", True):
        assert roles == []
        assert "--leader-elect=false" in args
        return
    (role,) = roles
    (lease,) = [rule["resourceNames"][0] for rule in role["rules"] if rule.get("resourceNames")]
    assert f"--leader-elect-resource-name={lease}" in args
    assert f"--leader-elect-resource-namespace={role['metadata']['namespace']}" in args


def test_service_monitor_scrapes_the_metrics_service() -> None:
    objects = rendered_objects({**REQUIRED_VALUES, "metrics": {"serviceMonitor": {
        "enabled": True, "interval": "30s", "labels": {"release": "prom"}}}})
    monitor = only_object(objects, "ServiceMonitor")
    services = objects_of_kind(objects, "Service")
    assert service_monitor_problems(monitor, services) == []
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["interval"] == "30s"
    # ... and the Service reaches the container port that serves /metrics.
    (service,) = services
    container = controller_container(objects)
    target = service["spec"]["ports"][0]["targetPort"]
    assert {"name": target, "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    assert service["spec"]["selector"].items() <= (
        only_object(objects, "Deployment")["spec"]["template"]["metadata"]["labels"].items())


def test_service_monitor_check_notices_a_wrong_port() -> None:
    objects = rendered_objects({**REQUIRED_VALUES, "metrics": {"serviceMonitor": {"enabled": True}}})
    monitor = only_object(objects, "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["port"] = "http"
    problems = service_monitor_problems(monitor, objects_of_kind(objects, "Service"))
    assert problems == ["endpoint port 'http' is not a port of {'metrics'}"]


def test_no_service_monitor_by_default() -> None:
    assert objects_of_kind(rendered_objects(), "ServiceMonitor") == []


def test_notes_tell_how_to_check_the_installation() -> None:
    notes = render()["cloudlb/templates/NOTES.txt"]
    assert "kubectl -n kube-system rollout status deployment/cloudlb" in notes
    assert "loadBalancerClass" in notes and "cloudlb.io/aws" in notes
    assert "kubectl -n kube-system get lease cloudlb -o jsonpath='{.spec.holderIdentity}'" in notes
    assert "/metrics" in notes
