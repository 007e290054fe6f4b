"""What keeps a long-running emulator's memory bounded: the request log, watch backlogs, history, Events."""

from __future__ import annotations

import time

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.kubeapi.resources import Catalogue, ResourceType
from cloudlb.kubeapi.selectors import Selector
from cloudlb.kubeapi.store import ObjectStore
from tests.kubeapi.client import call


def _resource(catalogue: Catalogue, group: str, plural: str) -> ResourceType:
    found = catalogue.find(group, "v1", plural)
    assert found is not None
    return found


def test_the_request_log_keeps_the_latest_requests_only() -> None:
    with EmulatedKubernetes(request_log_size=5) as kube:
        for index in range(12):
            call(kube, "GET", f"/api/v1/namespaces/default/services/missing-{index}")
        names = [request.name for request in kube.requests]
    assert names == [f"missing-{index}" for index in range(7, 12)]


def test_a_watcher_too_far_behind_is_closed_and_forgotten() -> None:
    store = ObjectStore(Catalogue(), watch_backlog_limit=3)
    nodes = _resource(store.catalogue, "", "nodes")
    slow = store.open_watch(nodes, None, Selector(), since=None)
    for index in range(5):
        store.create(nodes, None, {"metadata": {"name": f"n{index}"}})
    assert store.open_watches == 0
    assert slow.queue.get_nowait() is None  # the stream ends; the client re-lists, as with a real server


def test_history_keeps_a_window_and_older_resource_versions_are_gone() -> None:
    store = ObjectStore(Catalogue(), history_window=0.2)
    nodes = _resource(store.catalogue, "", "nodes")
    store.create(nodes, None, {"metadata": {"name": "early"}})
    time.sleep(0.3)
    store.create(nodes, None, {"metadata": {"name": "late"}})
    assert store.history_length == 1


def test_events_expire_after_their_ttl() -> None:
    store = ObjectStore(Catalogue(), event_ttl=0.2)
    events = _resource(store.catalogue, "", "events")
    nodes = _resource(store.catalogue, "", "nodes")
    store.create(_resource(store.catalogue, "", "namespaces"), None, {"metadata": {"name": "default"}})
    store.create(events, "default", {"metadata": {"name": "old"}, "reason": "R"})
    store.create(nodes, None, {"metadata": {"name": "kept"}})
    watch = store.open_watch(events, "default", Selector(), since=str(store.resource_version))
    time.sleep(1.3)  # past the TTL and the once-a-second sweep
    assert store.list(events, "default", Selector())[0] == []
    assert [node["metadata"]["name"] for node in store.list(nodes, None, Selector())[0]] == ["kept"]
    expired = watch.queue.get_nowait()
    assert expired is not None and expired[0] == "DELETED" and expired[1]["metadata"]["name"] == "old"
