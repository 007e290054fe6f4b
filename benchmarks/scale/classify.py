"""What one HTTP request to an emulated cloud is: its API operation, and whether it reads, writes or polls.

Requests are classified from the wire, as the cloud's rate limiter sees them, never from
inside an SDK: a retried request counts twice, a paginated list counts once per page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from cloudlb_gcp.emulator.cloud import READ_VERBS
from cloudlb_gcp.emulator.errors import ApiError
from cloudlb_gcp.emulator.http import route
from cloudlb_gcp.emulator.kinds import OPERATION_API_NAMES

Kind = Literal["read", "write", "poll"]
KINDS: tuple[Kind, ...] = ("read", "write", "poll")


@dataclass(frozen=True, order=True)
class Call:
    operation: str  # e.g. "elbv2:CreateListener" or "forwardingRules.insert"
    kind: Kind


Classifier = Callable[[str, str, Mapping[str, str], bytes], Call]

# ELB (Classic) and ELBv2 sign with the same service name; their API versions tell them apart.
AWS_API_VERSIONS = {"2015-12-01": "elbv2", "2012-06-01": "elb", "2016-11-15": "ec2"}
AWS_READ_PREFIXES = ("Describe", "List", "Get")


def aws_call(method: str, path: str, headers: Mapping[str, str], body: bytes) -> Call:
    """Query-protocol APIs (EC2, ELB, ELBv2) name the action in the form body; JSON ones in X-Amz-Target."""
    target = headers.get("X-Amz-Target")
    if target:
        service, _, action = target.rpartition(".")
    else:
        params = parse_qs(body.decode(errors="replace")) if body else parse_qs(urlsplit(path).query)
        action = params.get("Action", ["?"])[0]
        version = params.get("Version", [""])[0]
        service = AWS_API_VERSIONS.get(version, version or "?")
    kind: Kind = "read" if action.startswith(AWS_READ_PREFIXES) else "write"
    return Call(f"{service}:{action}", kind)


def gcp_call(method: str, path: str, headers: Mapping[str, str], body: bytes) -> Call:
    """The Compute method name as the GCE emulator routes it (``regionBackendServices.insert``...)."""
    try:
        name = route(method, path).method
    except ApiError:
        return Call(f"{method} {urlsplit(path).path}", "read")
    api, _, verb = name.rpartition(".")
    kind: Kind = "poll" if api in OPERATION_API_NAMES.values() else "read" if verb in READ_VERBS else "write"
    return Call(name, kind)


CLASSIFIERS: dict[str, Classifier] = {"aws": aws_call, "gcp": gcp_call}
