"""The regional HTTP health check: kube-proxy's 10256 /healthz, or healthCheckNodePort /healthz for Local."""

from __future__ import annotations

from dataclasses import dataclass

from cloudlb.changes import Change
from cloudlb.model import HealthCheck
from cloudlb_gcp.ownership import OwnerMark, read_mark
from cloudlb_gcp.resources.common import Json, Kind, converge

# GKE's values: a Local check answers only where endpoints are ready, so it is probed more often.
CLUSTER_TIMING = (8, 1, 1, 3)  # interval, timeout, healthy threshold, unhealthy threshold
LOCAL_TIMING = (3, 1, 1, 2)


@dataclass(frozen=True)
class HealthCheckRecord:
    name: str
    mark: OwnerMark | None
    type: str
    port: int
    path: str
    interval: int
    timeout: int
    healthy_threshold: int
    unhealthy_threshold: int


def parse(item: Json) -> HealthCheckRecord:
    http = item.get("httpHealthCheck") or {}
    return HealthCheckRecord(
        name=item["name"], mark=read_mark(item.get("description", "")), type=item.get("type", ""),
        port=int(http.get("port") or 0), path=http.get("requestPath", ""),
        interval=int(item.get("checkIntervalSec") or 0), timeout=int(item.get("timeoutSec") or 0),
        healthy_threshold=int(item.get("healthyThreshold") or 0),
        unhealthy_threshold=int(item.get("unhealthyThreshold") or 0),
    )


def body(record: HealthCheckRecord) -> Json:
    assert record.mark is not None
    return {
        "name": record.name, "description": record.mark.description, "type": record.type,
        "httpHealthCheck": {"port": record.port, "requestPath": record.path},
        "checkIntervalSec": record.interval, "timeoutSec": record.timeout,
        "healthyThreshold": record.healthy_threshold, "unhealthyThreshold": record.unhealthy_threshold,
    }


KIND: Kind[HealthCheckRecord] = Kind("health-check", "regionHealthChecks", "healthChecks", "regions", parse, body)


def desired(name: str, mark: OwnerMark, check: HealthCheck) -> HealthCheckRecord:
    interval, timeout, healthy, unhealthy = LOCAL_TIMING if check.local else CLUSTER_TIMING
    return HealthCheckRecord(name, mark, "HTTP", check.port, check.path, interval, timeout, healthy, unhealthy)


def changes(want: HealthCheckRecord | None, have: HealthCheckRecord | None, mark: OwnerMark) -> list[Change]:
    return converge(KIND, want, have, mark)
