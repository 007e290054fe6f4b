"""Watch streams: content type, event types, resumption, selectors, scope, expiry, timeouts."""

from __future__ import annotations

import time

import pytest

from cloudlb.kubeapi import ApiError, EmulatedKubernetes
from cloudlb.kubeapi.resources import Catalogue
from cloudlb.kubeapi.selectors import Selector
from cloudlb.kubeapi.store import ObjectStore
from tests.kubeapi.client import MERGE, SERVICES, WatchStream, call, create_service

# kube-public holds no Services on a new cluster (default holds `kubernetes`).
EMPTY_NAMESPACE_SERVICES = "/api/v1/namespaces/kube-public/services"


def test_watch_is_newline_delimited_json_with_added_modified_deleted(kube: EmulatedKubernetes) -> None:
    listed = call(kube, "GET", SERVICES).body
    assert listed["kind"] == "ServiceList" and listed["apiVersion"] == "v1"
    watch = WatchStream(kube, SERVICES, resourceVersion=listed["metadata"]["resourceVersion"])
    try:
        assert watch.content_type.startswith("application/json")
        create_service(kube, "web")
        call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"labels": {"a": "b"}}}, MERGE)
        call(kube, "DELETE", f"{SERVICES}/web")
        events = [watch.next_event() for _ in range(3)]
        assert [event["type"] for event in events] == ["ADDED", "MODIFIED", "DELETED"]
        assert all(event["object"]["metadata"]["name"] == "web" for event in events)
        versions = [int(event["object"]["metadata"]["resourceVersion"]) for event in events]
        assert versions == sorted(versions) and len(set(versions)) == 3
    finally:
        watch.close()


def test_watch_without_resource_version_starts_with_the_current_objects(kube: EmulatedKubernetes) -> None:
    create_service(kube, "one")
    create_service(kube, "two")
    watch = WatchStream(kube, SERVICES)
    try:
        names = sorted(watch.next_event()["object"]["metadata"]["name"] for _ in range(3))
        assert names == ["kubernetes", "one", "two"]  # `kubernetes`: every cluster's default Service
    finally:
        watch.close()


def test_watch_replays_what_happened_after_the_given_resource_version(kube: EmulatedKubernetes) -> None:
    start = call(kube, "GET", SERVICES).body["metadata"]["resourceVersion"]
    create_service(kube, "early")
    watch = WatchStream(kube, SERVICES, resourceVersion=start)
    try:
        event = watch.next_event()
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "early")
    finally:
        watch.close()


def test_field_selector_on_name_filters_the_stream(kube: EmulatedKubernetes) -> None:
    watch = WatchStream(kube, "/api/v1/services", fieldSelector="metadata.name=wanted")
    try:
        create_service(kube, "other")
        create_service(kube, "wanted")
        event = watch.next_event()
        assert event["object"]["metadata"]["name"] == "wanted"
    finally:
        watch.close()


def test_label_selector_turns_leaving_the_selection_into_deleted(kube: EmulatedKubernetes) -> None:
    watch = WatchStream(kube, SERVICES, labelSelector="team=blue")
    try:
        create_service(kube, "web")
        call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"labels": {"team": "blue"}}}, MERGE)
        call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"labels": {"team": "red"}}}, MERGE)
        assert [watch.next_event()["type"] for _ in range(2)] == ["ADDED", "DELETED"]
    finally:
        watch.close()


def test_namespaced_watch_sees_only_its_namespace_and_cluster_wide_sees_all(kube: EmulatedKubernetes) -> None:
    in_system = WatchStream(kube, "/api/v1/namespaces/kube-system/services")
    everywhere = WatchStream(kube, "/api/v1/services")
    try:
        create_service(kube, "in-default")
        create_service(kube, "in-system", namespace="kube-system")
        assert in_system.next_event()["object"]["metadata"]["name"] == "in-system"
        names = [everywhere.next_event()["object"]["metadata"]["name"] for _ in range(3)]
        assert names == ["kubernetes", "in-default", "in-system"]
    finally:
        in_system.close()
        everywhere.close()


def test_watch_of_nodes_events_and_peerings(kube: EmulatedKubernetes) -> None:
    paths = {
        "/api/v1/nodes": {"metadata": {"name": "node-a"}},
        "/api/v1/namespaces/default/events": {"metadata": {"generateName": "e-"}, "reason": "R"},
        "/apis/kopf.dev/v1/clusterkopfpeerings": {"metadata": {"name": "cloudlb"}},
        "/apis/kopf.dev/v1/namespaces/default/kopfpeerings": {"metadata": {"name": "cloudlb"}},
    }
    for path, body in paths.items():
        watch = WatchStream(kube, path)
        try:
            created = call(kube, "POST", path, body)
            assert created.status == 201, created.body
            event = watch.next_event()
            assert event["type"] == "ADDED"
            assert event["object"]["metadata"]["uid"] == created.body["metadata"]["uid"]
        finally:
            watch.close()


def test_too_old_resource_version_is_gone() -> None:
    store = ObjectStore(Catalogue(), history_limit=3)
    nodes = store.catalogue.find("", "v1", "nodes")
    assert nodes is not None
    for index in range(6):
        store.create(nodes, None, {"metadata": {"name": f"n{index}"}})
    with pytest.raises(ApiError) as raised:
        store.open_watch(nodes, None, Selector(), since="1")
    assert raised.value.code == 410
    assert store.open_watch(nodes, None, Selector(), since=str(store.resource_version)).queue.empty()


def test_a_refused_watch_is_one_error_event_in_the_stream(kube: EmulatedKubernetes) -> None:
    watch = WatchStream(kube, SERVICES, resourceVersion="not-a-number")
    try:
        event = watch.next_event()
        assert event["type"] == "ERROR"
        assert event["object"]["kind"] == "Status" and event["object"]["code"] == 400
        assert watch.read_until_end() == b""
    finally:
        watch.close()


def test_timeout_seconds_ends_the_watch(kube: EmulatedKubernetes) -> None:
    started = time.monotonic()
    watch = WatchStream(kube, EMPTY_NAMESPACE_SERVICES, timeoutSeconds="1")
    try:
        assert watch.read_until_end() == b""
        assert 0.9 < time.monotonic() - started < 5
    finally:
        watch.close()


def test_stop_ends_open_watches() -> None:
    kube = EmulatedKubernetes().start()
    watch = WatchStream(kube, EMPTY_NAMESPACE_SERVICES)
    try:
        create_service(kube, "web", namespace="kube-public")
        assert watch.next_event()["type"] == "ADDED"
        started = time.monotonic()
        kube.stop()
        assert watch.read_until_end() == b""
        assert time.monotonic() - started < 5
    finally:
        watch.close()
        kube.stop()
