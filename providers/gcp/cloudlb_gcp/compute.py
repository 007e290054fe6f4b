"""The Compute Engine v1 API through google-cloud-compute's REST clients, and waiting for their operations.

The rest of the provider names a call as the API does (``forwardingRules.insert``
on ``projects/P/regions/R/forwardingRules``, with the resource as the API's JSON)
and gets the API's JSON back. Here each name is bound once to its SDK client
method (``ForwardingRulesClient.insert_unary``), its request message and the
request's fields; the JSON body is parsed into the resource's message strictly
(a misspelt field fails), and answers are turned back into the API's JSON
(``MessageToDict``: camelCase, as on the wire). Only the clients used are
loaded (``cloudlb_gcp.sdk``), each created once per provider when it connects,
with only the message types those clients need.

Every request passes the core's ``CloudApi`` gate (families ``compute-read`` and
``compute-write``): a 429 or ``rateLimitExceeded`` pauses every worker's requests
of that family. The SDK's own retries are off (one call is one request through
the gate); reads are retried here. Lists are paged here, a gated request per page.
Writes use the ``*_unary`` methods and their operations are awaited with the
operations clients on the same endpoint (``operations.wait``), never on Google's
behind an emulator's back.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import google.auth
from google.api_core.exceptions import GoogleAPICallError
from google.auth.credentials import AnonymousCredentials, Credentials
from google.protobuf import json_format  # type: ignore[import-untyped]

from cloudlb.cloudapi import CloudApi, CloudCall, Outcome
from cloudlb.provider import RetryLater
from cloudlb_gcp import sdk

READ, WRITE = "compute-read", "compute-write"
GOOGLE_ENDPOINT = "https://compute.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/compute",)
# The largest page the API serves.
MAX_RESULTS = 500
REQUEST_TIMEOUT = 30.0
# operations.wait answers when the operation is done or after about two minutes.
WAIT_TIMEOUT = 150.0
# How long one write may stay RUNNING before the provider gives up for now and retries later.
OPERATION_DEADLINE = 120.0
# Reads are idempotent: a 5xx, a throttled answer or a dropped connection is retried this often at once.
READ_ATTEMPTS = 3
# The collections the provider calls, whose clients are made when it starts rather than by its first Service:
# loading the SDK's message types takes seconds, which a start-up can wait for and a Service should not. Only the
# message types these clients need are loaded (~350 of ~2,100): a collection the provider calls must be listed here.
OPENED_AT_START = ("forwardingRules", "addresses", "regionBackendServices", "regionHealthChecks", "firewalls",
                   "instanceGroups", "instances", "subnetworks", "regionOperations", "zoneOperations",
                   "globalOperations")
THROTTLING_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
Json = dict[str, Any]


@dataclass(frozen=True)
class Location:
    project: str
    region: str


class ComputeError(Exception):
    """An answer that is not a success: HTTP ``status`` (0: no answer at all), the API's ``reason``, its message.

    A failed operation is one too: its ``reason`` is the operation's error code (``QUOTA_EXCEEDED``).
    """

    def __init__(self, method: str, status: int, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{method}: {status} {reason}: {message}" if status else f"{method}: {message}")
        self.method = method
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    @property
    def throttled(self) -> bool:
        return self.status == 429 or self.reason in THROTTLING_REASONS

    @property
    def transient(self) -> bool:
        return self.status == 0 or self.status >= 500 or self.throttled


def _error_of(method: str, error: GoogleAPICallError) -> ComputeError:
    """The SDK's exception as the API said it: status, the first error's reason, the plain message."""
    response = error.response
    details = [d for d in error.errors if isinstance(d, dict)]
    reason = next((str(d["reason"]) for d in details if d.get("reason")), error.reason or "")
    message, retry_after = error.message, ""
    if response is not None:
        reason = reason or str(getattr(response, "reason", "") or "")
        retry_after = str(response.headers.get("Retry-After", ""))
        # The SDK's message starts with the method and URL; the API's own message is enough here.
        with contextlib.suppress(ValueError, KeyError, TypeError):
            message = str(response.json()["error"]["message"])
    return ComputeError(method, int(error.code or 0), reason, message,
                        float(retry_after) if retry_after.isascii() and retry_after.isdigit() else None)


def _outcome(error: ComputeError | None) -> Outcome:
    if error is None:
        return Outcome.SUCCESS
    if error.throttled:
        return Outcome.THROTTLED
    return Outcome.SERVER_ERROR if error.status == 0 or error.status >= 500 else Outcome.CLIENT_ERROR


def snake(name: str) -> str:
    """``forwardingRules`` → ``forwarding_rules``, ``maxResults`` → ``max_results``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Method:
    """One API method bound to its SDK client method, and its request message."""

    name: str  # "forwardingRules.insert"
    call: Callable[..., Any]  # the client's bound method: ``insert_unary`` for a write
    request: Any  # the request message type: InsertForwardingRuleRequest
    body_field: str | None  # the field the JSON body goes to: "forwarding_rule_resource"
    body: Any  # that field's message type: ForwardingRule

    def make_request(self, path: str, query: Mapping[str, str] | None, body: Json | None) -> Any:
        """The request message: scope and resource name from the URL path, query fields, the parsed body."""
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "projects":
            raise ValueError(f"{self.name}: not a path inside a project: {path}")
        fields: dict[str, Any] = {"project": parts[1]}
        rest = parts[2:]
        if rest[0] in ("regions", "zones"):
            fields[rest[0][:-1]] = rest[1]
            rest = rest[2:]
        else:  # "global" or "aggregated"
            rest = rest[1:]
        if len(rest) > 1:  # a collection, the resource's name, maybe a custom verb (``/addInstances``)
            fields[self._name_field(rest[0])] = rest[1]
        for key, value in (query or {}).items():
            field = snake(key)
            fields[field] = int(value) if field == "max_results" else value
        if body is not None:
            if self.body_field is None:
                raise ValueError(f"{self.name} takes no request body")
            fields[self.body_field] = self.body.wrap(json_format.ParseDict(body, self.body.pb()()))
        return self.request(**fields)

    def _name_field(self, collection: str) -> str:
        """The field that names the resource: after its type (``forwarding_rule``), else ``resource`` (setLabels)."""
        singular = collection[:-2] if collection.endswith("sses") else collection[:-1]
        for field in (snake(singular), "resource"):
            if field in self.request.meta.fields:
                return field
        raise ValueError(f"{self.name}: {self.request.__name__} has no field naming a {singular}")


