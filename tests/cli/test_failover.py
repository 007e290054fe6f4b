"""Fail-over between real ``cloudlb run`` processes: a SIGKILLed leader is replaced, a restarted pod leads at once.

Short lease timings keep the test quick; benchmarks/failover.py measures the
same scenarios with client-go's defaults and records the figures.
"""

from __future__ import annotations

import pytest

from benchmarks.failover import measure
from cloudlb.config import LeaseTimings

pytestmark = pytest.mark.timeout(300)

QUICK = LeaseTimings(lease_duration=4.0, renew_deadline=3.0, retry_period=1.0)
# Generous: a loaded machine adds its own seconds to process starts and reconciles.
SLACK = 6.0


def test_the_standby_serves_once_a_killed_leaders_claim_lapses() -> None:
    seconds = measure("kill leader", QUICK)
    # Never before the dead leader's renew deadline could have passed, and not much after its lease duration.
    assert QUICK.renew_deadline - QUICK.retry_period <= seconds <= QUICK.lease_duration + SLACK


def test_a_container_restarted_in_its_pod_does_not_wait_for_its_own_dead_claim() -> None:
    long_claim = LeaseTimings(lease_duration=60.0, renew_deadline=40.0, retry_period=2.0)
    assert measure("restart, same pod", long_claim) < long_claim.lease_duration / 3


def test_a_clean_stop_hands_over_without_waiting_for_the_lease_to_lapse() -> None:
    long_claim = LeaseTimings(lease_duration=60.0, renew_deadline=40.0, retry_period=2.0)
    assert measure("SIGTERM leader", long_claim) < long_claim.lease_duration / 3
