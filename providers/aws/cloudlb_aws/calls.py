"""boto3 clients, the count of AWS calls they make, and AWS errors turned into cloudlb's typed errors.

Every call goes through botocore's own retry logic (``standard`` mode:
throttling and 5xx are retried with jittered backoff) and its ``before-call``
event, where cloudlb counts calls by IAM action and passes the core's
``CloudApi`` gate (families ``elbv2-read``, ``elbv2-write``, ``elb-read``,
``elb-write``, ``ec2-read``, ``ec2-write``): a throttled answer pauses every
worker's calls of that family. The counts feed the API-call benchmark and the
test that proves the IAM policy is exactly what the code uses.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions
import botocore.session

from cloudlb.cloudapi import CloudApi, CloudCall, Outcome
from cloudlb.provider import CloudStateError, PermanentError, RetryLater

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elb import ElasticLoadBalancingClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

# AWS takes at most 20 names or ARNs per Describe call (moto does not enforce it; we do).
DESCRIBE_BATCH = 20
# Targets per RegisterTargets/DeregisterTargets call; keeps each request small and retryable.
TARGET_BATCH = 100

T = TypeVar("T")
CallObserver = Callable[[str], None]
_observers: list[CallObserver] = []
_observers_lock = threading.Lock()
# One botocore session for every provider in the process: it caches the parsed
# service models, which makes a new client cost milliseconds instead of 100+.
# Region, endpoint and credentials are still read from the environment per client.
# Creating clients from one session is not thread-safe, hence the lock.
_session_lock = threading.Lock()


@functools.cache
def _shared_session() -> botocore.session.Session:
    return botocore.session.get_session()

THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestLimitExceeded",
    "TooManyRequestsException", "SlowDown", "PriorRequestNotComplete",
})
# Bad configuration: retrying with the same Service cannot help. Every other error is retried.
PERMANENT = frozenset({
    "CertificateNotFound", "InvalidConfigurationRequest", "ValidationError", "InvalidSubnet", "SubnetNotFound",
    "InvalidSubnetID.NotFound", "InvalidAllocationID.NotFound", "AllocationIdNotFound", "InvalidSecurityGroup",
    "UnsupportedProtocol", "UnsupportedCertificate", "SSLPolicyNotFound", "InvalidScheme", "TooManyListeners",
    "TooManyTags", "InvalidParameterValue", "InvalidParameterCombination",
})
# The account's or region's state refuses the change (a quota, a limit): nothing about the Service is wrong,
# and it clears when something else is deleted or the quota raised, so it is retried on a slow schedule.
CLOUD_STATE = frozenset({
    "TooManyLoadBalancers", "TooManyTargetGroups", "RulesPerSecurityGroupLimitExceeded", "AddressLimitExceeded",
    "SecurityGroupLimitExceeded", "TooManyAccessPoints", "TooManyTargets", "TooManyRegistrationsForTargetId",
})
# Not here: InvalidTarget/InvalidInstance (an instance stopped or went away since it was looked up) are
# retried, with the instance states read again.


def add_call_observer(observer: CallObserver) -> None:
    """Be told ``"<iam prefix>:<Operation>"`` for every AWS call any cloudlb client makes."""
    with _observers_lock:
        _observers.append(observer)


def remove_call_observer(observer: CallObserver) -> None:
    with _observers_lock:
        if observer in _observers:
            _observers.remove(observer)


class CallCounter:
    """The calls one provider made, by IAM action, safe to share between worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, action: str) -> None:
        with self._lock:
            self._counts[action] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)


@dataclass(frozen=True)
class Clients:
    ec2: EC2Client
    elbv2: ElasticLoadBalancingv2Client
    elb: ElasticLoadBalancingClient


def is_read(operation: str) -> bool:
    return operation.startswith(("Describe", "List", "Get"))


def _outcome(status: int, code: str) -> Outcome:
    if status < 300:
        return Outcome.SUCCESS
    if code in THROTTLING:
        return Outcome.THROTTLED
    return Outcome.SERVER_ERROR if status >= 500 else Outcome.CLIENT_ERROR


