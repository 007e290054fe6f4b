"""API discovery documents, shaped as kubectl's and kopf's discovery clients expect them.

kmock 0.8 answers ``groupVersion: "/v1"`` for the core group and lists
subresources with their parent's short names; kubectl then finds no kinds or
finds ``svc`` ambiguous. These documents follow the real server instead.
"""

from __future__ import annotations

from typing import Any

from cloudlb.kubeapi.resources import ALL_VERBS, STATUS_VERBS, Catalogue, ResourceType

KUBERNETES_VERSION = {"major": "1", "minor": "32"}


def server_version() -> dict[str, str]:
    return {
        "major": KUBERNETES_VERSION["major"],
        "minor": KUBERNETES_VERSION["minor"],
        "gitVersion": f"v{KUBERNETES_VERSION['major']}.{KUBERNETES_VERSION['minor']}.0+cloudlb.sandbox",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(catalogue: Catalogue) -> dict[str, Any]:
    """``/apis``: every non-core group."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(group, versions) for group, versions in catalogue.group_versions().items()],
    }


def api_group(catalogue: Catalogue, group: str) -> dict[str, Any] | None:
    """``/apis/<group>``, or None if the group is not served."""
    versions = catalogue.group_versions().get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def _resource_entries(resource: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(ALL_VERBS),
    }
    if resource.short_names:
        main["shortNames"] = list(resource.short_names)
    if resource.categories:
        main["categories"] = list(resource.categories)
    subresources = [
        {"name": f"{resource.plural}/{sub}", "singularName": "", "namespaced": resource.namespaced,
         "kind": resource.kind, "verbs": list(STATUS_VERBS)}
        for sub in resource.subresources
    ]
    return [main, *subresources]


def resource_list(catalogue: Catalogue, group: str, version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/<group>/<version>``, or None if not served."""
    resources = catalogue.in_group_version(group, version)
    if not resources:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for resource in resources for entry in _resource_entries(resource)],
    }


def root_paths(catalogue: Catalogue) -> dict[str, list[str]]:
    paths = {"/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz"}
    for group, versions in catalogue.group_versions().items():
        paths.add(f"/apis/{group}")
        paths.update(f"/apis/{group}/{version}" for version in versions)
    return {"paths": sorted(paths)}
