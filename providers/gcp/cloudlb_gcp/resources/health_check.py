"""The regional HTTP health check: kube-proxy's 10256 /healthz, or healthCheckNodePort /healthz for Local."""

from __future__ import annotations

from google.cloud import compute_v1

from cloudlb.model import HealthCheck
from cloudlb_gcp.compute import READ_RETRY, REQUEST_TIMEOUT, Compute
from cloudlb_gcp.ownership import OwnerMark, is_owned, require_owned
from cloudlb_gcp.resources.calls import delete, read, write

# GKE's values: a Local check answers only where endpoints are ready, so it is probed more often.
CLUSTER_TIMING = {"check_interval_sec": 8, "timeout_sec": 1, "healthy_threshold": 1, "unhealthy_threshold": 3}
LOCAL_TIMING = {"check_interval_sec": 3, "timeout_sec": 1, "healthy_threshold": 1, "unhealthy_threshold": 2}


def desired(name: str, mark: OwnerMark, check: HealthCheck) -> compute_v1.HealthCheck:
    timing = LOCAL_TIMING if check.local else CLUSTER_TIMING
    return compute_v1.HealthCheck(
        name=name, description=mark.description, type_="HTTP",
        http_health_check=compute_v1.HTTPHealthCheck(port=check.port, request_path=check.path),
        **timing,
    )


def _differs(want: compute_v1.HealthCheck, have: compute_v1.HealthCheck) -> bool:
    return (
        want.type_ != have.type_
        or want.http_health_check.port != have.http_health_check.port
        or want.http_health_check.request_path != have.http_health_check.request_path
        or any(getattr(want, f) != getattr(have, f) for f in CLUSTER_TIMING)
    )


def ensure(compute: Compute, name: str, mark: OwnerMark, check: HealthCheck) -> str:
    """Create or converge the health check; returns its link."""
    want = desired(name, mark, check)
    where = compute.in_region
    have = _get(compute, name)
    if have is None:
        write(compute, f"creating health check {name}", lambda: compute.health_checks.insert_unary(
            health_check_resource=want, timeout=REQUEST_TIMEOUT, **where))
    else:
        require_owned(mark, f"health check {name}", have.description)
        if _differs(want, have):
            write(compute, f"updating health check {name}", lambda: compute.health_checks.patch_unary(
                health_check=name, health_check_resource=want, timeout=REQUEST_TIMEOUT, **where))
    return compute.regional("healthChecks", name)


def remove(compute: Compute, name: str, mark: OwnerMark) -> None:
    have = _get(compute, name)
    if have is not None and is_owned(mark, have.description):
        delete(compute, f"deleting health check {name}", lambda: compute.health_checks.delete_unary(
            health_check=name, timeout=REQUEST_TIMEOUT, **compute.in_region))


def _get(compute: Compute, name: str) -> compute_v1.HealthCheck | None:
    return read(f"reading health check {name}", lambda: compute.health_checks.get(
        health_check=name, retry=READ_RETRY, timeout=REQUEST_TIMEOUT, **compute.in_region))
