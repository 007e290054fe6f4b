"""Which provider error each Compute answer becomes: it decides how soon, and whether, the core retries."""

from __future__ import annotations

import pytest
from cloudlb_gcp.compute import ComputeError
from cloudlb_gcp.errors import classify

from cloudlb.provider import CloudStateError, PermanentError, ProviderError, RetryLater


@pytest.mark.parametrize("status,reason,expected", [
    (503, "backendError", RetryLater),
    (0, "", RetryLater),  # no answer at all
    (429, "rateLimitExceeded", RetryLater),
    (403, "rateLimitExceeded", RetryLater),  # Compute's own throttling answer
    (400, "resourceNotReady", RetryLater),
    (404, "notFound", RetryLater),  # something a write refers to went meanwhile
    (412, "conditionNotMet", RetryLater),  # a fingerprint changed under us
    (403, "quotaExceeded", CloudStateError),
    (400, "QUOTA_EXCEEDED", CloudStateError),  # as a failed operation reports it
    (400, "IP_SPACE_EXHAUSTED", CloudStateError),
    (400, "resourceInUseByAnotherResource", CloudStateError),
    (403, "forbidden", CloudStateError),  # a permission the role lacks: fixed outside the Service
    (400, "invalid", PermanentError),
    (400, "INVALID_USAGE", PermanentError),
])
def test_each_answer_becomes_the_error_that_heals_it(status: int, reason: str,
                                                     expected: type[ProviderError]) -> None:
    error = classify(ComputeError("forwardingRules.insert", status, reason, "the API's words"), "creating x")
    assert type(error) is expected
    assert str(error).startswith("creating x: forwardingRules.insert")
    assert error.code == reason, "the cloud's own code, for logs and metrics"


def test_the_delay_the_api_asks_for_is_kept() -> None:
    error = classify(ComputeError("addresses.list", 429, "rateLimitExceeded", "slow down", retry_after=7), "listing")
    assert isinstance(error, RetryLater) and error.delay == 7
