"""AWS errors become cloudlb's typed errors, and botocore retries throttling by itself."""

from __future__ import annotations

import botocore.exceptions
import pytest
from cloudlb_aws.calls import translated_errors
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.provider import PermanentError, RetryLater

from .faults import FaultyProxy
from .support import SpecFactory


def client_error(code: str, status: int = 400) -> botocore.exceptions.ClientError:
    metadata = {"HTTPStatusCode": status, "HTTPHeaders": {}, "HostId": "", "RequestId": "r", "RetryAttempts": 0}
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": metadata}, "Op")  # type: ignore[typeddict-item]


@pytest.mark.parametrize(("code", "status", "expected"), [
    ("Throttling", 400, RetryLater),
    ("RequestLimitExceeded", 503, RetryLater),
    ("DependencyViolation", 400, RetryLater),
    ("ResourceInUse", 400, RetryLater),
    ("SomethingNew", 500, RetryLater),
    ("SomethingNew", 400, RetryLater),
    ("CertificateNotFound", 400, PermanentError),
    ("ValidationError", 400, PermanentError),
    ("InvalidSubnet", 400, PermanentError),
])
def test_aws_error_codes_map_to_retry_later_or_permanent(code: str, status: int,
                                                         expected: type[Exception]) -> None:
    with pytest.raises(expected, match=f"creating something: {code}"), translated_errors("creating something"):
        raise client_error(code, status)


def test_throttling_carries_a_delay_hint() -> None:
    with pytest.raises(RetryLater) as caught, translated_errors("x"):
        raise client_error("Throttling")
    assert caught.value.delay is not None and caught.value.delay > 0


def test_a_connection_failure_is_retry_later() -> None:
    with pytest.raises(RetryLater), translated_errors("x"):
        raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


def test_a_throttled_call_is_retried_by_botocore_and_the_ensure_succeeds(
        proxy: FaultyProxy, provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("throttled")
    proxy.fail_call(3, code="Throttling")

    provider.ensure_service(spec)

    assert proxy.failed is not None
    throttled = proxy.failed
    assert proxy.calls[2] == throttled and proxy.calls[3] == throttled, proxy.calls[:5]
    proxy.fail_call(None)
    provider.delete_service(spec.service)
    assert sandbox.leftovers() == []
