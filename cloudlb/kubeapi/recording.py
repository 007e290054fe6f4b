"""What was asked of the API server, in RBAC terms (verb, group, resource, subresource)."""

from __future__ import annotations

from dataclasses import dataclass

from cloudlb.kubeapi.paths import DiscoveryPath, ResourcePath

_VERBS_BY_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class RecordedRequest:
    """One served HTTP request. ``resource`` is None for non-resource URLs (discovery, /version)."""

    verb: str
    api_group: str | None
    api_version: str | None
    resource: str | None
    subresource: str | None
    namespace: str | None
    name: str | None
    method: str
    path: str


def rbac_verb(method: str, route: ResourcePath | DiscoveryPath | None, watch: bool) -> str:
    """The verb an RBAC rule must grant for this request (GET on a collection is ``list``...)."""
    method = method.upper()
    if not isinstance(route, ResourcePath):
        return method.lower()
    if method == "GET":
        if watch:
            return "watch"
        return "get" if route.name else "list"
    if method == "DELETE":
        return "delete" if route.name else "deletecollection"
    return _VERBS_BY_METHOD.get(method, method.lower())


def record(method: str, path: str, route: ResourcePath | DiscoveryPath | None, watch: bool) -> RecordedRequest:
    resource_route = route if isinstance(route, ResourcePath) else None
    return RecordedRequest(
        verb=rbac_verb(method, route, watch),
        api_group=resource_route.group if resource_route else None,
        api_version=resource_route.version if resource_route else None,
        resource=resource_route.plural if resource_route else None,
        subresource=resource_route.subresource if resource_route else None,
        namespace=resource_route.namespace if resource_route else None,
        name=resource_route.name if resource_route else None,
        method=method.upper(),
        path=path,
    )
