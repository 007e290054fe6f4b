"""The Compute clients one provider uses, all on one endpoint, and waiting for their operations.

The library's ``ExtendedOperation.result()`` polls through an operations client
of its own that ignores ``client_options``, so it would poll the real endpoint
even when we talk to an emulator. Writes here use the ``*_unary`` methods and
wait through operations clients built with the same endpoint and credentials.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import google.auth
from google.api_core import retry as retries
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import compute_v1

from cloudlb.provider import RetryLater
from cloudlb_gcp.errors import calling, raise_for_operation

# Reads are retried briefly on 503 by the library; longer outages are the operator's backoff's job.
READ_RETRY = retries.Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=2.0,
                           predicate=retries.if_transient_error)
REQUEST_TIMEOUT = 30.0
# How long one write may stay RUNNING before ensure gives up for now and retries later.
OPERATION_DEADLINE = 120.0


@dataclass(frozen=True)
class Location:
    project: str
    region: str


@dataclass
class Compute:
    """Every client the provider calls, sharing one transport configuration."""

    location: Location
    addresses: compute_v1.AddressesClient
    forwarding_rules: compute_v1.ForwardingRulesClient
    backend_services: compute_v1.RegionBackendServicesClient
    health_checks: compute_v1.RegionHealthChecksClient
    instance_groups: compute_v1.InstanceGroupsClient
    firewalls: compute_v1.FirewallsClient
    instances: compute_v1.InstancesClient
    region_operations: compute_v1.RegionOperationsClient
    zone_operations: compute_v1.ZoneOperationsClient
    global_operations: compute_v1.GlobalOperationsClient

    @property
    def project(self) -> str:
        return self.location.project

    @property
    def region(self) -> str:
        return self.location.region

    @property
    def in_region(self) -> dict[str, Any]:
        """The ``project`` and ``region`` arguments of every regional call."""
        return {"project": self.project, "region": self.region}

    def link(self, relative: str) -> str:
        """A reference the API accepts, relative to the project (``regions/R/healthChecks/X``)."""
        return f"projects/{self.project}/{relative}"

    def regional(self, collection: str, name: str) -> str:
        return self.link(f"regions/{self.region}/{collection}/{name}")

    def wait(self, operation: compute_v1.Operation, doing: str) -> None:
        """Poll an operation on our own endpoint until DONE; RetryLater if it takes too long."""
        deadline = time.monotonic() + OPERATION_DEADLINE
        done = compute_v1.Operation.Status.DONE
        pause = 0.0
        while operation.status != done:
            if time.monotonic() > deadline:
                raise RetryLater(f"{doing}: operation {operation.name} still running", delay=10)
            # ``wait`` itself blocks on Google's side; the pause only matters for a server that answers at once.
            time.sleep(pause)
            with calling(f"{doing} (waiting for {operation.name})"):
                operation = self._wait_once(operation)
            pause = min(max(pause * 2, 0.02), 1.0)
        raise_for_operation(operation, doing)

    def _wait_once(self, operation: compute_v1.Operation) -> compute_v1.Operation:
        # ``wait`` returns when the operation is done or after a server-side timeout, whichever comes first.
        common: dict[str, Any] = {"project": self.project, "operation": operation.name,
                                  "retry": READ_RETRY, "timeout": REQUEST_TIMEOUT}
        if operation.zone:
            return self.zone_operations.wait(zone=operation.zone.rsplit("/", 1)[1], **common)
        if operation.region:
            return self.region_operations.wait(region=operation.region.rsplit("/", 1)[1], **common)
        return self.global_operations.wait(**common)


def connect(location: Location, endpoint: str | None) -> Compute:
    """Clients for ``endpoint`` with anonymous credentials (an emulator), or Google's with default credentials."""
    kwargs: dict[str, Any] = {"transport": "rest"}
    if endpoint:
        credentials: Credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        kwargs["client_options"] = ClientOptions(api_endpoint=endpoint)
    else:
        credentials, _ = google.auth.default()
    kwargs["credentials"] = credentials
    return Compute(
        location=location,
        addresses=compute_v1.AddressesClient(**kwargs),
        forwarding_rules=compute_v1.ForwardingRulesClient(**kwargs),
        backend_services=compute_v1.RegionBackendServicesClient(**kwargs),
        health_checks=compute_v1.RegionHealthChecksClient(**kwargs),
        instance_groups=compute_v1.InstanceGroupsClient(**kwargs),
        firewalls=compute_v1.FirewallsClient(**kwargs),
        instances=compute_v1.InstancesClient(**kwargs),
        region_operations=compute_v1.RegionOperationsClient(**kwargs),
        zone_operations=compute_v1.ZoneOperationsClient(**kwargs),
        global_operations=compute_v1.GlobalOperationsClient(**kwargs),
    )
