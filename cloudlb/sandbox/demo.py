"""The sample Services ``cloudlb sandbox --demo`` applies: one of each case a user meets first."""

from __future__ import annotations

from typing import Any

from cloudlb.testing import service_manifest

DEMO_NAMESPACE = "default"
DEMO_LABEL = "cloudlb.io/sandbox-demo"
# Both upstream spellings, so that every provider's translation sees "internal".
INTERNAL_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "networking.gke.io/load-balancer-type": "Internal",
}


def demo_services() -> list[dict[str, Any]]:
    services = [
        service_manifest("web", ports=[(80, "TCP"), (443, "TCP")]),
        service_manifest("dns", ports=[(53, "TCP"), (53, "UDP")]),
        service_manifest("signalling", ports=[(5060, "TCP"), (3868, "SCTP")]),
        service_manifest("local-policy", ports=[(8080, "TCP")], external_traffic_policy="Local"),
        service_manifest("internal-api", ports=[(9000, "TCP")], annotations=INTERNAL_ANNOTATIONS),
        service_manifest("office-only", ports=[(22, "TCP")], source_ranges=["203.0.113.0/24", "198.51.100.0/24"]),
    ]
    for service in services:
        service["metadata"]["labels"] = {DEMO_LABEL: "true"}
    return services
