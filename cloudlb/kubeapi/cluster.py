"""``EmulatedKubernetes``: the emulated API server running in a background thread.

The HTTP server and the object store live on the thread's own event loop. The
helpers (``create``, ``get``, ``patch``...) run the very same store operations on
that loop, so they see and cause exactly what HTTP clients see and cause, with
two differences: they are not recorded in ``requests`` (which lists only what
clients asked), and their writes skip field-value validation (defaulting and
allocation still run), the way objects stored by an older API server skipped a
newer check, so tests can plant the bad input a controller must cope with.

A fresh cluster holds what a new real one holds: the ``default``, ``kube-system``,
``kube-public`` and ``kube-node-lease`` Namespaces and the ``kubernetes`` Service
(with its EndpointSlice pointing at this server).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp.web

from cloudlb.kubeapi import bootstrap, namespaces, patching, selectors
from cloudlb.kubeapi.errors import ApiError
from cloudlb.kubeapi.kubeconfig import write_kubeconfig
from cloudlb.kubeapi.recording import RecordedRequest
from cloudlb.kubeapi.resources import Catalogue, ResourceType
from cloudlb.kubeapi.server import ApiServerEmulator
from cloudlb.kubeapi.services import ServiceAdmission
from cloudlb.kubeapi.store import EVENT_TTL, ObjectStore
from cloudlb.kubeapi.workloads import DeploymentAdmission, EndpointSliceAdmission
from cloudlb.kubeapi.writes import WriteOptions

T = TypeVar("T")
Obj = dict[str, Any]

_START_TIMEOUT = 15.0
_CALL_TIMEOUT = 15.0
REQUEST_LOG_SIZE = 10_000
class EmulatedKubernetes:
    """An in-process Kubernetes API server for tests, kopf and kubectl (start/stop or ``with``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, request_log_size: int = REQUEST_LOG_SIZE,
                 event_ttl: float = EVENT_TTL, dual_stack: bool = False) -> None:
        """``request_log_size``: how many requests ``requests`` keeps (the oldest go first);
        ``event_ttl``: seconds an Event lives after its last write (kube-apiserver's ``--event-ttl``);
        ``dual_stack``: Services may have IPv6 and both families (a single-stack IPv4 cluster otherwise)."""
        self.dual_stack = dual_stack
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._requests: collections.deque[RecordedRequest] = collections.deque(maxlen=request_log_size)
        self._event_ttl = event_ttl
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._store: ObjectStore | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self._catalogue = Catalogue()

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the emulated API server is already running")
        self._started.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name="cloudlb-kubeapi", daemon=True)
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT):
            raise RuntimeError("the emulated API server did not start in time")
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError("the emulated API server failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        """Close every watch, the listening socket and the thread; idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(_START_TIMEOUT)
        self._thread = None
        self._loop = None
        self._port = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._startup_error = exc
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        # Every start begins with a new cluster (only what a real one starts with).
        store = ObjectStore(self._catalogue, {
            ("", "services"): ServiceAdmission(dual_stack=self.dual_stack),
            ("", "namespaces"): namespaces.NamespaceAdmission(),
            ("apps", "deployments"): DeploymentAdmission(),
            ("discovery.k8s.io", "endpointslices"): EndpointSliceAdmission(),
        }, event_ttl=self._event_ttl)
        self._store = store
        emulator = ApiServerEmulator(store=store, on_request=self._requests.append)
        async with emulator:
            # handler_cancellation: a watch whose client went away ends at once instead of at its next event.
            runner = aiohttp.web.ServerRunner(aiohttp.web.Server(emulator, handler_cancellation=True),
                                              shutdown_timeout=2.0)
            await runner.setup()
            try:
                site = aiohttp.web.TCPSite(runner, self.host, self._requested_port)
                await site.start()
                self._port = runner.addresses[0][1]
                emulator.server_address = f"{self.host}:{self._port}"
                bootstrap.seed(store, self.host, self._port)
                self._started.set()
                await self._stopping.wait()
            finally:
                store.close()
                await runner.cleanup()

    # --- addresses and kubeconfig ---------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulated API server is not running")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def write_kubeconfig(self, path: str | Path) -> Path:
        return write_kubeconfig(path, self.url)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The HTTP requests served, the latest ``request_log_size`` of them (a snapshot)."""
        return list(self._requests)

    # --- helpers: the store's operations, run on the server's loop ------------------------------

    def _call(self, operation: Callable[[ObjectStore], T]) -> T:
        loop, store = self._loop, self._store
        if loop is None or store is None or self._thread is None:
            raise RuntimeError("the emulated API server is not running")
        if threading.current_thread() is self._thread:
            raise RuntimeError("the helpers cannot be called from the server's own thread")

        async def run() -> T:
            return operation(store)

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(run(), loop)
        return future.result(_CALL_TIMEOUT)

    def _resource(self, api_version: str, plural: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        resource = self._catalogue.find(group, version, plural)
        if resource is None:
            raise ApiError(404, "NotFound", f"the server does not serve {plural} in {api_version}")
        return resource

    def create(self, obj: Obj) -> Obj:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        group, _, version = str(api_version).rpartition("/")
        resource = next((r for r in self._catalogue.in_group_version(group, version) if r.kind == kind), None)
        if resource is None:
            raise ApiError(404, "NotFound", f"the server does not serve kind {kind} in {api_version}")
        namespace = (obj.get("metadata") or {}).get("namespace") or "default" if resource.namespaced else None
        return self._call(lambda store: store.create(resource, namespace, obj, _helper_write()))

    def get(self, api_version: str, kind_plural: str, namespace: str | None, name: str) -> Obj | None:
        resource = self._resource(api_version, kind_plural)

        def fetch(store: ObjectStore) -> Obj | None:
            try:
                return store.get(resource, namespace, name)
            except ApiError as exc:
                if exc.code == 404:
                    return None
                raise
        return self._call(fetch)

    def list(self, api_version: str, kind_plural: str, namespace: str | None = None) -> list[Obj]:
        resource = self._resource(api_version, kind_plural)
        return self._call(lambda store: store.list(resource, namespace, selectors.Selector())[0])

    def patch(self, api_version: str, kind_plural: str, namespace: str | None, name: str, patch: Obj,
              subresource: str | None = None) -> Obj:
        """A JSON merge patch, as ``kubectl patch --type=merge`` sends it."""
        resource = self._resource(api_version, kind_plural)
        return self._call(lambda store: store.patch(resource, namespace, name, patching.MERGE_PATCH, patch,
                                                    subresource, _helper_write()))

    def delete(self, api_version: str, kind_plural: str, namespace: str | None, name: str) -> None:
        resource = self._resource(api_version, kind_plural)
        self._call(lambda store: store.delete(resource, namespace, name, {}))


def _helper_write() -> WriteOptions:
    """The helpers' writes: no field-value validation (see the module docstring)."""
    return WriteOptions(validate=False)
