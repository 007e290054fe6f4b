"""compute.py over google-cloud-compute against the GCE emulator over HTTP: pages, errors, operations, the gate."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cloudlb_gcp import compute as compute_module
from cloudlb_gcp.compute import Compute, ComputeError, Location, connect
from cloudlb_gcp.emulator import GCEEmulator
from google.protobuf.json_format import ParseError  # type: ignore[import-untyped]

from cloudlb.cloudapi import CloudApi, CloudCall, Outcome
from cloudlb.provider import RetryLater

from .conftest import PROJECT, REGION

pytestmark = pytest.mark.timeout(120)


def firewall(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "network": "global/networks/default", "allowed": [{"IPProtocol": "tcp", "ports": ["80"]}],
            **fields}


@pytest.fixture
def calls() -> list[CloudCall]:
    return []


@pytest.fixture
def compute(emulator: GCEEmulator, calls: list[CloudCall]) -> Compute:
    cloud_api = CloudApi("gcp")
    cloud_api.add_observer(calls.append)
    return connect(Location(PROJECT, REGION), emulator.url, cloud_api)


def test_a_write_is_sent_and_its_operation_awaited_and_reads_answer_the_apis_json(
        emulator: GCEEmulator, compute: Compute, calls: list[CloudCall]) -> None:
    emulator.cloud.operations.polls_until_done = 2
    compute.write("firewalls.insert", "POST", compute.global_("firewalls"), firewall("fw", sourceRanges=["10.0.0.0/8"]))
    assert [call.method for call in emulator.requests] == ["firewalls.insert", "globalOperations.wait",
                                                           "globalOperations.wait"]
    assert [(c.operation, c.outcome) for c in calls] == [("firewalls.insert", Outcome.SUCCESS),
                                                         ("globalOperations.wait", Outcome.SUCCESS),
                                                         ("globalOperations.wait", Outcome.SUCCESS)]
    found = compute.get("firewalls.get", compute.global_("firewalls", "fw"))
    assert found is not None
    assert found["allowed"] == [{"IPProtocol": "tcp", "ports": ["80"]}]
    assert found["sourceRanges"] == ["10.0.0.0/8"]
    assert found["selfLink"].endswith(f"/projects/{PROJECT}/global/firewalls/fw")
    assert compute.get("firewalls.get", compute.global_("firewalls", "nope")) is None


def test_lists_are_read_page_by_page_each_page_through_the_gate(
        emulator: GCEEmulator, compute: Compute, calls: list[CloudCall]) -> None:
    for index in range(5):
        compute.write("firewalls.insert", "POST", compute.global_("firewalls"), firewall(f"fw-{index}"))
    emulator.cloud.page_size = 2
    emulator.clear_requests()
    calls.clear()
    names = [item["name"] for item in compute.items("firewalls.list", compute.global_("firewalls"),
                                                    filter='name eq "fw-.*"')]
    assert sorted(names) == [f"fw-{index}" for index in range(5)]
    assert [call.method for call in emulator.requests] == ["firewalls.list"] * 3
    assert [call.operation for call in calls] == ["firewalls.list"] * 3


def test_an_aggregated_list_yields_each_item_with_its_scope(emulator: GCEEmulator, compute: Compute) -> None:
    for zone in ("us-central1-a", "us-central1-b"):
        compute.write("instanceGroups.insert", "POST", compute.zonal(zone, "instanceGroups"),
                      {"name": "ig", "network": "global/networks/default"})
    found = sorted((scope, item["name"]) for scope, item in compute.aggregated("instanceGroups.aggregatedList",
                                                                                "instanceGroups"))
    assert found == [("zones/us-central1-a", "ig"), ("zones/us-central1-b", "ig")]


def test_an_error_keeps_the_http_status_the_apis_reason_and_its_own_message(
        emulator: GCEEmulator, compute: Compute, calls: list[CloudCall]) -> None:
    compute.write("firewalls.insert", "POST", compute.global_("firewalls"), firewall("fw"))
    with pytest.raises(ComputeError) as raised:
        compute.write("firewalls.insert", "POST", compute.global_("firewalls"), firewall("fw"))
    assert (raised.value.status, raised.value.reason) == (409, "alreadyExists")
    assert raised.value.message.startswith("The resource 'projects/"), "the API's message, not the SDK's URL"
    assert calls[-1].outcome is Outcome.CLIENT_ERROR
    assert calls[-1].error_code == "alreadyExists"


def test_a_failed_operation_is_an_error_whose_reason_is_the_operations_code(
        emulator: GCEEmulator, compute: Compute) -> None:
    emulator.fail("firewalls.insert", operation_error="QUOTA_EXCEEDED")
    with pytest.raises(ComputeError) as raised:
        compute.write("firewalls.insert", "POST", compute.global_("firewalls"), firewall("fw"))
    assert raised.value.reason == "QUOTA_EXCEEDED"
    assert raised.value.status >= 400


def test_a_throttled_read_pauses_its_family_and_is_retried(
        emulator: GCEEmulator, compute: Compute, calls: list[CloudCall]) -> None:
    emulator.fail("firewalls.list", status=403, reason="rateLimitExceeded")
    started = time.monotonic()
    assert list(compute.items("firewalls.list", compute.global_("firewalls"))) == []
    assert [(c.outcome, c.error_code) for c in calls] == [(Outcome.THROTTLED, "rateLimitExceeded"),
                                                          (Outcome.SUCCESS, "")]
    assert time.monotonic() - started >= 1.5, "the retry waited for the family's pause"


def test_a_write_is_not_retried(emulator: GCEEmulator, compute: Compute) -> None:
    emulator.fail("firewalls.insert", status=503)
    with pytest.raises(ComputeError) as raised:
        compute.write("firewalls.insert", "POST", compute.global_("firewalls"), firewall("fw"))
    assert raised.value.transient
    assert [call.method for call in emulator.requests] == ["firewalls.insert"]


def test_a_misspelt_field_is_refused_before_anything_is_sent(emulator: GCEEmulator, compute: Compute) -> None:
    with pytest.raises(ParseError, match="nmae"):
        compute.write("firewalls.insert", "POST", compute.global_("firewalls"), {"nmae": "fw"})
    assert emulator.requests == []


def test_an_operation_running_past_the_deadline_is_retried_later(
        emulator: GCEEmulator, compute: Compute, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compute_module, "OPERATION_DEADLINE", 0.3)
    emulator.cloud.operations.polls_until_done = 10_000
    with pytest.raises(RetryLater, match="still running"):
        compute.write("firewalls.insert", "POST", compute.global_("firewalls"), firewall("fw"))


def test_no_answer_is_a_transient_error_and_a_read_is_tried_three_times(calls: list[CloudCall]) -> None:
    cloud_api = CloudApi("gcp")
    cloud_api.add_observer(calls.append)
    unreachable = connect(Location(PROJECT, REGION), "http://127.0.0.1:9", cloud_api)
    with pytest.raises(ComputeError) as raised:
        unreachable.read("firewalls.list", "GET", unreachable.global_("firewalls"))
    assert (raised.value.status, raised.value.transient) == (0, True)
    assert [c.outcome for c in calls] == [Outcome.SERVER_ERROR] * 3
