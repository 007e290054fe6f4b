"""The resource collections the emulator serves, with their message types and API method names."""

from __future__ import annotations

from dataclasses import dataclass

import proto  # type: ignore[import-untyped]
from google.cloud import compute_v1


@dataclass(frozen=True)
class Kind:
    """One collection: where it lives in the URL, its message type, and its name in the API (and in IAM)."""

    collection: str
    scope: str  # "global", "regions" or "zones"
    message: type[proto.Message]
    api_name: str  # e.g. "regionBackendServices": the prefix of method and permission names
    kind: str  # the resource's "kind" field


KINDS: tuple[Kind, ...] = (
    Kind("addresses", "regions", compute_v1.Address, "addresses", "compute#address"),
    Kind("forwardingRules", "regions", compute_v1.ForwardingRule, "forwardingRules", "compute#forwardingRule"),
    Kind("backendServices", "regions", compute_v1.BackendService, "regionBackendServices",
         "compute#backendService"),
    Kind("healthChecks", "regions", compute_v1.HealthCheck, "regionHealthChecks", "compute#healthCheck"),
    Kind("subnetworks", "regions", compute_v1.Subnetwork, "subnetworks", "compute#subnetwork"),
    Kind("instanceGroups", "zones", compute_v1.InstanceGroup, "instanceGroups", "compute#instanceGroup"),
    Kind("instances", "zones", compute_v1.Instance, "instances", "compute#instance"),
    Kind("firewalls", "global", compute_v1.Firewall, "firewalls", "compute#firewall"),
    Kind("networks", "global", compute_v1.Network, "networks", "compute#network"),
)

# Seeded by the test or sandbox; the emulator serves them read-only.
READ_ONLY = frozenset({"instances", "networks", "subnetworks"})
# What ``leftovers`` lists: everything a load balancer may have created.
LOAD_BALANCING = ("forwardingRules", "backendServices", "healthChecks", "instanceGroups", "firewalls", "addresses")

OPERATION_API_NAMES = {"global": "globalOperations", "regions": "regionOperations", "zones": "zoneOperations"}


def kind_for(scope: str, collection: str) -> Kind | None:
    for kind in KINDS:
        if kind.scope == scope and kind.collection == collection:
            return kind
    return None
