"""The GCP provider's start-up check: the project and region exist, and the credentials may read them.

One cheap read: the first page (of one) of the region's forwarding rules,
which the provider's custom role grants (``compute.forwardingRules.list``).
A project or region that does not exist answers 404 or 400; missing
permissions 403; bad credentials 401. A transient answer (5xx, throttling,
a refused connection) is tried again for a few seconds, as the Kubernetes
API server's probe is (``cloudlb.connection``): one such answer must not
end the start and send the pod into CrashLoopBackOff.
"""

from __future__ import annotations

import time

import google.auth.exceptions

from cloudlb.provider import StartupCheckFailed
from cloudlb_gcp.compute import READ, Compute, ComputeError

CHECK_TIMEOUT = 5.0
RETRY_SECONDS = 4.0  # as the Kubernetes API server's start-up probe (cloudlb.connection.PROBE_RETRY_SECONDS)


def check(compute: Compute) -> None:
    """Raise StartupCheckFailed with the setting to fix, or return when the Compute API answers a read."""
    where = f"project {compute.project!r}, region {compute.region!r}"
    deadline = time.monotonic() + RETRY_SECONDS
    delay = 0.25
    while True:
        try:
            _read(compute)
            return
        except ComputeError as exc:
            if not exc.transient or time.monotonic() + delay > deadline:
                raise StartupCheckFailed(_advice(exc, where, compute.endpoint)) from exc
            time.sleep(delay)
            delay *= 2


def _read(compute: Compute) -> None:
    try:
        compute.request("forwardingRules.list", "GET", compute.regional("forwardingRules"), family=READ,
                        query={"maxResults": "1"}, timeout=CHECK_TIMEOUT)
    except google.auth.exceptions.GoogleAuthError as exc:
        raise StartupCheckFailed(f"GCP refused the credentials ({type(exc).__name__}): check Workload Identity "
                                 "(the service account's iam.gke.io/gcp-service-account annotation) or "
                                 "GOOGLE_APPLICATION_CREDENTIALS") from exc


def _advice(error: ComputeError, where: str, endpoint: str) -> str:
    if error.status in (400, 404):
        return (f"{where} does not exist or is not enabled for Compute Engine ({error.status}): check "
                "--gcp-project and --gcp-region (the chart's gcp.project and gcp.region)")
    if error.status == 403:
        return (f"the GCP credentials may not list forwarding rules in {where} (403): grant the controller's "
                "service account the role in providers/gcp/gcp-permissions.yaml")
    if error.status == 401:
        return ("GCP refused the credentials (401): check Workload Identity (the service account's "
                "iam.gke.io/gcp-service-account annotation) or GOOGLE_APPLICATION_CREDENTIALS")
    return (f"cannot reach the Compute API at {endpoint} for {where} ({error.message}): check --gcp-endpoint "
            "(empty for Google's) and the network (Private Google Access)")
