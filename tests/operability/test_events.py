"""Events as an operator reads them: a failure repeated is one Event with a count, listed in the order it happened."""

from __future__ import annotations

import datetime
import time
from typing import Any

from cloudlb_example import ExampleProvider

from cloudlb import events
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import FINALIZER
from cloudlb.provider import RetryLater
from cloudlb.testing import RunningController, run_controller, service_manifest
from tests.operability.conftest import Kubectl

FAILURES = 6


def example(ctl: RunningController) -> ExampleProvider:
    assert isinstance(ctl.provider, ExampleProvider)
    return ctl.provider


def with_reason(ctl: RunningController, name: str, reason: str) -> list[dict[str, Any]]:
    return [event for event in ctl.events("default", name) if event["reason"] == reason]


def parse_micro(value: str) -> datetime.datetime:
    assert len(value.rsplit(".", 1)[1]) == len("000000Z"), f"not a MicroTime: {value}"
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_failing_service_has_one_warning_whose_count_grows(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example", backoff_base=0.2, backoff_cap=0.4) as ctl:
        example(ctl).cloud.fail("ensure", *[RetryLater("the cloud is throttling requests")] * FAILURES)
        kube.create(service_manifest("web"))
        seen = ctl.wait_for(lambda: with_reason(ctl, "web", events.SYNC_FAILED), message="the first Warning")
        ctl.wait_for_ingress("default", "web")

        (warning,) = with_reason(ctl, "web", events.SYNC_FAILED)
        assert warning["metadata"]["name"] == seen[0]["metadata"]["name"]  # the same object, updated
        assert warning["count"] == FAILURES == example(ctl).cloud.count("ensure") - 1
        assert warning["series"]["count"] == warning["count"]
        assert parse_micro(warning["series"]["lastObservedTime"]) > parse_micro(warning["eventTime"])
        assert warning["lastTimestamp"] >= warning["firstTimestamp"]
        assert warning["type"] == "Warning" and warning["reportingComponent"] == "cloudlb"


def test_the_same_failure_after_ten_quiet_minutes_is_a_new_event(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example", backoff_base=0.2, backoff_cap=0.4) as ctl:
        example(ctl).cloud.fail("ensure", RetryLater("the cloud is throttling requests"))
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        recorder = ctl.reconciler.recorder
        recorder.clock = lambda: time.monotonic() + events.AGGREGATION_WINDOW + 1  # ten minutes and a second on
        example(ctl).cloud.fail("ensure", RetryLater("the cloud is throttling requests"))
        kube.patch("v1", "services", "default", "web", {"metadata": {"annotations": {"edited": "yes"}}})
        ctl.wait_for(lambda: len(with_reason(ctl, "web", events.SYNC_FAILED)) == 2, message="a second Warning")
        assert [event["count"] for event in with_reason(ctl, "web", events.SYNC_FAILED)] == [1, 1]


def test_event_messages_never_carry_a_credential(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        example(ctl).cloud.fail("ensure", RetryLater(
            "denied: Credential=AKIACLOUDLBTESTKEY01/20261202/us-east-1 X-Amz-Security-Token: planted-token-value"))
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        (warning,) = with_reason(ctl, "web", events.SYNC_FAILED)
        assert "AKIACLOUDLBTESTKEY01" not in warning["message"] and "planted-token-value" not in warning["message"]
        assert "[REDACTED]" in warning["message"]


def test_deleted_is_listed_after_deleting_even_within_one_second(kube: EmulatedKubernetes, kubectl: Kubectl) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        kube.patch("v1", "services", "default", "web", {"spec": {"type": "ClusterIP"}})
        ctl.wait_for(lambda: FINALIZER not in (ctl.service("default", "web") or {})["metadata"].get("finalizers", []),
                     message="the load balancer removed")
        (deleting,) = with_reason(ctl, "web", events.DELETING)
        (deleted,) = with_reason(ctl, "web", events.DELETED)
        assert parse_micro(deleting["eventTime"]) < parse_micro(deleted["eventTime"])
        # Names sort in time order too, which is the order kubectl lists Events of the same second in.
        assert deleting["metadata"]["name"] < deleted["metadata"]["name"]
        described = kubectl("describe", "service", "web")
    listed = [line.split()[1] for line in described.split("Events:", 1)[1].splitlines()
              if line.strip().startswith(("Normal", "Warning"))]
    assert listed.index(events.DELETING) < listed.index(events.DELETED), described
