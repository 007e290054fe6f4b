"""Checks of rendered objects that have no schema in kubernetes-validate.

kubernetes-validate knows the built-in kinds only; the one custom kind the
chart renders (the Prometheus Operator's ServiceMonitor) is checked here
against what its operator accepts.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate

# Oldest Kubernetes the chart is tested against, and the newest schema bundled.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def schema_errors(obj: dict[str, Any], version: str) -> str | None:
    """The strict schema violation of a built-in kind, shortened to its message; None if valid."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(part) for part in exc.absolute_path)
        return f"{obj['kind']} {obj['metadata']['name']} at /{path}: {exc.message}"
    return None


def service_monitor_problems(monitor: dict[str, Any], services: list[dict[str, Any]]) -> list[str]:
    """What would keep the Prometheus Operator from scraping through this ServiceMonitor."""
    problems: list[str] = []
    spec = monitor.get("spec", {})
    unknown = set(spec) - {"selector", "namespaceSelector", "endpoints", "jobLabel"}
    if unknown:
        problems.append(f"unknown spec fields {sorted(unknown)}")
    selector = spec.get("selector", {}).get("matchLabels", {})
    if not selector:
        problems.append("no selector.matchLabels: it would select every Service")
    namespaces = spec.get("namespaceSelector", {}).get("matchNames", [])
    selected = [
        service for service in services
        if selector and selector.items() <= service["metadata"].get("labels", {}).items()
        and service["metadata"]["namespace"] in namespaces
    ]
    if len(selected) != 1:
        problems.append(f"selects {len(selected)} Services, expected the metrics Service only")
    endpoints = spec.get("endpoints", [])
    if not endpoints:
        problems.append("no endpoints")
    for endpoint in endpoints:
        for service in selected:
            port_names = {port.get("name") for port in service["spec"]["ports"]}
            if endpoint.get("port") not in port_names:
                problems.append(f"endpoint port {endpoint.get('port')!r} is not a port of {port_names}")
        if endpoint.get("path", "/metrics") != "/metrics":
            problems.append(f"endpoint path {endpoint.get('path')!r} is not /metrics")
    return problems