def _bind(client: Any, name: str) -> Method:
    verb = name.split(".", 1)[1]
    # A method that starts an operation has a ``_unary`` form answering the Operation itself.
    call = getattr(client, snake(verb) + "_unary", None) or getattr(client, snake(verb))
    request = next(t for t in typing.get_args(call.__annotations__["request"]) if t not in (dict, type(None)))
    bodies = [(field_name, field.message) for field_name, field in request.meta.fields.items()
              if field.message is not None and field_name.endswith("_resource")]
    body_field, body = bodies[0] if bodies else (None, None)
    return Method(name, call, request, body_field, body)


def _json_of(message: Any) -> Json:
    answer: Json = json_format.MessageToDict(type(message).pb(message))
    return answer


class Compute:
    """One project and region of the Compute API; safe to use from several worker threads at once."""

    def __init__(self, location: Location, endpoint: str, credentials: Credentials, cloud_api: CloudApi) -> None:
        self.location = location
        self.endpoint = endpoint
        self._credentials = credentials
        self._cloud_api = cloud_api
        self._client_options = {"api_endpoint": endpoint} if endpoint != GOOGLE_ENDPOINT else None
        self._clients: dict[str, Any] = {}
        self._methods: dict[str, Method] = {}
        self._lock = threading.Lock()

    @property
    def project(self) -> str:
        return self.location.project

    @property
    def region(self) -> str:
        return self.location.region

    def link(self, relative: str) -> str:
        """A reference the API accepts, relative to the project (``regions/R/healthChecks/X``)."""
        return f"projects/{self.project}/{relative}"

    def regional(self, collection: str, name: str = "") -> str:
        return self.link(f"regions/{self.region}/{collection}" + (f"/{name}" if name else ""))

    def zonal(self, zone: str, collection: str, name: str = "") -> str:
        return self.link(f"zones/{zone}/{collection}" + (f"/{name}" if name else ""))

    def global_(self, collection: str, name: str = "") -> str:
        return self.link(f"global/{collection}" + (f"/{name}" if name else ""))

    # -- clients -------------------------------------------------------------------------------------

    def method(self, name: str) -> Method:
        """The SDK method of an API method name (``regionBackendServices.patch``), its client made on first use."""
        bound = self._methods.get(name)
        if bound is None:
            with self._lock:
                bound = self._methods.get(name)
                if bound is None:
                    bound = self._methods[name] = _bind(self._client(name.split(".", 1)[0]), name)
        return bound

    def open_clients(self, apis: tuple[str, ...]) -> None:
        """Make the clients of these collections now, after loading the message types they need and no other
        (``sdk.load_message_types``): a client of another collection cannot be made later in this process."""
        sdk.load_message_types(snake(api) for api in apis)
        with self._lock:
            for api in apis:
                self._client(api)

    def _client(self, api: str) -> Any:
        client = self._clients.get(api)
        if client is None:
            cls = sdk.client_class(snake(api))
            client = self._clients[api] = cls(credentials=self._credentials, transport="rest",
                                              client_options=self._client_options)
        return client

    # -- one request ---------------------------------------------------------------------------------

    def request(self, method: str, http_method: str, path: str, *, family: str,
                query: Mapping[str, str] | None = None, body: Json | None = None,
                timeout: float = REQUEST_TIMEOUT) -> Json:
        """Send one request through the gate; the answer's JSON (a list's first page), or ComputeError.

        ``http_method`` is only for the callers' reading: the SDK knows each method's verb.
        """
        del http_method
        return _json_of(self._send(method, path, family=family, query=query, body=body, timeout=timeout))

    def _send(self, method: str, path: str, *, family: str, query: Mapping[str, str] | None = None,
              body: Json | None = None, timeout: float = REQUEST_TIMEOUT) -> Any:
        """One SDK call through the gate; the answer's message (a list's page), or ComputeError."""
        bound = self.method(method)
        request = bound.make_request(path, query, body)
        self._cloud_api.before(family)
        started = time.monotonic()
        error: ComputeError | None = None
        answer: Any = None
        try:
            answer = bound.call(request=request, retry=None, timeout=timeout)
        except GoogleAPICallError as exc:
            error = _error_of(method, exc)
        except OSError as exc:  # requests' connection errors and timeouts are OSErrors
            error = ComputeError(method, 0, "", f"no answer from {self.endpoint}: {type(exc).__name__}: {exc}")
        call = CloudCall(self._cloud_api.provider, "compute", method, _outcome(error), time.monotonic() - started,
                         error.reason if error else "")
        self._cloud_api.after(call, family, error.retry_after if error else None)
        if error is not None:
            raise error
        # A list answers a pager; its first page is the answer already received (no request).
        return next(iter(answer.pages)) if hasattr(answer, "pages") else answer

    def _read(self, method: str, path: str, *, query: Mapping[str, str] | None = None, body: Json | None = None,
              timeout: float = REQUEST_TIMEOUT) -> Any:
        """A read, retried at once a few times when the answer is transient (reads change nothing)."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return self._send(method, path, family=READ, query=query, body=body, timeout=timeout)
            except ComputeError as error:
                if not error.transient or attempt == READ_ATTEMPTS:
                    raise
                time.sleep(0.1 * attempt)
        raise AssertionError("unreachable")

    def read(self, method: str, http_method: str, path: str, *, query: Mapping[str, str] | None = None,
             body: Json | None = None, timeout: float = REQUEST_TIMEOUT) -> Json:
        """A read's JSON, retried at once a few times when the answer is transient."""
        del http_method
        return _json_of(self._read(method, path, query=query, body=body, timeout=timeout))

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, method: str, path: str) -> Json | None:
        """One resource, or None when it does not exist."""
        try:
            return _json_of(self._read(method, path))
        except ComputeError as error:
            if error.status == 404:
                return None
            raise

    def items(self, method: str, path: str, *, filter: str | None = None, http_method: str = "GET",
              body: Json | None = None) -> Iterator[Json]:
        """Every item of a list, in pages of the largest size the API serves."""
        for page in self._pages(method, path, filter, body):
            yield from _json_of(page).get("items") or ()

    def aggregated(self, method: str, collection: str, *, filter: str | None = None) -> Iterator[tuple[str, Json]]:
        """``(scope, item)`` for every item of a collection in every region or zone (``zones/us-central1-a``)."""
        for page in self._pages(method, self.link(f"aggregated/{collection}"), filter, None):
            for scope, scoped in (_json_of(page).get("items") or {}).items():
                for item in scoped.get(collection) or ():
                    yield scope, item

    def _pages(self, method: str, path: str, filter: str | None, body: Json | None) -> Iterator[Any]:
        query = {"maxResults": str(MAX_RESULTS)}
        if filter:
            query["filter"] = filter
        while True:
            page = self._read(method, path, query=query, body=body)
            yield page
            if not page.next_page_token:
                return
            query["pageToken"] = page.next_page_token

    # -- writes --------------------------------------------------------------------------------------

    def write(self, method: str, http_method: str, path: str, body: Json | None = None) -> None:
        """Send a write and wait for its operation; ComputeError when either fails."""
        del http_method
        operation = self._send(method, path, family=WRITE, body=body)
        self._wait(method, operation)

    def _wait(self, method: str, operation: Any) -> None:
        deadline = time.monotonic() + OPERATION_DEADLINE
        pause = 0.0
        while operation.status != type(operation).Status.DONE:
            if time.monotonic() > deadline:
                raise RetryLater(f"{method}: operation {operation.name} still running", delay=10)
            # ``wait`` itself blocks on Google's side; the pause only matters for a server that answers at once.
            time.sleep(pause)
            operation = self._read(_wait_method(operation), _operation_path(operation), timeout=WAIT_TIMEOUT)
            pause = min(max(pause * 2, 0.02), 1.0)
        errors = operation.error.errors
        if errors:
            codes = ", ".join(f"{e.code}: {e.message}" for e in errors)
            raise ComputeError(method, int(operation.http_error_status_code or 400), str(errors[0].code),
                               f"operation {operation.name} failed: {codes}")


def _operation_path(operation: Any) -> str:
    return "projects/" + str(operation.self_link).split("/projects/", 1)[1]


def _wait_method(operation: Any) -> str:
    if operation.zone:
        return "zoneOperations.wait"
    return "regionOperations.wait" if operation.region else "globalOperations.wait"


def connect(location: Location, endpoint: str | None, cloud_api: CloudApi | None = None) -> Compute:
    """The API at ``endpoint`` with anonymous credentials (an emulator), or Google's with default credentials."""
    credentials: Credentials
    if endpoint:
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    else:
        credentials, _ = google.auth.default(scopes=SCOPES)
    compute = Compute(location, endpoint or GOOGLE_ENDPOINT, credentials, cloud_api or CloudApi("gcp"))
    compute.open_clients(OPENED_AT_START)
    return compute
