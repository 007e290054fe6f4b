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
import time
from collections.abc import Callable
from typing import Any

import aiohttp.web
import attrs
from kmock import KubernetesEmulator, Request
from typing_extensions import override

from cloudlb.kubeapi import discovery, errors, paths, selectors, tables
from cloudlb.kubeapi.errors import ApiError
from cloudlb.kubeapi.recording import RecordedRequest, record
from cloudlb.kubeapi.resources import ResourceType
from cloudlb.kubeapi.store import ObjectStore, Watch

Obj = dict[str, Any]


def _json(body: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.Response(body=json.dumps(body).encode(), status=status, content_type="application/json")


def _is_watch(request: Request) -> bool:
    return request.params.get("watch") in ("true", "1")


@attrs.define(kw_only=True)
class ApiServerEmulator(KubernetesEmulator):
    """Serves the Kubernetes REST API from an :class:`ObjectStore`."""

    store: ObjectStore
    on_request: Callable[[RecordedRequest], None] = attrs.field(default=lambda request: None)
    server_address: str = ""

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
        # No OpenAPI: kubectl copes with a 404 when run with --validate=false.
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
        if request.params.get("dryRun") and method != "GET":
            # Refused rather than ignored: an ignored dry run would really change the object.
            raise errors.bad_request("dryRun is not supported by the emulated API server")
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
            return _json(self.store.create(resource, namespace, self._body(request)), 201)
        if route.name is None:
            raise errors.method_not_allowed(method)
        if method == "PUT":
            return _json(self.store.replace(resource, namespace, route.name, self._body(request), route.subresource))
        if method == "PATCH":
            content_type = request.headers.get("Content-Type", "")
            patched = self.store.patch(resource, namespace, route.name, content_type, self._body(request),
                                       route.subresource)
            return _json(patched)
        if method == "DELETE" and route.subresource is None:  # /status has no delete: it would delete the object
            options = self._body(request) if request.body else {}
            return _json(self.store.delete(resource, namespace, route.name, options))
        raise errors.method_not_allowed(method)

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return json.loads(request.body or b"null")
        except ValueError as exc:
            raise errors.bad_request(f"the request body is not valid JSON: {exc}") from exc

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
