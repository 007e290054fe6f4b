"""The GCP provider's start-up check: the project and region exist, and the credentials may read them.

One cheap read: the first page (of one) of the region's forwarding rules,
which the provider's custom role grants (``compute.forwardingRules.list``).
A project or region that does not exist answers 404 or 400; missing
permissions 403; bad credentials 401.
"""

from __future__ import annotations

import google.auth.exceptions
from google.api_core import exceptions as api_exceptions
from google.cloud import compute_v1

from cloudlb.provider import StartupCheckFailed
from cloudlb_gcp.compute import READ_RETRY, Compute

CHECK_TIMEOUT = 5.0


def check(compute: Compute) -> None:
    """Raise StartupCheckFailed with the setting to fix, or return when the Compute API answers a read."""
    endpoint = compute.forwarding_rules.api_endpoint
    where = f"project {compute.project!r}, region {compute.region!r}"
    try:
        request = compute_v1.ListForwardingRulesRequest(project=compute.project, region=compute.region, max_results=1)
        pager = compute.forwarding_rules.list(request=request, retry=READ_RETRY, timeout=CHECK_TIMEOUT)
        next(iter(pager), None)
    except (api_exceptions.NotFound, api_exceptions.BadRequest) as exc:
        raise StartupCheckFailed(f"{where} does not exist or is not enabled for Compute Engine ({exc.code}): "
                                 "check --gcp-project and --gcp-region (the chart's gcp.project and "
                                 "gcp.region)") from exc
    except api_exceptions.Forbidden as exc:
        raise StartupCheckFailed(f"the GCP credentials may not list forwarding rules in {where} (403): grant the "
                                 "controller's service account the role in providers/gcp/gcp-permissions.yaml") from exc
    except (api_exceptions.Unauthenticated, google.auth.exceptions.GoogleAuthError) as exc:
        raise StartupCheckFailed(f"GCP refused the credentials ({type(exc).__name__}): check Workload Identity "
                                 "(the service account's iam.gke.io/gcp-service-account annotation) or "
                                 "GOOGLE_APPLICATION_CREDENTIALS") from exc
    except (api_exceptions.RetryError, api_exceptions.ServiceUnavailable, OSError) as exc:
        # requests' connection errors are OSErrors (TimeoutError too): the endpoint could not be reached.
        raise StartupCheckFailed(f"cannot reach the Compute API at {endpoint} for {where}: check --gcp-endpoint "
                                 "(empty for Google's) and the network (Private Google Access)") from exc
