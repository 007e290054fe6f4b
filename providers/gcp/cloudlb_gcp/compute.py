"""The Compute Engine v1 REST API as JSON over an authorized HTTP session, and waiting for its operations.

The controller does not load google-cloud-compute's clients: they import the
library's message types, one generated module of ~160,000 lines that takes
~100 MB of memory (a controller at 51 MB grows to 185 MB), more than the rest of
the controller needs. The provider sends and reads the API's JSON itself; the
GCE emulator parses every request body into those message types, strictly, so
a misspelt field still fails the tests.

Every request passes the core's ``CloudApi`` gate (families ``compute-read`` and
``compute-write``): a 429 or ``rateLimitExceeded`` pauses every worker's requests
of that family. Writes answer with an operation, which is awaited on the same
endpoint (``operations.wait``), never on Google's behind an emulator's back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import google.auth
import requests
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession

from cloudlb.cloudapi import CloudApi, CloudCall, Outcome
from cloudlb.provider import RetryLater

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


def _error_of(method: str, response: requests.Response) -> ComputeError:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    details = [d for d in error.get("errors") or () if isinstance(d, dict)]
    reason = next((str(d["reason"]) for d in details if d.get("reason")), response.reason or "")
    retry_after = response.headers.get("Retry-After", "")
    return ComputeError(method, response.status_code, reason, str(error.get("message") or response.text[:200]),
                        float(retry_after) if retry_after.isascii() and retry_after.isdigit() else None)


def _outcome(error: ComputeError | None) -> Outcome:
    if error is None:
        return Outcome.SUCCESS
    if error.throttled:
        return Outcome.THROTTLED
    return Outcome.SERVER_ERROR if error.status == 0 or error.status >= 500 else Outcome.CLIENT_ERROR


class Compute:
    """One project and region of the Compute API; safe to use from several worker threads at once."""

    def __init__(self, location: Location, endpoint: str, credentials: Credentials, cloud_api: CloudApi) -> None:
        self.location = location
        self.endpoint = endpoint
        self._base = endpoint.rstrip("/") + "/compute/v1/"
        self._credentials = credentials
        self._cloud_api = cloud_api
        self._sessions = threading.local()

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

    # -- one request ---------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = AuthorizedSession(self._credentials)  # type: ignore[no-untyped-call]
        return session

    def request(self, method: str, http_method: str, path: str, *, family: str,
                query: Mapping[str, str] | None = None, body: Json | None = None,
                timeout: float = REQUEST_TIMEOUT) -> Json:
        """Send one request through the gate; the answer's JSON, or ComputeError."""
        self._cloud_api.before(family)
        started = time.monotonic()
        error: ComputeError | None = None
        try:
            response = self._session().request(http_method, self._base + path, params=query, json=body,
                                               timeout=timeout)
        except requests.RequestException as exc:
            error = ComputeError(method, 0, "", f"no answer from {self._base}: {type(exc).__name__}: {exc}")
        else:
            if response.status_code >= 400:
                error = _error_of(method, response)
        call = CloudCall(self._cloud_api.provider, "compute", method, _outcome(error), time.monotonic() - started,
                         error.reason if error else "")
        self._cloud_api.after(call, family, error.retry_after if error else None)
        if error is not None:
            raise error
        answer: Json = response.json() if response.content else {}
        return answer

    def read(self, method: str, http_method: str, path: str, *, query: Mapping[str, str] | None = None,
             body: Json | None = None, timeout: float = REQUEST_TIMEOUT) -> Json:
        """A read, retried at once a few times when the answer is transient (reads change nothing)."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return self.request(method, http_method, path, family=READ, query=query, body=body, timeout=timeout)
            except ComputeError as error:
                if not error.transient or attempt == READ_ATTEMPTS:
                    raise
                time.sleep(0.1 * attempt)
        raise AssertionError("unreachable")

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, method: str, path: str) -> Json | None:
        """One resource, or None when it does not exist."""
        try:
            return self.read(method, "GET", path)
        except ComputeError as error:
            if error.status == 404:
                return None
            raise

    def items(self, method: str, path: str, *, filter: str | None = None, http_method: str = "GET",
              body: Json | None = None) -> Iterator[Json]:
        """Every item of a list, in pages of the largest size the API serves."""
        query = {"maxResults": str(MAX_RESULTS)}
        if filter:
            query["filter"] = filter
        while True:
            page = self.read(method, http_method, path, query=query, body=body)
            yield from page.get("items") or ()
            token = page.get("nextPageToken")
            if not token:
                return
            query["pageToken"] = token

    def aggregated(self, method: str, collection: str, *, filter: str | None = None) -> Iterator[tuple[str, Json]]:
        """``(scope, item)`` for every item of a collection in every region or zone (``zones/us-central1-a``)."""
        query = {"maxResults": str(MAX_RESULTS)}
        if filter:
            query["filter"] = filter
        while True:
            page = self.read(method, "GET", self.link(f"aggregated/{collection}"), query=query)
            for scope, scoped in (page.get("items") or {}).items():
                for item in scoped.get(collection) or ():
                    yield scope, item
            token = page.get("nextPageToken")
            if not token:
                return
            query["pageToken"] = token

    # -- writes --------------------------------------------------------------------------------------

    def write(self, method: str, http_method: str, path: str, body: Json | None = None) -> None:
        """Send a write and wait for its operation; ComputeError when either fails."""
        operation = self.request(method, http_method, path, family=WRITE, body=body)
        self._wait(method, operation)

    def _wait(self, method: str, operation: Json) -> None:
        deadline = time.monotonic() + OPERATION_DEADLINE
        pause = 0.0
        while operation.get("status") != "DONE":
            if time.monotonic() > deadline:
                raise RetryLater(f"{method}: operation {operation.get('name')} still running", delay=10)
            # ``wait`` itself blocks on Google's side; the pause only matters for a server that answers at once.
            time.sleep(pause)
            operation = self.read(_wait_method(operation), "POST", _operation_path(operation) + "/wait",
                                  timeout=WAIT_TIMEOUT)
            pause = min(max(pause * 2, 0.02), 1.0)
        errors = ((operation.get("error") or {}).get("errors")) or ()
        if errors:
            codes = ", ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
            raise ComputeError(method, int(operation.get("httpErrorStatusCode") or 400), str(errors[0].get("code")),
                               f"operation {operation.get('name')} failed: {codes}")


def _operation_path(operation: Json) -> str:
    return "projects/" + str(operation["selfLink"]).split("/projects/", 1)[1]


def _wait_method(operation: Json) -> str:
    if operation.get("zone"):
        return "zoneOperations.wait"
    return "regionOperations.wait" if operation.get("region") else "globalOperations.wait"


def connect(location: Location, endpoint: str | None, cloud_api: CloudApi | None = None) -> Compute:
    """The API at ``endpoint`` with anonymous credentials (an emulator), or Google's with default credentials."""
    credentials: Credentials
    if endpoint:
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    else:
        credentials, _ = google.auth.default(scopes=SCOPES)
    return Compute(location, endpoint or GOOGLE_ENDPOINT, credentials, cloud_api or CloudApi("gcp"))
