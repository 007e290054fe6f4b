"""The provider's start-up check against the GCE emulator: one read, and a plain line naming what to fix."""

from __future__ import annotations

import re
import socket
import time

import pytest
from cloudlb_gcp.compute import Location, connect
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.provider import GCPProvider
from cloudlb_gcp.startup import RETRY_SECONDS

from cloudlb.provider import StartupCheckFailed

from .conftest import CLUSTER, PROJECT, REGION

pytestmark = pytest.mark.timeout(60)


def test_a_reachable_project_and_region_pass_with_one_read(emulator: GCEEmulator, provider: GCPProvider) -> None:
    emulator.clear_requests()
    provider.check()
    assert [call.method for call in emulator.requests] == ["forwardingRules.list"]


def test_a_project_that_does_not_exist_names_the_settings(emulator: GCEEmulator) -> None:
    provider = GCPProvider(CLUSTER, connect(Location("no-such-project", REGION), emulator.url))
    with pytest.raises(StartupCheckFailed, match=r"project 'no-such-project'.*check --gcp-project and --gcp-region"):
        provider.check()


def test_missing_permissions_name_the_role(emulator: GCEEmulator, provider: GCPProvider) -> None:
    emulator.fail("forwardingRules.list", status=403, reason="forbidden", times=5)
    with pytest.raises(StartupCheckFailed, match=r"gcp-permissions\.yaml"):
        provider.check()


@pytest.mark.parametrize(("status", "reason"), [(503, None), (500, None), (429, "rateLimitExceeded")])
def test_a_transient_answer_is_tried_again_not_the_end_of_the_start(
        emulator: GCEEmulator, provider: GCPProvider, status: int, reason: str | None) -> None:
    emulator.fail("forwardingRules.list", status=status, reason=reason, times=2)
    emulator.clear_requests()
    provider.check()
    assert [call.status for call in emulator.requests if call.method == "forwardingRules.list"] == [
        status, status, 200]


def test_a_transient_answer_that_lasts_ends_the_start_within_seconds(
        emulator: GCEEmulator, provider: GCPProvider) -> None:
    emulator.fail("forwardingRules.list", status=503, times=100)
    started = time.monotonic()
    with pytest.raises(StartupCheckFailed, match=r"cannot reach the Compute API"):
        provider.check()
    assert time.monotonic() - started < RETRY_SECONDS + 2


def test_an_unreachable_endpoint_names_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = GCPProvider(CLUSTER, connect(Location(PROJECT, REGION), f"http://127.0.0.1:{port}"))
    with pytest.raises(StartupCheckFailed, match=re.escape(f"cannot reach the Compute API at http://127.0.0.1:{port}")):
        provider.check()
