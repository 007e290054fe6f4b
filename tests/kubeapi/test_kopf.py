"""kopf itself, run in a thread with its own loop, against the emulator over HTTP."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import kopf
import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import wait_for

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")
SEEN_CONDITION = {"type": "SeenByKopf", "status": "True", "reason": "Seen", "message": "seen by kopf",
                  "lastTransitionTime": "2025-01-01T00:00:00Z"}


def _wait_for(predicate: Callable[[], T | None]) -> T:
    return wait_for(predicate, timeout=15.0)


def _registry_logging_in(kube: EmulatedKubernetes, tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> kopf.OperatorRegistry:
    """A registry whose operator logs in to ``kube`` through a kubeconfig written for it."""
    # kopf's kubeconfig login reads the path from the environment only.
    monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs)

    return registry


@pytest.fixture
def operator(kube: EmulatedKubernetes, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Runs a trivial operator: it records Service events, posts an Event and writes status."""
    registry = _registry_logging_in(kube, tmp_path, monkeypatch)
    seen: list[tuple[str, str]] = []

    @kopf.on.event("v1", "services", registry=registry)
    def on_event(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
        seen.append((str(event["type"]), str(body["metadata"]["name"])))

    @kopf.on.create("v1", "services", registry=registry)
    def on_create(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        kopf.event(body, type="Normal", reason="Seen", message="seen by kopf")
        # A field ServiceStatus declares: the server drops undeclared ones, as a real one does.
        patch.status["conditions"] = [SEEN_CONDITION]

    @kopf.on.delete("v1", "services", registry=registry)
    def on_delete(body: kopf.Body, **_: Any) -> None:
        seen.append(("deleted-by-handler", str(body["metadata"]["name"])))

    with running_operator(registry, standalone=True):
        yield seen


@contextlib.contextmanager
def running_operator(registry: kopf.OperatorRegistry, **options: Any) -> Iterator[None]:
    """kopf.operator() in its own thread and loop, stopped through its stop flag."""
    stop: concurrent.futures.Future[None] = concurrent.futures.Future()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(kopf.operator(registry=registry, clusterwide=True, stop_flag=stop, **options))
        except BaseException as exc:  # reported below
            failures.append(exc)

    thread = threading.Thread(target=run, name="kopf-under-test", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set_result(None)
        thread.join(30)
    assert not thread.is_alive()
    assert not failures, failures


def test_kopf_sees_services_posts_events_and_patches_status(kube: EmulatedKubernetes,
                                                          operator: list[tuple[str, str]]) -> None:
    # Create only once kopf watches, so that the Service arrives through the watch stream as ADDED.
    _wait_for(lambda: any(r.verb == "watch" and r.resource == "services" for r in kube.requests))
    kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                 "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    _wait_for(lambda: ("ADDED", "web") in operator)
    event = _wait_for(lambda: [e for e in kube.list("v1", "events", "default")
                               if e.get("reason") == "Seen" and e["involvedObject"]["name"] == "web"])[0]
    assert event["metadata"]["name"].startswith("kopf-event-")
    service = kube.get("v1", "services", "default", "web")
    assert service is not None
    assert event["involvedObject"]["uid"] == service["metadata"]["uid"]
    conditions = _wait_for(lambda: (kube.get("v1", "services", "default", "web") or {}).get("status", {})
                           .get("conditions"))
    assert conditions == [SEEN_CONDITION]
    # kopf went through discovery, listed and watched Services, and wrote status via the subresource.
    verbs = {(r.verb, r.resource, r.subresource) for r in kube.requests if r.resource}
    assert {("list", "services", None), ("watch", "services", None), ("create", "events", None),
            ("patch", "services", "status")} <= verbs


def test_kopf_finalizer_is_added_by_json_patch_and_released_on_delete(kube: EmulatedKubernetes,
                                                                     operator: list[tuple[str, str]]) -> None:
    kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "held", "namespace": "default"},
                 "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}})
    finalizers = _wait_for(lambda: (kube.get("v1", "services", "default", "held") or {})
                           .get("metadata", {}).get("finalizers"))
    # kopf adds it with a JSON patch guarded by a `test` of metadata.resourceVersion.
    assert finalizers == ["kopf.zalando.org/KopfFinalizerMarker"]
    kube.delete("v1", "services", "default", "held")
    _wait_for(lambda: kube.get("v1", "services", "default", "held") is None)
    assert ("deleted-by-handler", "held") in operator


def test_kopf_peering_records_itself_and_leaves_on_exit(kube: EmulatedKubernetes, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    kube.create({"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": "cloudlb"}})
    registry = _registry_logging_in(kube, tmp_path, monkeypatch)

    @kopf.on.event("v1", "nodes", registry=registry)
    def on_node(**_: Any) -> None:
        pass

    def peers() -> dict[str, Any]:
        peering = kube.get("kopf.dev/v1", "clusterkopfpeerings", None, "cloudlb") or {}
        found: dict[str, Any] = peering.get("status") or {}
        return found

    with running_operator(registry, peering_name="cloudlb"):
        (identity,) = _wait_for(peers)
        assert peers()[identity]["lifetime"] > 0
    # On exit kopf removes its record with a merge patch that sets it to null.
    assert peers() == {}
