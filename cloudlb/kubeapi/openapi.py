"""OpenAPI v3 documents (``/openapi/v3`` and one per group-version), built from the bundled schemas.

kubectl reads them for ``explain``, and before ``apply``/``create``/``diff`` to learn
that the server validates fields itself: it looks for a PATCH operation carrying
the kind's ``x-kubernetes-group-version-kind`` and a ``fieldValidation`` parameter.
The schemas are the bundled Kubernetes definitions, shaped as the real server
serves them (single ``type``s, ``$ref``s with a description wrapped in ``allOf``);
kinds without a bundled definition (kopf's CRDs) get the schema a CRD with
``x-kubernetes-preserve-unknown-fields`` gets.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from cloudlb.kubeapi.discovery import server_version
from cloudlb.kubeapi.resources import Catalogue, ResourceType
from cloudlb.kubeapi.schema_bundle import definitions
from cloudlb.kubeapi.schemas import definition_names_by_kind

_REF_PREFIX = "#/components/schemas/"
_QUERY = {"dryRun": "string", "fieldManager": "string", "fieldValidation": "string", "force": "boolean",
          "pretty": "string", "labelSelector": "string", "fieldSelector": "string", "watch": "boolean",
          "resourceVersion": "string", "timeoutSeconds": "integer", "limit": "integer", "continue": "string",
          "gracePeriodSeconds": "integer", "propagationPolicy": "string"}
_WRITE_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json")


def gv_path(resource: ResourceType) -> str:
    """The key of a group-version in ``/openapi/v3``: ``api/v1`` or ``apis/<group>/<version>``."""
    return f"apis/{resource.group}/{resource.version}" if resource.group else f"api/{resource.version}"


def _convert(node: Any) -> Any:
    """A bundled JSON schema as the server's OpenAPI v3 shows it."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            converted[key] = types[0] if len(types) == 1 else types
        elif key == "$ref" and isinstance(value, str):
            converted[key] = _REF_PREFIX + value.rsplit("/", 1)[-1]
        elif key == "oneOf" and all(set(option) <= {"type"} for option in value):
            # IntOrString and Quantity: a string in the document, as the real server shows them.
            converted["type"] = "string"
            if any("integer" in (option.get("type") or ()) for option in value):
                converted["x-kubernetes-int-or-string"] = True
        elif key in ("properties", "patternProperties"):
            converted[key] = {name: _convert(child) for name, child in value.items()}
        else:
            converted[key] = _convert(value)
    if "$ref" in converted and len(converted) > 1:
        reference = converted.pop("$ref")
        converted["allOf"] = [{"$ref": reference}]
    return converted


def _component_name(resource: ResourceType) -> str:
    bundled = definition_names_by_kind().get((resource.group, resource.version, resource.kind))
    if bundled:
        return bundled
    reversed_group = ".".join(reversed(resource.group.split(".")))
    return f"{reversed_group}.{resource.version}.{resource.kind}"


def _untyped_kind(resource: ResourceType) -> dict[str, Any]:
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [_gvk(resource)]}


def _gvk(resource: ResourceType) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "kind": resource.kind}


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _components(resources: list[ResourceType]) -> dict[str, Any]:
    wanted = ["io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
              "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]
    schemas: dict[str, Any] = {}
    for resource in resources:
        name = _component_name(resource)
        if name in definitions():
            wanted += [name, f"{name}List"] if f"{name}List" in definitions() else [name]
        else:
            schemas[name] = _untyped_kind(resource)
    while wanted:
        name = wanted.pop()
        if name not in schemas and name in definitions():
            schemas[name] = _convert(definitions()[name])
            wanted.extend(_references(definitions()[name]))
    return dict(sorted(schemas.items()))


def _parameter(name: str, location: str = "query") -> dict[str, Any]:
    if location == "path":
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "uniqueItems": True}}
    return {"name": name, "in": "query", "schema": {"type": _QUERY[name], "uniqueItems": True}}


def _operation(resource: ResourceType, action: str, body: str | None, response: str,
               query: tuple[str, ...], content_types: tuple[str, ...] = ("application/json",)) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "description": f"{action} {resource.kind}",
        "operationId": f"{action}{resource.kind}",
        "parameters": [_parameter(name) for name in query],
        "responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": {"$ref": _REF_PREFIX + response}}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(resource),
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {
            content_type: {"schema": {"$ref": _REF_PREFIX + body}} for content_type in content_types}}
    return operation


def _paths(resource: ResourceType) -> dict[str, Any]:
    kind_schema = _component_name(resource)
    list_schema = f"{kind_schema}List" if f"{kind_schema}List" in definitions() else kind_schema
    patch_schema = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    prefix = f"/{gv_path(resource)}"
    scope = f"{prefix}/namespaces/{{namespace}}" if resource.namespaced else prefix
    scope_parameters = [_parameter("namespace", "path")] if resource.namespaced else []
    list_query = ("labelSelector", "fieldSelector", "resourceVersion", "timeoutSeconds", "watch", "limit", "continue")
    item = {
        "get": _operation(resource, "get", None, kind_schema, ()),
        "put": _operation(resource, "put", kind_schema, kind_schema, _WRITE_PARAMETERS),
        "patch": _operation(resource, "patch", patch_schema, kind_schema, (*_WRITE_PARAMETERS, "force"),
                            _PATCH_TYPES),
        "delete": _operation(resource, "delete", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
                             "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
                             ("dryRun", "gracePeriodSeconds", "propagationPolicy")),
        "parameters": [_parameter("name", "path"), *scope_parameters, _parameter("pretty")],
    }
    paths: dict[str, Any] = {
        f"{scope}/{resource.plural}": {
            "get": _operation(resource, "list", None, list_schema, list_query),
            "post": _operation(resource, "post", kind_schema, kind_schema, _WRITE_PARAMETERS),
            "parameters": [*scope_parameters, _parameter("pretty")],
        },
        f"{scope}/{resource.plural}/{{name}}": item,
    }
    if resource.namespaced:
        paths[f"{prefix}/{resource.plural}"] = {"get": _operation(resource, "list", None, list_schema, list_query)}
    for subresource in resource.subresources:
        paths[f"{scope}/{resource.plural}/{{name}}/{subresource}"] = {
            key: value for key, value in item.items() if key in ("get", "put", "patch", "parameters")}
    return paths


def group_version_document(resources: list[ResourceType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for resource in resources:
        paths.update(_paths(resource))
    version = server_version()
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": version["gitVersion"]},
            "paths": paths, "components": {"schemas": _components(resources)}}


class OpenApiDocuments:
    """The documents of a catalogue, built once (they never change while the server runs)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    @functools.cached_property
    def _by_path(self) -> dict[str, bytes]:
        grouped: dict[str, list[ResourceType]] = {}
        for resource in self._catalogue.all:
            grouped.setdefault(gv_path(resource), []).append(resource)
        return {path: json.dumps(group_version_document(resources)).encode() for path, resources in grouped.items()}

    def root(self) -> dict[str, Any]:
        return {"paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={self.hash(path)}"}
                          for path in sorted(self._by_path)}}

    def hash(self, path: str) -> str:
        return hashlib.sha512(self._by_path[path]).hexdigest().upper()

    def document(self, path: str) -> bytes | None:
        """The serialized document of ``api/v1`` or ``apis/<group>/<version>``, None if not served."""
        return self._by_path.get(path)
