"""Network Load Balancer and target-group attributes from the annotations. Pure.

aws-load-balancer-controller's annotations, read as it reads them:

- ``aws-load-balancer-proxy-protocol: "*"`` turns on ``proxy_protocol_v2.enabled``
  on every target group (and takes precedence over the attributes annotation);
- ``aws-load-balancer-target-group-attributes: k=v,...`` sets target-group attributes;
- ``aws-load-balancer-attributes: k=v,...`` sets load-balancer attributes; the
  older single-purpose annotations (cross-zone, access-log-*) win a tie, as upstream.

cloudlb manages exactly the keys below. What the user sets is written; a key
cloudlb set before and the user no longer sets goes back to AWS's default
(``resets``), so removing the annotation returns the load balancer to what a
fresh one has. An unknown key or an unreadable value is named in a Warning and
skipped; every other key is still applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cloudlb.parsing import go_bool, integer_in_range, quoted
from cloudlb.problems import Problem
from cloudlb_aws.annotation_values import present, problem, string_map
from cloudlb_aws.annotations import CROSS_ZONE, PREFIX

PROXY_PROTOCOL = PREFIX + "proxy-protocol"
TARGET_GROUP_ATTRIBUTES = PREFIX + "target-group-attributes"
LOAD_BALANCER_ATTRIBUTES = PREFIX + "attributes"
ACCESS_LOG_ENABLED = PREFIX + "access-log-enabled"
ACCESS_LOG_BUCKET = PREFIX + "access-log-s3-bucket-name"
ACCESS_LOG_PREFIX = PREFIX + "access-log-s3-bucket-prefix"
PARSED = (PROXY_PROTOCOL, TARGET_GROUP_ATTRIBUTES, LOAD_BALANCER_ATTRIBUTES, ACCESS_LOG_ENABLED, ACCESS_LOG_BUCKET,
          ACCESS_LOG_PREFIX)
# What a Classic ELB has no place for.
NLB_ONLY = (TARGET_GROUP_ATTRIBUTES, LOAD_BALANCER_ATTRIBUTES)
# On a target group or load balancer: the attribute keys cloudlb set there (comma-separated), so that
# the ones the user drops later go back to AWS's default, and no other key is ever touched.
MANAGED_TAG = "cloudlb.io/attributes"
PROXY_PROTOCOL_V2 = "proxy_protocol_v2.enabled"
PRESERVE_CLIENT_IP = "preserve_client_ip.enabled"
CROSS_ZONE_ATTRIBUTE = "load_balancing.cross_zone.enabled"

# An S3 bucket name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _boolean(text: str) -> str | None:
    value = go_bool(text)
    return None if value is None else ("true" if value else "false")


def _seconds(low: int, high: int) -> Callable[[str], str | None]:
    def read(text: str) -> str | None:
        value = integer_in_range(text, low, high)
        return None if value is None else str(value)
    return read


def _one_of(*allowed: str) -> Callable[[str], str | None]:
    return lambda text: text if text in allowed else None


# The characters S3 documents as safe in object keys; AWS refuses a log prefix that starts with AWSLogs.
_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/-]{1,1024}")


def valid_bucket(text: str) -> str | None:
    return text if _BUCKET.fullmatch(text) else None


def valid_prefix(text: str) -> str | None:
    return text if _PREFIX.fullmatch(text) and not text.startswith("AWSLogs") else None


@dataclass(frozen=True)
class Attribute:
    default: str
    read: Callable[[str], str | None]  # the canonical value of a user's text, or None when AWS would refuse it
    expected: str  # what a valid value looks like, for the Warning


BOOLEAN = "true or false"
# The target-group attributes of an NLB, with AWS's defaults for instance targets (``defaults`` adjusts for IP).
TARGET_GROUP: Mapping[str, Attribute] = {
    "deregistration_delay.timeout_seconds": Attribute("300", _seconds(0, 3600), "seconds from 0 to 3600"),
    "deregistration_delay.connection_termination.enabled": Attribute("false", _boolean, BOOLEAN),
    PRESERVE_CLIENT_IP: Attribute("true", _boolean, BOOLEAN),
    "stickiness.enabled": Attribute("false", _boolean, BOOLEAN),
    "stickiness.type": Attribute("source_ip", _one_of("source_ip"), "source_ip (the only type an NLB has)"),
    PROXY_PROTOCOL_V2: Attribute("false", _boolean, BOOLEAN),
}
LOAD_BALANCER: Mapping[str, Attribute] = {
    "access_logs.s3.enabled": Attribute("false", _boolean, BOOLEAN),
    "access_logs.s3.bucket": Attribute("", valid_bucket, "an S3 bucket name"),
    "access_logs.s3.prefix": Attribute("", valid_prefix,
                                       "an S3 key prefix of A-Z a-z 0-9 !_.*'()/- not starting with AWSLogs"),
    CROSS_ZONE_ATTRIBUTE: Attribute("false", _boolean, BOOLEAN),
    "deletion_protection.enabled": Attribute("false", _boolean, BOOLEAN),
}


def target_group_defaults(*, ip_targets: bool, protocol: str) -> dict[str, str]:
    """AWS's defaults for a new NLB target group: client IPs are kept for instance targets,
    and for IP targets only on UDP and TCP_UDP."""
    defaults = {key: attribute.default for key, attribute in TARGET_GROUP.items()}
    if ip_targets and protocol not in ("UDP", "TCP_UDP"):
        defaults[PRESERVE_CLIENT_IP] = "false"
    return defaults


def load_balancer_defaults() -> dict[str, str]:
    return {key: attribute.default for key, attribute in LOAD_BALANCER.items()}


@dataclass(frozen=True)
class NLBAttributes:
    """The attributes the user asked for (only those), and what was wrong with the annotations."""

    target_group: Mapping[str, str] = field(default_factory=dict)
    load_balancer: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def _read_map(name: str, raw: str, known: Mapping[str, Attribute], problems: list[Problem]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for key, text in string_map(name, raw, problems).items():
        attribute = known.get(key)
        if attribute is None:
            problems.append(problem(name, f"{quoted(key)} is not an attribute cloudlb sets on a Network Load "
                                          f"Balancer ({', '.join(sorted(known))}); ignored", fatal=False))
            continue
        value = attribute.read(text)
        if value is None:
            problems.append(problem(name, f"{key}={quoted(text)} is not {attribute.expected}; ignored", fatal=False))
            continue
        wanted[key] = value
    return wanted


def _single(annotations: Mapping[str, str], name: str, key: str, known: Mapping[str, Attribute],
            problems: list[Problem]) -> str | None:
    """One of the older single-purpose annotations, read into the attribute ``key``."""
    text = present(annotations, name)
    if text is None:
        return None
    value = known[key].read(text)
    if value is None:
        problems.append(problem(name, f"{quoted(text)} is not {known[key].expected}; ignored", fatal=False))
    return value


def parse(annotations: Mapping[str, str]) -> NLBAttributes:
    problems: list[Problem] = []
    target_group = _read_map(TARGET_GROUP_ATTRIBUTES, annotations.get(TARGET_GROUP_ATTRIBUTES, ""), TARGET_GROUP,
                             problems)
    proxy = annotations.get(PROXY_PROTOCOL)
    if proxy is not None:
        if proxy.strip() == "*":
            target_group[PROXY_PROTOCOL_V2] = "true"
        else:
            # Fatal: the backends expect the header (or not); half a guess would break every connection.
            problems.append(problem(PROXY_PROTOCOL, f"{quoted(proxy)} is not \"*\", the only value it takes "
                                                    "(proxy protocol v2 on every target group)"))
    load_balancer = _read_map(LOAD_BALANCER_ATTRIBUTES, annotations.get(LOAD_BALANCER_ATTRIBUTES, ""),
                              LOAD_BALANCER, problems)
    # The single-purpose annotations take precedence over the attributes annotation (upstream's rule for ties).
    # The cross-zone annotation is already read by ``annotations.parse``: only its value is taken here.
    for name, key in ((ACCESS_LOG_ENABLED, "access_logs.s3.enabled"), (ACCESS_LOG_BUCKET, "access_logs.s3.bucket"),
                      (ACCESS_LOG_PREFIX, "access_logs.s3.prefix")):
        value = _single(annotations, name, key, LOAD_BALANCER, problems)
        if value is not None:
            load_balancer[key] = value
    if CROSS_ZONE in annotations:
        # The cross-zone annotation is read (and applied) by ``annotations.parse`` and the planner.
        load_balancer.pop(CROSS_ZONE_ATTRIBUTE, None)
    if load_balancer.get("access_logs.s3.enabled") == "true" and not load_balancer.get("access_logs.s3.bucket"):
        problems.append(problem(LOAD_BALANCER_ATTRIBUTES, "access_logs.s3.enabled=true needs access_logs.s3.bucket "
                                                          "(AWS refuses access logs without a bucket); ignored",
                                fatal=False))
        for key in ("access_logs.s3.enabled", "access_logs.s3.bucket", "access_logs.s3.prefix"):
            load_balancer.pop(key, None)
    return NLBAttributes(target_group, load_balancer, tuple(problems))


def writes(wanted: Mapping[str, str], managed_before: frozenset[str], observed: Mapping[str, str],
           defaults: Mapping[str, str]) -> dict[str, str]:
    """The attribute values to write: what is wanted, and AWS's default for what cloudlb set and no longer wants.

    Only values that differ from ``observed`` are written; an attribute nobody
    set is never touched (someone else may manage it).
    """
    target = dict(wanted)
    for key in managed_before - set(wanted):
        if key in defaults:
            target[key] = defaults[key]
    return {key: value for key, value in sorted(target.items()) if observed.get(key) != value}


def managed_keys(tags: Mapping[str, str]) -> frozenset[str]:
    """The attribute keys cloudlb recorded as set on a resource."""
    return frozenset(key for key in tags.get(MANAGED_TAG, "").split(",") if key)


def managed_tag(wanted: Mapping[str, str]) -> dict[str, str]:
    """The record tag for ``wanted`` (empty: no tag; the record is then removed)."""
    return {MANAGED_TAG: ",".join(sorted(wanted))} if wanted else {}
