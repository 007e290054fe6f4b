"""The lease rules: who may take it, when a claim lapses, what a holder writes; and that no rule lets two lead."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudlb.config import LeaseTimings
from cloudlb.leadership import LeaseRecord, claim_expiry, claimed_by_another, released, taken_over

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)
TIMINGS = LeaseTimings()  # ours: 10 s, 8 s, 2 s (client-go has 15 s, 10 s, 2 s)


def held_by(holder: str, renewed_ago: float | None = 1.0, duration: int = 15) -> LeaseRecord:
    renewed = None if renewed_ago is None else NOW - datetime.timedelta(seconds=renewed_ago)
    return LeaseRecord(holder, duration, renewed, renewed, 3)


def test_defaults_and_client_go_rules() -> None:
    assert (TIMINGS.lease_duration, TIMINGS.renew_deadline, TIMINGS.retry_period) == (10.0, 8.0, 2.0)
    with pytest.raises(ValueError, match="lease duration must be greater than the renew deadline"):
        LeaseTimings(10, 10, 2)
    with pytest.raises(ValueError, match=r"1\.2 times the retry period"):
        LeaseTimings(15, 2.4, 2)
    with pytest.raises(ValueError, match="greater than zero"):
        LeaseTimings(15, 10, 0)


def test_a_released_lease_and_our_own_claim_are_free_to_take() -> None:
    assert not claimed_by_another(held_by(""), "pod-a")
    assert not claimed_by_another(held_by("pod-a"), "pod-a")  # a container restarted in its own pod
    assert claimed_by_another(held_by("pod-b"), "pod-a")


def test_a_claim_lapses_a_lease_duration_after_the_renewal_it_records() -> None:
    # Seen at monotonic 100 s, renewed (by the record) 1.5 s before: counted from the renewal.
    assert claim_expiry(held_by("pod-b", 1.5), observed=100.0, now=100.0, wall_now=NOW,
                        timings=TIMINGS) == pytest.approx(113.5)


def test_a_claim_never_lapses_sooner_than_its_first_sight_minus_the_observation_lag() -> None:
    # A renewTime 10 s old at first sight (a clock behind ours) is not trusted beyond the lag.
    assert TIMINGS.observation_lag == 2.0
    assert claim_expiry(held_by("pod-b", 10.0), observed=100.0, now=100.0, wall_now=NOW,
                        timings=TIMINGS) == pytest.approx(113.0)
    # A renewTime in our future (a clock ahead of ours) counts from our own first sight, as client-go does.
    assert claim_expiry(held_by("pod-b", -30.0), observed=100.0, now=100.0, wall_now=NOW,
                        timings=TIMINGS) == pytest.approx(115.0)
    assert claim_expiry(held_by("pod-b", None), observed=100.0, now=100.0, wall_now=NOW,
                        timings=TIMINGS) == pytest.approx(115.0)


@given(lease=st.floats(2, 60), deadline_share=st.floats(0.1, 0.95), retry_share=st.floats(0.05, 0.8),
       commit_delay=st.floats(0, 5), sight_delay=st.floats(0, 10), skew=st.floats(-3600, 3600),
       since_sight=st.floats(0, 120))
def test_no_standby_acts_before_the_old_holder_has_stopped(lease: float, deadline_share: float, retry_share: float,
                                                            commit_delay: float, sight_delay: float, skew: float,
                                                            since_sight: float) -> None:
    """Whatever the delays and the clocks, the claim lapses no sooner than the holder gives up leading.

    The holder starts its last successful renewal at monotonic 0 and stops leading at renew_deadline (it
    counts from the start of the renewal); the write commits later, the standby sees it later still, and the
    standby's wall clock is off by ``skew``.
    """
    deadline = lease * deadline_share
    timings = LeaseTimings(lease, deadline, deadline * retry_share)
    observed = commit_delay + sight_delay
    now = observed + since_sight
    renew_wall = NOW  # what the holder wrote: its own clock at the start of the renewal (monotonic 0)
    standby_wall_now = NOW + datetime.timedelta(seconds=now + skew)
    record = taken_over(None, "holder", renew_wall, timings)
    lapses = claim_expiry(record, observed, now, standby_wall_now, timings)
    assert lapses >= timings.renew_deadline - 1e-9
    assert lapses - observed <= record.lease_duration_seconds + 1e-9  # never later than client-go's own rule


def test_renewal_keeps_the_acquisition_and_a_takeover_counts_a_transition() -> None:
    later = NOW + datetime.timedelta(seconds=2)
    ours = held_by("pod-a")
    renewed = taken_over(ours, "pod-a", later, TIMINGS)
    assert (renewed.holder, renewed.acquire_time, renewed.renew_time, renewed.transitions) == (
        "pod-a", ours.acquire_time, later, 3)
    taken = taken_over(held_by("pod-b"), "pod-a", later, TIMINGS)
    assert (taken.holder, taken.acquire_time, taken.renew_time, taken.transitions) == ("pod-a", later, later, 4)
    assert taken_over(None, "pod-a", later, TIMINGS).transitions == 0
    assert taken.lease_duration_seconds == 10


def test_a_released_lease_names_no_holder_and_lapses_in_a_second() -> None:
    freed = released(held_by("pod-a"), NOW)
    assert (freed.holder, freed.lease_duration_seconds, freed.transitions) == ("", 1, 3)


def test_lease_spec_round_trip_keeps_microseconds() -> None:
    record = LeaseRecord("pod-a", 15, NOW.replace(microsecond=123456), NOW.replace(microsecond=654321), 2)
    spec = record.to_spec()
    assert spec["renewTime"] == "2026-11-28T12:00:00.654321Z"
    assert spec["holderIdentity"] == "pod-a" and spec["leaseTransitions"] == 2
    assert LeaseRecord.from_spec(spec) == record