def create_clients(counter: CallCounter, cloud_api: CloudApi | None = None) -> Clients:
    """Clients for the region and endpoint of boto3's own environment (``AWS_REGION``, ``AWS_ENDPOINT_URL``)."""
    config = botocore.config.Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="cloudlb",
    )

    gate = cloud_api or CloudApi("aws")

    def family(model: Any) -> str:
        return f"{model.service_model.service_name}-{'read' if is_read(model.name) else 'write'}"

    def count(model: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
        action = f"{model.service_model.endpoint_prefix}:{model.name}"
        counter.record(action)
        with _observers_lock:
            observers = list(_observers)
        for observer in observers:
            observer(action)
        gate.before(family(model))
        if context is not None:
            context["cloudlb_started"] = time.monotonic()
            context["cloudlb_model"] = model

    def report(model: Any, status: int, code: str, context: dict[str, Any] | None) -> None:
        started = (context or {}).get("cloudlb_started", time.monotonic())
        call = CloudCall(gate.provider, model.service_model.service_name, model.name, _outcome(status, code),
                         time.monotonic() - started, code)
        gate.after(call, family(model))

    def answered(model: Any, http_response: Any = None, parsed: Any = None, context: Any = None, **_: Any) -> None:
        code = str(((parsed or {}).get("Error") or {}).get("Code", "")) if isinstance(parsed, dict) else ""
        report(model, int(getattr(http_response, "status_code", 0) or 0), code, context)

    def unanswered(context: Any = None, **_: Any) -> None:
        # No answer at all (a connection reset, a timeout): reported as a server error.
        model = (context or {}).get("cloudlb_model")
        if model is not None:
            report(model, 599, "", context)

    made: list[Any] = []
    with _session_lock:
        session = boto3.session.Session(botocore_session=_shared_session())
        # botocore itself reads only AWS_DEFAULT_REGION; AWS_REGION is what the SDKs document today.
        region = os.environ.get("AWS_REGION") or None
        for service in ("ec2", "elbv2", "elb"):
            client = session.client(service, config=config, region_name=region)
            client.meta.events.register("before-call", count)
            client.meta.events.register("after-call", answered)
            client.meta.events.register("after-call-error", unanswered)
            made.append(client)
    return Clients(ec2=made[0], elbv2=made[1], elb=made[2])


def error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_code(error: BaseException, *codes: str) -> bool:
    return isinstance(error, botocore.exceptions.ClientError) and error_code(error) in codes


@contextmanager
def ignoring(*codes: str) -> Iterator[None]:
    """Take the AWS errors ``codes`` as success: a resource already gone, a rule already there."""
    try:
        yield
    except botocore.exceptions.ClientError as error:
        if error_code(error) not in codes:
            raise


@contextmanager
def translated_errors(doing: str) -> Iterator[None]:
    """Turn what boto3 raises into ``RetryLater`` or ``PermanentError``, naming what was being done."""
    try:
        yield
    except botocore.exceptions.ClientError as error:
        code = error_code(error)
        message = f"{doing}: {code}: {error.response.get('Error', {}).get('Message', '')}"
        if code in PERMANENT:
            raise PermanentError(message, code=code) from error
        if code in CLOUD_STATE:
            raise CloudStateError(message, code=code) from error
        # Throttling, a 5xx, a dependency that clears up by itself (a group still attached to a deleting
        # load balancer, a target group still in use), or an unknown 4xx, most likely a race with another
        # writer: retrying re-reads the world.
        raise RetryLater(message, delay=10.0 if code in THROTTLING else None, code=code) from error
    except (botocore.exceptions.BotoCoreError, OSError) as error:
        raise RetryLater(f"{doing}: {error}") from error


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def describe_in_batches(items: Sequence[str], describe: Callable[[list[str]], list[T]]) -> list[T]:
    """Call a Describe operation with at most 20 names/ARNs at a time."""
    found: list[T] = []
    for batch in batches(sorted(set(items)), DESCRIBE_BATCH):
        found.extend(describe(batch))
    return found
