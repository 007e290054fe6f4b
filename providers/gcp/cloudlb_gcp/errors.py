"""From the Compute API's answers to the core's typed provider errors.

Three kinds, because they heal differently: a transient failure (a 5xx,
throttling, a resource not ready yet) is retried soon; the cloud's state
refusing the change (a quota, an exhausted IP range, a resource still used by
another, a missing permission) is retried on a slow schedule, since it may
clear without the Service changing; everything else is the Service's own
configuration and waits for an edit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cloudlb.provider import CloudStateError, PermanentError, ProviderError, RetryLater
from cloudlb_gcp.compute import ComputeError

CLOUD_STATE_REASONS = frozenset({
    "quotaExceeded", "QUOTA_EXCEEDED", "limitExceeded", "IP_SPACE_EXHAUSTED", "ipSpaceExhausted",
    "resourceInUseByAnotherResource", "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", "forbidden", "accessNotConfigured",
})
TRANSIENT_REASONS = frozenset({
    "resourceNotReady", "RESOURCE_NOT_READY", "backendError", "internalError", "INTERNAL_ERROR",
    "conditionNotMet",  # a fingerprint changed under us: read again and retry
})


def classify(error: ComputeError, doing: str) -> ProviderError:
    message, code = f"{doing}: {error}", error.reason
    # 404 on a write: a resource it refers to is gone or not there yet; the next plan reads it again.
    if error.transient or error.reason in TRANSIENT_REASONS or error.status in (404, 409, 412):
        return RetryLater(message, delay=error.retry_after, code=code)
    if error.reason in CLOUD_STATE_REASONS or error.status == 403:
        return CloudStateError(message, code=code)
    return PermanentError(message, code=code)


@contextmanager
def calling(doing: str) -> Iterator[None]:
    """Turn a ComputeError raised inside into the provider error it means, saying what was being done."""
    try:
        yield
    except ComputeError as error:
        raise classify(error, doing) from error
