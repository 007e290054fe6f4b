"""From google-api-core exceptions and failed operations to the core's typed provider errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from google.api_core import exceptions as api
from google.cloud import compute_v1

from cloudlb.provider import PermanentError, ProviderError, RetryLater

# Reasons the Compute API gives for conditions that pass on their own.
TRANSIENT_REASONS = frozenset({
    "resourceInUseByAnotherResource", "resourceNotReady", "rateLimitExceeded", "userRateLimitExceeded",
    "quotaExceeded", "backendError", "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", "RESOURCE_NOT_READY",
    "QUOTA_EXCEEDED", "RATE_LIMIT_EXCEEDED", "IP_SPACE_EXHAUSTED",
    # Another writer changed a shared instance group between our read and our write.
    "memberAlreadyExists", "memberNotFound", "MEMBER_ALREADY_EXISTS", "MEMBER_NOT_FOUND",
})


def reason_of(error: api.GoogleAPICallError) -> str:
    for detail in error.errors or ():
        if isinstance(detail, dict) and detail.get("reason"):
            return str(detail["reason"])
    return str(error.reason or "")


def classify(error: Exception, doing: str) -> ProviderError:
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, api.GoogleAPICallError):
        reason = reason_of(error)
        message = f"{doing}: {error.code} {reason}: {error.message}"
        if isinstance(error, api.ServerError | api.TooManyRequests | api.Conflict) or reason in TRANSIENT_REASONS:
            return RetryLater(message)
        return PermanentError(message)
    # requests' connection errors are OSErrors: the endpoint could not be reached.
    if isinstance(error, api.RetryError | OSError):
        return RetryLater(f"{doing}: {error}")
    return RetryLater(f"{doing}: unexpected {type(error).__name__}: {error}")


@contextmanager
def calling(doing: str) -> Iterator[None]:
    """Translate whatever one Compute call raises into RetryLater or PermanentError, saying what was being done."""
    try:
        yield
    except Exception as error:
        raise classify(error, doing) from error


def raise_for_operation(operation: compute_v1.Operation, doing: str) -> None:
    """A finished operation can still have failed; its error codes say whether retrying helps."""
    errors = list(operation.error.errors) if operation.error else []
    if not errors:
        return
    codes = ", ".join(f"{e.code}: {e.message}" for e in errors)
    if any(e.code in TRANSIENT_REASONS for e in errors):
        raise RetryLater(f"{doing}: operation {operation.name} failed: {codes}")
    raise PermanentError(f"{doing}: operation {operation.name} failed: {codes}")
