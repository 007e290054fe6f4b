"""The Compute v1 REST surface over HTTP: routing a request to the emulated cloud and serializing the answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cloudlb_gcp.emulator.cloud import ComputeCloud
from cloudlb_gcp.emulator.errors import ApiError, invalid, not_found
from cloudlb_gcp.emulator.kinds import KINDS, OPERATION_API_NAMES, kind_for
from cloudlb_gcp.emulator.paths import ResourcePath

_ROUTE = re.compile(
    r"^/compute/v1/projects/(?P<project>[^/]+)/(?:global|(?P<scope>regions|zones)/(?P<location>[^/]+))"
    r"/(?P<collection>[A-Za-z]+)(?:/(?P<name>[^/]+))?(?:/(?P<verb>[A-Za-z]+))?$"
)


@dataclass(frozen=True)
class Route:
    """One parsed request: which collection, which resource, and the API method name it is."""

    http_method: str
    project: str
    scope: str
    location: str
    collection: str
    name: str | None
    verb: str | None

    @property
    def method(self) -> str:
        if self.collection == "operations":
            api = OPERATION_API_NAMES[self.scope]
        elif self.scope == "aggregated":
            api = self.collection
        else:
            kind = kind_for(self.scope, self.collection)
            api = kind.api_name if kind else self.collection
        if self.verb:
            return f"{api}.{self.verb}"
        if self.name is None:
            return f"{api}.{'list' if self.http_method == 'GET' else 'insert'}"
        return f"{api}.{self.http_method.lower()}"

    def path(self) -> ResourcePath:
        return ResourcePath(self.project, self.scope, self.location, self.collection, self.name or "")


_AGGREGATED = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)/aggregated/(?P<collection>[A-Za-z]+)$")


def route(http_method: str, url: str) -> Route:
    aggregated = _AGGREGATED.match(urlsplit(url).path)
    if aggregated and http_method == "GET":
        return Route(http_method, aggregated["project"], "aggregated", "", aggregated["collection"], None,
                     "aggregatedList")
    match = _ROUTE.match(urlsplit(url).path)
    if not match:
        raise not_found(urlsplit(url).path)
    return Route(http_method, match["project"], match["scope"] or "global", match["location"] or "",
                 match["collection"], match["name"], match["verb"])


def page(cloud: ComputeCloud, items: list[Any], query: dict[str, list[str]]) -> tuple[list[Any], str | None]:
    """One page of a list, as the API pages: ``maxResults`` (capped by the server) and ``pageToken``."""
    size = cloud.page_size
    if query.get("maxResults"):
        size = min(size, int(query["maxResults"][0]))
    start = int(query["pageToken"][0]) if query.get("pageToken") else 0
    end = start + max(size, 1)
    return items[start:end], (str(end) if end < len(items) else None)


def dispatch(cloud: ComputeCloud, request: Route, body: bytes, query: dict[str, list[str]] | None = None) -> Any:
    """Carry out one request; returns the message to answer with."""
    if request.project != cloud.project:
        raise not_found(f"projects/{request.project}")
    if request.collection == "operations":
        if request.name is None or request.verb not in (None, "wait"):
            raise not_found(request.path().relative)
        return cloud.operations.poll(request.path().where, request.name)
    if request.scope == "aggregated":
        return _aggregated(cloud, request.collection)
    kind = kind_for(request.scope, request.collection)
    if kind is None:
        raise not_found(request.path().relative)
    path = request.path()
    if request.verb is not None:
        actions = {"addInstances": cloud.add_instances, "removeInstances": cloud.remove_instances,
                   "listInstances": cloud.list_instances}
        if request.collection != "instanceGroups" or request.verb not in actions:
            raise not_found(f"{path.relative}/{request.verb}")
        return actions[request.verb](path, body)
    if request.name is None:
        if request.http_method == "GET":
            items, next_token = page(cloud, cloud.list(kind, request.location), query or {})
            listed: dict[str, Any] = {"kind": kind.kind + "List", "id": path.relative,
                                      "items": [json.loads(kind.message.to_json(r)) for r in items]}
            if next_token:
                listed["nextPageToken"] = next_token
            return listed
        if request.http_method == "POST":
            return cloud.insert(kind, request.location, body)
    elif request.http_method == "GET":
        return cloud.get(path)
    elif request.http_method == "DELETE":
        return cloud.delete(path)
    elif request.http_method in ("PATCH", "PUT"):
        return cloud.patch(kind, path, body)
    raise ApiError(405, "methodNotAllowed", f"{request.http_method} is not allowed on {path.relative}")


def _aggregated(cloud: ComputeCloud, collection: str) -> dict[str, Any]:
    """Every region's or zone's items of one collection, keyed ``regions/R`` or ``zones/Z``."""
    kind = next((k for k in KINDS if k.collection == collection and k.scope != "global"), None)
    if kind is None:
        raise not_found(f"projects/{cloud.project}/aggregated/{collection}")
    items: dict[str, dict[str, list[Any]]] = {}
    with cloud.lock:
        for path, resource in cloud.store.items(collection, kind.scope):
            scoped = items.setdefault(path.where, {collection: []})
            scoped[collection].append(json.loads(kind.message.to_json(resource)))
    return {"kind": kind.kind + "AggregatedList", "items": items}


def serialize(answer: Any) -> bytes:
    if isinstance(answer, dict):
        return json.dumps(answer).encode()
    return type(answer).to_json(answer).encode()  # type: ignore[no-any-return]


class ComputeHandler(BaseHTTPRequestHandler):
    """Serves one ``ComputeCloud`` (set as ``cloud`` on a subclass made per server)."""

    cloud: ComputeCloud
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        method = "unknown"
        try:
            request = route(self.command, self.path)
            method = request.method
            operation_error = self.cloud.inject(method)
            if operation_error:
                answer = self.cloud.failed_operation(request.path(), method, operation_error)
            else:
                answer = dispatch(self.cloud, request, body, parse_qs(urlsplit(self.path).query))
            status, payload = 200, serialize(answer)
        except ApiError as error:
            status, payload = error.status, error.body()
        except Exception as error:  # a bug in the emulator must show as a 500, not hang the client
            status, payload = 500, invalid(f"emulator error: {error!r}").body()
        self.cloud.record(method, urlsplit(self.path).path, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server's method names

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log on the cloud is the record."""
