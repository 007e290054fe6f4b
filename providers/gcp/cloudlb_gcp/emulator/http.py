"""The Compute v1 REST surface over HTTP: routing a request to the emulated cloud and serializing the answer."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from cloudlb_gcp.emulator import filters
from cloudlb_gcp.emulator.cloud import ComputeCloud
from cloudlb_gcp.emulator.errors import ApiError, invalid, not_found
from cloudlb_gcp.emulator.kinds import KINDS, OPERATION_API_NAMES, Kind, kind_for
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


MAX_RESULTS = 500
TOKEN_PREFIX = "after:"
T = TypeVar("T")


def _max_results(query: dict[str, list[str]]) -> int:
    """``maxResults`` as the API takes it: 0 to 500 (0 or absent: 500)."""
    text = query.get("maxResults", ["0"])[0]
    if not re.fullmatch(r"[0-9]+", text) or int(text) > MAX_RESULTS:
        raise invalid(f"Invalid value for field 'maxResults': '{text}'. Must be less than or equal to {MAX_RESULTS}")
    return int(text) or MAX_RESULTS


def page(cloud: ComputeCloud, items: list[T], query: dict[str, list[str]],
         key: Callable[[T], str]) -> tuple[list[T], str | None]:
    """One page of a list, as the API pages: ``maxResults`` (also capped by the server) and ``pageToken``.

    A token names the last item returned, not a position: a page that follows a deletion neither skips
    nor repeats an item, as a sweep running while load balancers are deleted must see every other one.
    """
    size = max(min(cloud.page_size, _max_results(query)), 1)
    token = query.get("pageToken", [""])[0]
    ordered = sorted(items, key=key)
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError alike
            after = ""
        if not after.startswith(TOKEN_PREFIX):
            raise invalid(f"Invalid value for field 'pageToken': '{token}'")
        ordered = [item for item in ordered if key(item) > after.removeprefix(TOKEN_PREFIX)]
    chosen = ordered[:size]
    if len(ordered) <= size:
        return chosen, None
    return chosen, base64.urlsafe_b64encode((TOKEN_PREFIX + key(chosen[-1])).encode()).decode()


def _matching(kind: Kind, query: dict[str, list[str]]) -> filters.Predicate:
    """The request's ``filter`` over the resources' JSON (everything when there is none)."""
    text = query.get("filter", [""])[0]
    return filters.parse(text, kind.message) if text else lambda item: True


def to_dict(message: Any) -> dict[str, Any]:
    """A message as the API writes it: JSON names, enums by name."""
    return json.loads(type(message).to_json(message, use_integers_for_enums=False, indent=None))  # type: ignore[no-any-return]


def dispatch(cloud: ComputeCloud, request: Route, body: bytes, query: dict[str, list[str]] | None = None) -> Any:
    """Carry out one request; returns the message to answer with."""
    query = query or {}
    if request.project != cloud.project:
        raise not_found(f"projects/{request.project}")
    if request.collection == "operations":
        if request.name is None or request.verb not in (None, "wait"):
            raise not_found(request.path().relative)
        return cloud.operations.poll(request.path().where, request.name)
    if request.scope == "aggregated":
        return _aggregated(cloud, request.collection, query)
    kind = kind_for(request.scope, request.collection)
    if kind is None:
        raise not_found(request.path().relative)
    path = request.path()
    if request.verb is not None:
        return _verb(cloud, request, path, body, query)
    if request.name is None:
        if request.http_method == "GET":
            matches = _matching(kind, query)
            found = [item for item in map(to_dict, cloud.list(kind, request.location)) if matches(item)]
            items, next_token = page(cloud, found, query, key=lambda item: str(item["name"]))
            listed: dict[str, Any] = {"kind": kind.kind + "List", "id": path.relative, "items": items}
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


LABELLED = frozenset({"addresses", "forwardingRules"})


def _verb(cloud: ComputeCloud, request: Route, path: ResourcePath, body: bytes,
          query: dict[str, list[str]]) -> Any:
    """The custom methods served: instance-group membership, and labels of labelled regional resources."""
    if request.http_method != "POST":
        raise ApiError(405, "methodNotAllowed", f"{request.http_method} is not allowed on {path.relative}")
    if request.collection == "instanceGroups" and request.verb == "listInstances":
        members = cloud.list_instances(path, body)
        items, next_token = page(cloud, [to_dict(m) for m in members], query,
                                 key=lambda item: str(item["instance"]))
        listed: dict[str, Any] = {"kind": "compute#instanceGroupsListInstances", "items": items}
        if next_token:
            listed["nextPageToken"] = next_token
        return listed
    if request.collection == "instanceGroups" and request.verb in ("addInstances", "removeInstances"):
        change = cloud.add_instances if request.verb == "addInstances" else cloud.remove_instances
        return change(path, body)
    if request.collection in LABELLED and request.verb == "setLabels":
        return cloud.set_labels(path, body)
    raise not_found(f"{path.relative}/{request.verb}")


def _aggregated(cloud: ComputeCloud, collection: str, query: dict[str, list[str]]) -> dict[str, Any]:
    """Every region's or zone's items of one collection, paged and filtered, grouped by ``regions/R`` or ``zones/Z``."""
    kind = next((k for k in KINDS if k.collection == collection and k.scope != "global"), None)
    if kind is None:
        raise not_found(f"projects/{cloud.project}/aggregated/{collection}")
    with cloud.lock:
        stored = list(cloud.store.items(collection, kind.scope))
    matches = _matching(kind, query)
    scoped = [(path.where, item) for path, item in ((p, to_dict(r)) for p, r in stored) if matches(item)]
    chosen, next_token = page(cloud, scoped, query, key=lambda pair: f"{pair[0]}/{pair[1]['name']}")
    items: dict[str, dict[str, list[Any]]] = {}
    for where, item in chosen:
        items.setdefault(where, {collection: []})[collection].append(item)
    answer: dict[str, Any] = {"kind": kind.kind + "AggregatedList", "items": items}
    if next_token:
        answer["nextPageToken"] = next_token
    return answer


def serialize(answer: Any) -> bytes:
    if isinstance(answer, dict):
        return json.dumps(answer).encode()
    return json.dumps(to_dict(answer)).encode()


class ComputeHandler(BaseHTTPRequestHandler):
    """Serves one ``ComputeCloud`` (set as ``cloud`` on a subclass made per server)."""

    cloud: ComputeCloud
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body would wait for the client's
    # delayed ACK (~40 ms per request), which would make every emulated call as slow as a real one.
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        method = "unknown"
        try:
            request = route(self.command, self.path)
            method = request.method
            fault = self.cloud.inject(method)
            if fault is not None and fault.operation_error:
                answer = self.cloud.failed_operation(request.path(), method, fault.operation_error)
            else:
                answer = dispatch(self.cloud, request, body, parse_qs(urlsplit(self.path).query))
            if fault is not None and fault.lose_response:
                raise fault.error()
            status, payload = 200, serialize(answer)
        except ApiError as error:
            status, payload = error.status, error.body()
        except Exception as error:  # a bug in the emulator must show as a 500, not hang the client
            status, payload = 500, invalid(f"emulator error: {error!r}").body()
        self.cloud.record(method, urlsplit(self.path).path, status, urlsplit(self.path).query)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server's method names

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log on the cloud is the record."""
