"""The HTTP side: a kmock ``KubernetesEmulator`` whose request handling is our API server.

kmock gives the handler protocol, the request type and the Status error shape.
Its storage semantics (merge-only updates, no resourceVersion, no status
isolation, octet-stream watches...) are replaced by :mod:`cloudlb.kubeapi.store`,
because every one of its known gaps sits in the same ``_handle`` method, which
mutates objects before any override could intervene; and its URL parser fails
on ``GET /api/v1/namespaces``, so ``__call__`` builds the request itself.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp.web
import attrs
from kmock import KubernetesEmulator, Request
from typing_extensions import override

from cloudlb.kubeapi import (
    discovery,
    errors,
    fieldvalidation,
    managedfields,
    openapi,
    paths,
    protobuf,
    schemas,
    selectors,
    serverside_apply,
    stringmaps,
    tables,
)
from cloudlb.kubeapi.errors import ApiError
from cloudlb.kubeapi.patching import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from cloudlb.kubeapi.recording import RecordedRequest, record
from cloudlb.kubeapi.resources import ResourceType
from cloudlb.kubeapi.store import ObjectStore, Watch
from cloudlb.kubeapi.writes import WriteOptions

Obj = dict[str, Any]

_OBJECT_MEDIA_TYPES = ("application/json", "application/yaml", protobuf.MEDIA_TYPE)
_PATCH_MEDIA_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, serverside_apply.APPLY_PATCH)


def _json(body: Any, status: int = 200, warnings: list[str] | None = None) -> aiohttp.web.Response:
    response = aiohttp.web.Response(body=json.dumps(body).encode(), status=status, content_type="application/json")
    for warning in warnings or ():
        # RFC 7234 warn-code 299 with the text quoted, as the real server sends warnings; a control character (a
        # field name of a hostile body) is written as an escape, since a header cannot carry it.
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        escaped = _CONTROL.sub(lambda found: f"\\u{ord(found.group()):04x}", escaped)
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response


def _media_type(request: Request) -> str:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _is_watch(request: Request) -> bool:
    return request.params.get("watch") in ("true", "1")


@attrs.define(kw_only=True)
class ApiServerEmulator(KubernetesEmulator):
    """Serves the Kubernetes REST API from an :class:`ObjectStore`."""

    store: ObjectStore
    on_request: Callable[[RecordedRequest], None] = attrs.field(default=lambda request: None)
    server_address: str = ""
    openapi: openapi.OpenApiDocuments = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.openapi = openapi.OpenApiDocuments(self.store.catalogue)

    @override
    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # kmock's own parsing of Kubernetes URLs fails on some real ones (GET /api/v1/namespaces),
        # so build the request without it; our router parses the path (see cloudlb.kubeapi.paths).
        try:
            body = await raw_request.read()
            # Not appended to kmock's request log: it would keep every body for the server's lifetime;
            # EmulatedKubernetes.requests records what RBAC needs instead.
            request = Request(
                method=raw_request.method, url=raw_request.url,
                params=dict(raw_request.query), headers=dict(raw_request.headers),
                cookies=dict(raw_request.cookies), body=body, text=body.decode("utf-8", "replace"),
                raw_request=raw_request,
            )
            return await self._handle(request)
        except Exception as exc:
            return await self._render_error(exc)

    @override
    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, ApiError):
            return _json(exc.status(), exc.code)
        return _json(ApiError(500, "InternalError", f"an error on the server ({exc!r}) has prevented the "
                              "request from succeeding").status(), 500)

    @override
    async def _handle(self, request: Request) -> aiohttp.web.StreamResponse:
        # An ApiError raised from here on becomes its Status response in __call__ (_render_error).
        route = paths.parse(request.url.path)
        self.on_request(record(str(request.method.value), request.url.path, route, _is_watch(request)))
        if isinstance(route, paths.ResourcePath):
            return await self._serve_resource(request, route)
        if isinstance(route, paths.DiscoveryPath):
            return self._serve_discovery(route)
        return self._serve_non_resource(request.url.path)

    # --- non-resource URLs ------------------------------------------------------------------------

    def _serve_non_resource(self, path: str) -> aiohttp.web.StreamResponse:
        if path in ("/healthz", "/livez", "/readyz"):
            return aiohttp.web.Response(text="ok")
        if path == "/version":
            return _json(discovery.server_version())
        if path == "/":
            return _json(discovery.root_paths(self.store.catalogue))
        if path == "/openapi/v3":
            return _json(self.openapi.root())
        if path.startswith("/openapi/v3/"):
            document = self.openapi.document(path.removeprefix("/openapi/v3/"))
            if document is not None:
                return aiohttp.web.Response(body=document, content_type="application/json",
                                            headers={"Cache-Control": "public, immutable"})
        # No /openapi/v2 (a protobuf document): kubectl reads v3 and falls back only when v3 is missing.
        raise errors.no_such_path()

    def _serve_discovery(self, route: paths.DiscoveryPath) -> aiohttp.web.StreamResponse:
        catalogue = self.store.catalogue
        document: dict[str, Any] | None
        if route.group is None:
            document = (discovery.api_versions(self.server_address) if route.legacy
                        else discovery.api_group_list(catalogue))
        elif route.version is None:
            document = discovery.api_group(catalogue, route.group)
        else:
            document = discovery.resource_list(catalogue, route.group, route.version)
        if document is None:
            raise errors.no_such_path()
        return _json(document)

    # --- resources --------------------------------------------------------------------------------

    async def _serve_resource(self, request: Request, route: paths.ResourcePath) -> aiohttp.web.StreamResponse:
        resource = self.store.catalogue.find(route.group, route.version, route.plural)
        if resource is None or (route.namespace is not None and not resource.namespaced):
            raise errors.no_such_path()
        if route.subresource is not None and route.subresource not in resource.subresources:
            raise errors.no_such_path()
        namespace = route.namespace  # None for a cluster-scoped resource, as checked above
        method = str(request.method.value).upper()
        if method == "GET" and _is_watch(request):
            return await self._stream_watch(request, resource, route)
        if method == "GET" and route.name is not None:
            obj = self.store.get(resource, namespace, route.name)
            return self._render(request, resource, obj=obj)
        if method == "GET":
            selector = selectors.parse(request.params.get("labelSelector"), request.params.get("fieldSelector"))
            items, version = self.store.list(resource, namespace, selector)
            return self._render(request, resource, items=items, version=version)
        if method == "POST" and route.name is None:
            options = self._write_options(request, apply=False)
            body = self._object_body(request, resource, options)
            return _json(self.store.create(resource, namespace, body, options), 201, options.warnings)
        if route.name is None:
            raise errors.method_not_allowed(method)
        if method == "PUT":
            options = self._write_options(request, apply=False)
            body = self._object_body(request, resource, options)
            replaced = self.store.replace(resource, namespace, route.name, body, route.subresource, options)
            return _json(replaced, 200, options.warnings)
        if method == "PATCH":
            return self._patch(request, resource, route)
        if method == "DELETE" and route.subresource is None:  # /status has no delete: it would delete the object
            delete_options = self._json_body(request).value if request.body else {}
            write = self._write_options(request, apply=False)
            if isinstance(delete_options, dict) and "All" in (delete_options.get("dryRun") or []):
                write.dry_run = True
            return _json(self.store.delete(resource, namespace, route.name, delete_options, write))
        raise errors.method_not_allowed(method)

    def _patch(self, request: Request, resource: ResourceType, route: paths.ResourcePath) -> aiohttp.web.Response:
        assert route.name is not None  # checked by the caller
        media = _media_type(request)
        if media not in _PATCH_MEDIA_TYPES:
            raise errors.unsupported_media_type(_PATCH_MEDIA_TYPES)
        options = self._write_options(request, apply=media == serverside_apply.APPLY_PATCH)
        schema = schemas.for_kind(resource.group, resource.version, resource.kind)
        if media == serverside_apply.APPLY_PATCH:
            decoded = fieldvalidation.decode_yaml(request.body or b"")
            configuration = decoded.value
            if not isinstance(configuration, dict):
                raise errors.bad_request("the applied configuration must be an object")
            self._check_applied_fields(configuration, decoded.problems, schema, resource, route, options)
            configuration = fieldvalidation.drop_unknown_fields(configuration, schema)
            existed = self.store.resource_exists(resource, route.namespace, route.name)
            applied = self.store.apply(resource, route.namespace, route.name, configuration, route.subresource,
                                       options)
            return _json(applied, 200 if existed else 201, options.warnings)
        decoded = self._json_body(request)
        patch = decoded.value
        if media != JSON_PATCH:
            stringmaps.check(patch, resource)
            problems = decoded.problems + fieldvalidation.unknown_fields(_without_directives(patch), schema)
            fieldvalidation.enforce(problems, options.field_validation, options.warnings, "")
            patch = fieldvalidation.drop_unknown_fields(patch, schema)
        patched = self.store.patch(resource, route.namespace, route.name, media, patch, route.subresource,
                                   options)
        return _json(patched, 200, options.warnings)

    @staticmethod
    def _check_applied_fields(configuration: Obj, duplicates: list[str], schema: schemas.Node,
                              resource: ResourceType, route: paths.ResourcePath, options: WriteOptions) -> None:
        """Server-side apply reports unknown fields in structured-merge-diff's words."""
        unknown = []
        for problem in fieldvalidation.unknown_fields(configuration, schema):
            path = problem.removeprefix('unknown field "').removesuffix('"')
            unknown.append(f".{path}: field not declared in schema")
        if options.field_validation == fieldvalidation.IGNORE:
            return
        if options.field_validation == fieldvalidation.STRICT and (unknown or duplicates):
            where = f"{route.namespace}/{route.name}" if route.namespace else route.name
            gv = f"{resource.group}/{resource.version}" if resource.group else f"/{resource.version}"
            raise errors.bad_request(f"failed to create typed patch object ({where}; {gv}, Kind={resource.kind}): "
                                     + "\n".join(unknown + duplicates))
        options.warnings.extend(unknown + duplicates)

    @staticmethod
    def _write_options(request: Request, apply: bool) -> WriteOptions:
        params = request.params
        dry_run = params.get("dryRun")
        if dry_run not in (None, "", "All"):
            raise errors.bad_request(f'Invalid dry run value: "{dry_run}"; supported values: "All"')
        field_manager = params.get("fieldManager")
        if apply and not field_manager:
            raise errors.invalid("PatchOptions", "", [errors.FieldCause(
                "fieldManager", "Required value: is required for apply patch", "FieldValueRequired")],
                "meta.k8s.io")
        force = params.get("force")
        if force not in (None, "") and not apply:
            raise errors.invalid("PatchOptions", "", [errors.FieldCause(
                "force", "Forbidden: may not be specified for non-apply patch", "FieldValueForbidden")],
                "meta.k8s.io")
        return WriteOptions(
            manager=managedfields.manager_from_request(field_manager, request.headers.get("User-Agent", "")),
            dry_run=dry_run == "All",
            field_validation=fieldvalidation.directive(params.get("fieldValidation")),
            force=force in ("true", "1"),
        )

    def _object_body(self, request: Request, resource: ResourceType, options: WriteOptions) -> Any:
        """A create/update body in any media type the real server takes, strictly decoded."""
        media = _media_type(request)
        body = request.body or b""
        if media in ("", "application/json"):
            decoded = fieldvalidation.decode_json(body)
        elif media == "application/yaml":
            decoded = fieldvalidation.decode_yaml(body)
        elif media == protobuf.MEDIA_TYPE:
            decoded = fieldvalidation.Decoded(protobuf.decode(body, resource))
        else:
            raise errors.unsupported_media_type(_OBJECT_MEDIA_TYPES)
        schema = schemas.for_kind(resource.group, resource.version, resource.kind)
        stringmaps.check(decoded.value, resource)
        problems = decoded.problems + fieldvalidation.unknown_fields(decoded.value, schema)
        fieldvalidation.enforce(problems, options.field_validation, options.warnings,
                                f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                                f"{resource.kind}: ")
        return fieldvalidation.drop_unknown_fields(decoded.value, schema)

    @staticmethod
    def _json_body(request: Request) -> fieldvalidation.Decoded:
        return fieldvalidation.decode_json(request.body or b"")

    def _render(self, request: Request, resource: ResourceType, *, obj: Obj | None = None,
                items: list[Obj] | None = None, version: int = 0) -> aiohttp.web.StreamResponse:
        if tables.wants_table(request.headers.get("Accept", "")):
            objects = [obj] if obj is not None else items or []
            rv = obj["metadata"]["resourceVersion"] if obj is not None else str(version)
            return _json(tables.table(resource, objects, rv, request.params.get("includeObject", "Metadata")))
        if obj is not None:
            return _json(obj)
        return _json({"kind": resource.list_kind, "apiVersion": resource.api_version,
                      "metadata": {"resourceVersion": str(version)}, "items": items or []})

    async def _stream_watch(self, request: Request, resource: ResourceType,
                           route: paths.ResourcePath) -> aiohttp.web.StreamResponse:
        field_selector = request.params.get("fieldSelector") or ""
        if route.name is not None:
            field_selector = ",".join(filter(None, [field_selector, f"metadata.name={route.name}"]))
        selector = selectors.parse(request.params.get("labelSelector"), field_selector)
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        include_object = request.params.get("includeObject", "Metadata")
        timeout = float(request.params.get("timeoutSeconds") or 0) or None
        watch: Watch | None = None
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        assert request._raw_request is not None  # kmock sets it for every served request
        try:
            watch = self.store.open_watch(resource, route.namespace, selector,
                                          request.params.get("resourceVersion"))
        except ApiError as exc:
            # The real server answers 200 and streams one ERROR event (e.g. 410 Gone) to a watch.
            await response.prepare(request._raw_request)
            await response.write(json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n")
            await response.write_eof()
            return response
        await response.prepare(request._raw_request)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(watch.queue.get(), remaining)
                except TimeoutError:
                    break
                if item is None:
                    break
                event_type, obj = item
                payload: Obj = tables.table(resource, [obj], obj["metadata"]["resourceVersion"], include_object) \
                    if as_table else obj
                await response.write(json.dumps({"type": event_type, "object": payload}).encode() + b"\n")
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away: nothing left to tell it
        finally:
            self.store.close_watch(watch)
        return response


def _without_directives(patch: Any) -> Any:
    """A strategic merge patch without its ``$patch``/``$setElementOrder/...`` directives."""
    if isinstance(patch, dict):
        return {key: _without_directives(value) for key, value in patch.items() if not key.startswith("$")}
    if isinstance(patch, list):
        return [_without_directives(item) for item in patch]
    return patch


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
