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
    crd_objects,
    documented_setups,
    example_files,
    load_values,
    objects_of_kind,
    only_object,
    render,
    rendered_objects,
)
from tests.chart.validation import (
    CUSTOM_KINDS,
    KUBERNETES_VERSIONS,
    peering_problems,
    schema_errors,
    service_monitor_problems,
)

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
    errors = [
        error
        for obj in objects
        # Custom kinds have no schema in kubernetes-validate; they are checked in the tests below.
        if (obj["apiVersion"], obj["kind"]) not in CUSTOM_KINDS
        for version in KUBERNETES_VERSIONS
        if (error := schema_errors(obj, version)) is not None
    ]
    assert errors == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_shipped_crds_are_valid_kubernetes(version: str) -> None:
    crds = crd_objects()
    assert [crd["metadata"]["name"] for crd in crds] == ["clusterkopfpeerings.kopf.dev"]
    assert [schema_errors(crd, version) for crd in crds] == [None]


def test_the_validator_catches_an_unknown_field() -> None:
    # Guards the tests above against a validator that accepts anything.
    deployment = only_object(rendered_objects(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    error = schema_errors(deployment, KUBERNETES_VERSIONS[0])
    assert error is not None
    assert "imagePullPolicyy" in error


@pytest.mark.parametrize(("name", "values"), SETUPS, ids=SETUP_IDS)
def test_peering_object_matches_the_shipped_crd_and_the_controller_flag(name: str, values: dict[str, Any]) -> None:
    objects = rendered_objects(values)
    peerings = objects_of_kind(objects, "ClusterKopfPeering")
    args = controller_container(objects)["args"]
    if values.get("peering", {}).get("standalone"):
        assert peerings == []
        assert "--standalone" in args
        return
    (peering,) = peerings
    assert peering_problems(peering, crd_objects()) == []
    assert f"--peering={peering['metadata']['name']}" in args


def test_peering_check_rejects_an_object_no_crd_serves() -> None:
    stray = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "x", "namespace": "y"}}
    assert peering_problems(stray, crd_objects()) == ["no shipped CRD serves kopf.dev/v1 KopfPeering"]


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
    assert "kubectl get clusterkopfpeering cloudlb" in notes
    assert "/metrics" in notes
