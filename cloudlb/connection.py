"""How the controller reaches the Kubernetes API, and the start-up check that it can.

Credentials are found in client-go's order: ``KUBECONFIG`` when it is set,
else the in-cluster service account, else ``~/.kube/config``. kopf's own login
functions read them (so kopf and these checks always agree); what they return
is checked here once, before anything else starts, so that a missing file or an
unreachable server ends the process with one line instead of retry loops.

``ApiSession`` is a small client for the few requests made outside kopf's
watches (the start-up probe and the leader-election lease): it is built on
kopf's own TLS and authentication set-up and logs in again on a 401, as kopf does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import kopf
from kopf._cogs.clients import auth as kopf_auth

from cloudlb.redaction import register_secret
from cloudlb.startup import StartupError

logger = logging.getLogger(__name__)

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
SERVICE_ACCOUNT_TOKEN = SERVICE_ACCOUNT_DIR / "token"
SERVICE_ACCOUNT_NAMESPACE = SERVICE_ACCOUNT_DIR / "namespace"
DEFAULT_KUBECONFIG = Path("~/.kube/config")
PROBE_TIMEOUT = 5.0
# How long refused connections and 5xx answers are tried again before the start gives up.
PROBE_RETRY_SECONDS = 4.0
# The start-up probe: a request every controller needs to make, so that credentials and RBAC are checked too.
PROBE_PATH = "/api/v1/nodes?limit=1"


def in_cluster() -> bool:
    return SERVICE_ACCOUNT_TOKEN.exists()


def _kubeconfig_paths() -> list[Path] | None:
    """The files of ``KUBECONFIG`` (or ~/.kube/config when unset and outside a cluster); None: in-cluster."""
    listed = os.environ.get("KUBECONFIG", "")
    if listed.strip():
        return [Path(path.strip()).expanduser() for path in listed.split(os.pathsep) if path.strip()]
    if in_cluster():
        return None
    default = DEFAULT_KUBECONFIG.expanduser()
    if default.exists():
        return [default]
    raise StartupError("no Kubernetes credentials: run inside a cluster (with a service account) or set "
                       "KUBECONFIG to your cluster's kubeconfig file")


def login(settings: kopf.OperatorSettings, api_server: str | None = None) -> kopf.ConnectionInfo:
    """The connection to use; StartupError when the configured credentials cannot be read.

    ``api_server`` (tests and the sandbox) skips credentials altogether.
    """
    if api_server:
        return kopf.ConnectionInfo(server=api_server)
    paths = _kubeconfig_paths()
    if paths is None:
        info = kopf.login_with_service_account(settings=settings)
        source = f"the service account token {SERVICE_ACCOUNT_TOKEN}"
    else:
        for path in paths:
            if not path.is_file():
                raise StartupError(f"KUBECONFIG names {path}, which does not exist: point KUBECONFIG at your "
                                   "cluster's kubeconfig file, or unset it to use the in-cluster service account "
                                   "or ~/.kube/config")
        # kopf reads KUBECONFIG itself; ~/.kube/config is what it reads when the variable is unset.
        source = "KUBECONFIG " + os.pathsep.join(str(path) for path in paths)
        try:
            info = kopf.login_with_kubeconfig(settings=settings)
        except Exception as exc:  # unreadable YAML, a context naming an undefined cluster...: the file is unusable
            raise StartupError(f"cannot use {source}: {_describe(exc)}; fix the file or point KUBECONFIG at a "
                               "valid one") from exc
    if info is None or not info.server:
        raise StartupError(f"{source} names no API server: set the current context's cluster server")
    key = info.private_key_data
    register_secret(info.token, info.password, key.decode("ascii", "replace") if isinstance(key, bytes) else key)
    return info


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"it names {exc} but does not define it"
    return f"{type(exc).__name__}: {exc}"


def own_namespace(info: kopf.ConnectionInfo) -> str:
    """The namespace the controller runs in: the service account's, else the kubeconfig context's, else default."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return info.default_namespace or "default"


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any  # parsed JSON, or None

    @property
    def reason(self) -> str:
        return str(self.body.get("reason", "")) if isinstance(self.body, dict) else ""

    @property
    def message(self) -> str:
        if isinstance(self.body, dict) and self.body.get("message"):
            return str(self.body["message"])
        return f"HTTP {self.status}"

    @property
    def details_kind(self) -> str:
        """``details.kind`` of a Status: which kind a 404 is about (empty when the URL itself is unknown)."""
        details = self.body.get("details") if isinstance(self.body, dict) else None
        return str(details.get("kind", "")) if isinstance(details, dict) else ""


