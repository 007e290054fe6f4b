"""Classic ELB settings from cloud-provider-aws's annotations: attributes, proxy protocol, backend protocol. Pure.

As the in-tree provider does, the attributes are always the full set with
its defaults (no access log, no connection draining, 60 s idle timeout, no
cross-zone balancing) overridden by the annotations, so removing an annotation
returns the load balancer to the default. ``proxy-protocol: "*"`` puts the
``k8s-proxyprotocol-enabled`` backend policy on every instance port;
``backend-protocol`` chooses the listener protocols (http/https/ssl/tcp).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudlb.parsing import ascii_lower, quoted
from cloudlb.problems import Problem
from cloudlb_aws.annotation_values import boolean, integer, present, problem
from cloudlb_aws.annotations import CROSS_ZONE, PREFIX
from cloudlb_aws.nlb_attributes import (
    ACCESS_LOG_BUCKET,
    ACCESS_LOG_ENABLED,
    ACCESS_LOG_PREFIX,
    PROXY_PROTOCOL,
    valid_bucket,
    valid_prefix,
)

CONNECTION_IDLE_TIMEOUT = PREFIX + "connection-idle-timeout"
CONNECTION_DRAINING_ENABLED = PREFIX + "connection-draining-enabled"
CONNECTION_DRAINING_TIMEOUT = PREFIX + "connection-draining-timeout"
ACCESS_LOG_EMIT_INTERVAL = PREFIX + "access-log-emit-interval"
BACKEND_PROTOCOL = PREFIX + "backend-protocol"
PARSED = (CONNECTION_IDLE_TIMEOUT, CONNECTION_DRAINING_ENABLED, CONNECTION_DRAINING_TIMEOUT, ACCESS_LOG_EMIT_INTERVAL,
          BACKEND_PROTOCOL)
# What only a Classic ELB has a place for (the provider says "ignored" on an NLB).
CLASSIC_ONLY = PARSED
# cloud-provider-aws's name and type for the proxy-protocol backend policy.
PROXY_PROTOCOL_POLICY = "k8s-proxyprotocol-enabled"
PROXY_PROTOCOL_POLICY_TYPE = "ProxyProtocolPolicyType"
# Listener protocol for a TLS port by backend protocol (cloud-provider-aws's backendProtocolMapping).
TLS_LISTENER = {"https": "HTTPS", "http": "HTTPS", "ssl": "SSL", "tcp": "SSL"}
BACKEND_PROTOCOLS = tuple(TLS_LISTENER)
DEFAULT_IDLE_TIMEOUT = 60
DEFAULT_DRAINING_TIMEOUT = 300


@dataclass(frozen=True)
class ClassicSettings:
    """``attributes`` in the shape of ModifyLoadBalancerAttributes; ``proxy_protocol``: the backend policy on."""

    attributes: Mapping[str, Any]
    proxy_protocol: bool = False
    backend_protocol: str | None = None
    problems: tuple[Problem, ...] = field(default=())

    def listener_protocols(self, *, tls: bool) -> tuple[str, str]:
        """(listener protocol, instance protocol) for a TCP port, with or without the certificate."""
        backend = self.backend_protocol
        if tls:
            return (TLS_LISTENER[backend], backend.upper()) if backend else ("SSL", "TCP")
        if backend == "http":
            return "HTTP", "HTTP"
        return "TCP", "TCP"


def parse(annotations: Mapping[str, str]) -> ClassicSettings:
    problems: list[Problem] = []
    access_log: dict[str, Any] = {"Enabled": False}
    draining: dict[str, Any] = {"Enabled": False}
    idle = DEFAULT_IDLE_TIMEOUT
    cross_zone = False
    if (text := present(annotations, ACCESS_LOG_ENABLED)) is not None:
        access_log["Enabled"] = bool(boolean(ACCESS_LOG_ENABLED, text, problems))
    if (text := present(annotations, ACCESS_LOG_EMIT_INTERVAL)) is not None:
        interval = integer(ACCESS_LOG_EMIT_INTERVAL, text, 5, 60, problems)
        if interval is not None and interval not in (5, 60):
            problems.append(problem(ACCESS_LOG_EMIT_INTERVAL, f"{quoted(text)} is not 5 or 60 (minutes), the "
                                                              "only intervals a Classic ELB takes", fatal=False))
        elif interval is not None:
            access_log["EmitInterval"] = interval
    if (text := present(annotations, ACCESS_LOG_BUCKET)) is not None:
        if valid_bucket(text):
            access_log["S3BucketName"] = text
        else:
            problems.append(problem(ACCESS_LOG_BUCKET, f"{quoted(text)} is not an S3 bucket name", fatal=False))
    if (text := present(annotations, ACCESS_LOG_PREFIX)) is not None:
        if valid_prefix(text):
            access_log["S3BucketPrefix"] = text
        else:
            problems.append(problem(ACCESS_LOG_PREFIX, f"{quoted(text)} is not an S3 key prefix of A-Z a-z 0-9 "
                                                       "!_.*'()/- not starting with AWSLogs", fatal=False))
    if access_log["Enabled"] and "S3BucketName" not in access_log:
        problems.append(problem(ACCESS_LOG_ENABLED, f"needs {ACCESS_LOG_BUCKET} (AWS refuses access logs without a "
                                                    "bucket); access logs stay off", fatal=False))
        access_log = {"Enabled": False}
    if not access_log["Enabled"]:
        access_log = {"Enabled": False}  # AWS keeps no bucket for disabled logs: compare like with like
    if (text := present(annotations, CONNECTION_DRAINING_ENABLED)) is not None:
        draining["Enabled"] = bool(boolean(CONNECTION_DRAINING_ENABLED, text, problems))
    if (text := present(annotations, CONNECTION_DRAINING_TIMEOUT)) is not None:
        timeout = integer(CONNECTION_DRAINING_TIMEOUT, text, 1, 3600, problems)
        if timeout is not None:
            draining["Timeout"] = timeout
    if draining["Enabled"]:
        draining.setdefault("Timeout", DEFAULT_DRAINING_TIMEOUT)
    else:
        draining = {"Enabled": False}
    if (text := present(annotations, CONNECTION_IDLE_TIMEOUT)) is not None:
        idle = integer(CONNECTION_IDLE_TIMEOUT, text, 1, 4000, problems) or DEFAULT_IDLE_TIMEOUT
    if (text := present(annotations, CROSS_ZONE)) is not None:
        cross_zone = bool(boolean(CROSS_ZONE, text, []))  # its problems are reported by annotations.parse
    proxy = annotations.get(PROXY_PROTOCOL)
    if proxy is not None and proxy.strip() != "*":
        problems.append(problem(PROXY_PROTOCOL, f"{quoted(proxy)} is not \"*\", the only value it takes "
                                                "(the proxy protocol on every backend port)"))
    backend: str | None = None
    if (text := present(annotations, BACKEND_PROTOCOL)) is not None:
        backend = ascii_lower(text)
        if backend not in BACKEND_PROTOCOLS:
            # Fatal, as upstream: a listener the user did not ask for would speak the wrong protocol.
            problems.append(problem(BACKEND_PROTOCOL, f"{quoted(text)} is not one of {', '.join(BACKEND_PROTOCOLS)}"))
            backend = None
    attributes = {"AccessLog": access_log, "ConnectionDraining": draining,
                  "ConnectionSettings": {"IdleTimeout": idle}, "CrossZoneLoadBalancing": {"Enabled": cross_zone}}
    return ClassicSettings(attributes, proxy is not None and proxy.strip() == "*", backend, tuple(problems))


def normalized(observed: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeLoadBalancerAttributes' answer in the shape ``parse`` builds, for comparison."""
    log = dict(observed.get("AccessLog") or {})
    access_log: dict[str, Any] = {"Enabled": bool(log.get("Enabled"))}
    if access_log["Enabled"]:
        access_log.update({k: log[k] for k in ("EmitInterval", "S3BucketName", "S3BucketPrefix") if log.get(k)})
        if "EmitInterval" in access_log:
            access_log["EmitInterval"] = int(access_log["EmitInterval"])
    drain = dict(observed.get("ConnectionDraining") or {})
    draining: dict[str, Any] = {"Enabled": bool(drain.get("Enabled"))}
    if draining["Enabled"]:
        draining["Timeout"] = int(drain.get("Timeout", DEFAULT_DRAINING_TIMEOUT))
    return {"AccessLog": access_log, "ConnectionDraining": draining,
            "ConnectionSettings": {"IdleTimeout": int((observed.get("ConnectionSettings") or {}).get(
                "IdleTimeout", DEFAULT_IDLE_TIMEOUT))},
            "CrossZoneLoadBalancing": {"Enabled": bool((observed.get("CrossZoneLoadBalancing") or {}).get("Enabled"))}}


def attribute_differences(wanted: Mapping[str, Any], observed: Mapping[str, Any]) -> dict[str, Any]:
    """The attribute groups that differ (each sent whole), from a normalized observation."""
    have = normalized(observed)
    return {group: value for group, value in wanted.items() if have.get(group) != value}
