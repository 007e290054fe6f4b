"""Client-side rate limits and the shared pause after a throttling answer, on a fake clock."""

from __future__ import annotations

import pytest

from cloudlb.cloudapi import CloudApi, CloudCall, Outcome, Rate, TokenBucket, parse_rates


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rates_are_parsed_with_a_default_burst_of_twice_the_rate() -> None:
    assert parse_rates("elbv2-read=10/20, ec2-read = 2.5") == {
        "elbv2-read": Rate(10.0, 20), "ec2-read": Rate(2.5, 5)}
    assert parse_rates("") == {}


@pytest.mark.parametrize("text", ["elbv2-read", "elbv2-read=ten", "elbv2-read=٣", "elbv2-read=0", "=5", "a=1/0"])
def test_a_malformed_rate_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"FAMILY=REQUESTS_PER_SECOND|rate needs"):
        parse_rates(text)


def test_the_bucket_lets_a_burst_through_then_paces_requests() -> None:
    time = FakeTime()
    bucket = TokenBucket(Rate(2.0, 3), time.clock, time.sleep)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    assert bucket.take() == pytest.approx(0.5)


def test_a_throttled_answer_pauses_every_caller_of_that_family_only() -> None:
    time = FakeTime()
    seen: list[CloudCall] = []
    api = CloudApi("aws", observer=seen.append, clock=time.clock, sleep=time.sleep)
    api.after(CloudCall("aws", "elbv2", "DescribeLoadBalancers", Outcome.THROTTLED, 0.1), "elbv2-read",
              retry_after=3.0)
    api.before("ec2-read")
    assert time.slept == []
    api.before("elbv2-read")
    assert time.slept == [3.0]
    api.before("elbv2-read")
    assert time.slept == [3.0], "the pause is over"
    assert [call.outcome for call in seen] == [Outcome.THROTTLED]


def test_families_without_a_limit_are_not_paced() -> None:
    time = FakeTime()
    api = CloudApi("gcp", rates={"compute-write": Rate(1.0, 1)}, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        api.before("compute-read")
    assert time.slept == []
    api.before("compute-write")
    api.before("compute-write")
    assert time.slept == [pytest.approx(1.0)]