class ApiSession:
    """A few JSON requests to the API server with the controller's credentials (``async with``)."""

    def __init__(self, settings: kopf.OperatorSettings, api_server: str | None = None) -> None:
        self._settings = settings
        self._api_server = api_server
        self._context: kopf_auth.APIContext | None = None
        self.info = login(settings, api_server)

    async def __aenter__(self) -> Self:
        self._context = kopf_auth.APIContext(self.info)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        if self._context is not None:
            await self._context.close()
            self._context = None

    @property
    def server(self) -> str:
        return str(self.info.server)

    async def request(self, method: str, path: str, body: object | None = None,
                      seconds: float = PROBE_TIMEOUT) -> ApiResponse:
        """One request taking at most ``seconds``; a 401 logs in again once (tokens rotate).

        Connection errors and timeouts are raised.
        """
        response = await self._send(method, path, body, seconds)
        if response.status == 401:
            await self._relogin()
            response = await self._send(method, path, body, seconds)
        return response

    async def _send(self, method: str, path: str, body: object | None, seconds: float) -> ApiResponse:
        assert self._context is not None, "use ApiSession with `async with`"
        url = self.server.rstrip("/") + path
        async with self._context.session.request(
                method, url, json=body, timeout=aiohttp.ClientTimeout(total=seconds)) as response:
            text = await response.text()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return ApiResponse(response.status, parsed)

    async def _relogin(self) -> None:
        try:
            self.info = login(self._settings, self._api_server)
        except StartupError as exc:
            logger.warning("could not log in to the Kubernetes API again: %s", exc)
            return
        if self._context is not None:
            await self._context.close()
        self._context = kopf_auth.APIContext(self.info)


async def check_api_server(session: ApiSession) -> None:
    """Reach the API server and make one read every controller needs; StartupError if that fails.

    A refused connection or a 5xx/429 answer is tried again for a few seconds
    (an API server restarting, a load balancer in front of it changing
    backends): one transient failure must not send the pod into
    CrashLoopBackOff. A misconfiguration still ends the start within seconds.
    """
    deadline = time.monotonic() + PROBE_RETRY_SECONDS
    delay = 0.25
    while True:
        try:
            await _probe(session)
            return
        except _Transient as transient:
            if time.monotonic() + delay > deadline:
                raise transient.error from transient
            logger.debug("the Kubernetes API server is not answering yet (%s); trying again in %.2fs",
                           transient.error, delay)
            await asyncio.sleep(delay)
            delay *= 2


class _Transient(Exception):
    """A start-up probe failure worth one more try; ``error`` is what to report if none is left."""

    def __init__(self, error: StartupError) -> None:
        super().__init__(str(error))
        self.error = error


async def _probe(session: ApiSession) -> None:
    server = session.server
    try:
        response = await session.request("GET", PROBE_PATH)
    except aiohttp.ClientConnectorCertificateError as exc:
        raise StartupError(f"the TLS certificate of the Kubernetes API server at {server} is not trusted "
                           f"({exc.certificate_error}): check certificate-authority in KUBECONFIG") from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        reason = f"no answer within {PROBE_TIMEOUT:.0f}s" if isinstance(exc, TimeoutError) else str(exc)
        error = StartupError(f"cannot reach the Kubernetes API server at {server} ({reason}): check the server in "
                             "KUBECONFIG (or the in-cluster service account) and the network")
        if isinstance(exc, TimeoutError):
            raise error from exc  # already waited PROBE_TIMEOUT: no time for another try
        raise _Transient(error) from exc
    if response.status == 401:
        raise StartupError(f"the Kubernetes API server at {server} refused the credentials (401 Unauthorized): "
                           "renew the token or certificate in KUBECONFIG, or check the service account")
    if response.status == 403:
        raise StartupError(f"the controller may not list nodes on {server} (403 Forbidden: {response.message}): "
                           "grant it the chart's ClusterRole (charts/cloudlb)")
    if response.status >= 400:
        error = StartupError(f"the Kubernetes API server at {server} answered {response.status} to GET "
                             f"{PROBE_PATH}: {response.message}")
        if response.status >= 500 or response.status == 429:
            raise _Transient(error)
        raise error
