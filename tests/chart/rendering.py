"""Render the cloudlb chart offline with the real Helm engine and read what it produced.

Shared by the chart tests and by the recorded-RBAC test of the controller, which
compares the requests the running controller makes with ``clusterrole_rules()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import helm_python
import yaml

from cloudlb.kubeapi import RecordedRequest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "cloudlb"
EXAMPLES_DIR = REPO_ROOT / "charts" / "examples"

RELEASE_NAME = "cloudlb"
RELEASE_NAMESPACE = "kube-system"

# The two values without a default (the chart refuses to guess them).
REQUIRED_VALUES: dict[str, Any] = {"provider": "aws", "clusterName": "test-cluster"}

Rule = tuple[str, str, str]  # (apiGroup, resource, verb); apiGroup "" is the core group


def example_files() -> list[Path]:
    """The documented values examples, each a complete set of values for one installation."""
    return sorted(EXAMPLES_DIR.glob("*.yaml"))


def load_values(path: Path) -> dict[str, Any]:
    values = yaml.safe_load(path.read_text())
    if not isinstance(values, dict):
        raise ValueError(f"{path} does not hold a mapping of values")
    return values


def example_values(name: str) -> dict[str, Any]:
    """The values of the example ``charts/examples/<name>.yaml``."""
    return load_values(EXAMPLES_DIR / f"{name}.yaml")


def documented_setups() -> list[tuple[str, dict[str, Any]]]:
    """Each documented setup by name: the chart's defaults with only the required values, then every example."""
    return [("defaults", dict(REQUIRED_VALUES))] + [(path.stem, load_values(path)) for path in example_files()]


def render(values: Mapping[str, Any] | None = None, *, release: str = RELEASE_NAME,
           namespace: str = RELEASE_NAMESPACE) -> dict[str, str]:
    """``{template path: manifest}`` of a fresh install; raises the Helm error on bad values."""
    chart = helm_python.Chart.load(CHART_DIR)
    try:
        rendered: dict[str, str] = chart.render(dict(values if values is not None else REQUIRED_VALUES),
                                                name=release, namespace=namespace, is_install=True)
    finally:
        chart.close()
    return rendered


def rendered_objects(values: Mapping[str, Any] | None = None, **release: str) -> list[dict[str, Any]]:
    """Every Kubernetes object the templates produce (NOTES.txt and empty documents left out)."""
    objects: list[dict[str, Any]] = []
    for path, manifest in render(values, **release).items():
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(document for document in yaml.safe_load_all(manifest) if document)
    return objects


def objects_of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj.get("kind") == kind]


def only_object(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = objects_of_kind(objects, kind)
    if len(found) != 1:
        raise AssertionError(f"expected exactly one {kind}, the chart rendered {len(found)}")
    return found[0]


def controller_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = only_object(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    (controller,) = (c for c in containers if c["name"] == "controller")
    return controller


def expand_rules(rules: list[dict[str, Any]]) -> Iterator[Rule]:
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    yield (group, resource, verb)


def clusterrole_rules(values: Mapping[str, Any] | None = None) -> set[Rule]:
    """What the rendered ClusterRole grants, as ``(apiGroup, resource, verb)``.

    ``values`` default to the chart's defaults plus ``REQUIRED_VALUES``. A
    subresource is its own resource (``services/status``); ``resourceNames``
    restrictions are not part of the tuple.
    """
    clusterrole = only_object(rendered_objects(values), "ClusterRole")
    return set(expand_rules(clusterrole["rules"]))


def granted_rules(values: Mapping[str, Any] | None = None) -> set[Rule]:
    """What the ClusterRole and the namespaced Roles grant together, shaped like ``clusterrole_rules()``."""
    objects = rendered_objects(values)
    return {rule for obj in objects if obj["kind"] in ("ClusterRole", "Role") for rule in expand_rules(obj["rules"])}


def requested_rules(requests: Iterable[RecordedRequest]) -> set[Rule]:
    """The rules that recorded API requests needed, shaped like ``clusterrole_rules()``.

    Non-resource URLs (discovery, /version) are left out: the built-in
    system:discovery role grants them to every authenticated user.
    """
    return {(r.api_group or "", f"{r.resource}/{r.subresource}" if r.subresource else r.resource, r.verb)
            for r in requests if r.resource is not None}
