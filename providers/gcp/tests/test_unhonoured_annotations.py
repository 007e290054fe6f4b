"""Annotations the GCP provider does not honour, through the running operator: each gets a Warning, the
Service still gets its load balancer. kopf against the emulated Kubernetes API over HTTP, google-cloud-compute
against the GCE emulator.

Which annotations are honoured is read from the provider's capabilities; only the misspelt one is
unhonoured by construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cloudlb_gcp.capabilities import CAPABILITIES
from cloudlb_gcp.emulator import GCEEmulator
from google.cloud import compute_v1

from cloudlb import problems as p
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import node_manifest, run_controller, service_manifest
from cloudlb.translate import GKE_TYPE_ANNOTATION

from .conftest import NODES, PROJECT, REGION, WHERE, compute_client

pytestmark = pytest.mark.timeout(90)
CLUSTER = "annotations-test"
TYPO = "networking.gke.io/load-balancer-typ"
# GKE's annotations, with values that stay valid should they become honoured.
ANNOTATIONS = {
    "cloud.google.com/l4-rbs": "enabled",
    "cloud.google.com/network-tier": "Premium",
    "networking.gke.io/weighted-load-balancing": "pods-per-node",
    TYPO: "Internal",
    "cloudlb.io/made-up": "x",
}


@pytest.fixture
def kube(emulator: GCEEmulator) -> Iterator[EmulatedKubernetes]:
    with EmulatedKubernetes() as emulated:
        for zone, name, ip in NODES:
            emulated.create(node_manifest(name, provider_id=f"gce://{PROJECT}/{zone}/{name}", internal_ip=ip,
                                          zone=zone))
        yield emulated


def field(name: str) -> str:
    return f"metadata.annotations[{name}]"


def test_each_unhonoured_annotation_gets_a_warning_and_the_service_its_load_balancer(
        kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    assert TYPO not in CAPABILITIES.annotations
    unhonoured = {name for name in ANNOTATIONS if name not in CAPABILITIES.annotations}
    options = {"gcp-project": PROJECT, "gcp-region": REGION, "gcp-endpoint": emulator.url}
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options) as ctl:
        kube.create(service_manifest("web", annotations=ANNOTATIONS))
        [entry] = ctl.wait_for_ingress("default", "web")["status"]["loadBalancer"]["ingress"]
        rules = list(compute_client(emulator, compute_v1.ForwardingRulesClient).list(**WHERE))
        # The misspelt type annotation asked for nothing: the load balancer is external, and the Warning says why.
        assert [(r.I_p_address, r.load_balancing_scheme) for r in rules] == [(entry["ip"], "EXTERNAL")]

        def all_named() -> dict[str, dict[str, Any]] | None:
            # Each message starts with the field it names, e.g. "metadata.annotations[...]: ...".
            found = {str(event["message"]).split(": ", 1)[0]: event for event in ctl.events("default", "web")
                     if event.get("reason") == p.UNSUPPORTED_ANNOTATION}
            return found if found.keys() >= {field(name) for name in unhonoured} else None

        warnings = ctl.wait_for(all_named, message=f"a Warning for each of {sorted(unhonoured)}")
        assert set(warnings) == {field(name) for name in unhonoured}, "honoured annotations get no such Warning"
        assert all(event["type"] == "Warning" for event in warnings.values())
        assert warnings[field(TYPO)]["message"].endswith(f"(did you mean {GKE_TYPE_ANNOTATION}?)")
        for name in unhonoured - {TYPO}:
            assert "did you mean" not in warnings[field(name)]["message"], name
        ctl.wait_for(lambda: "EnsuredLoadBalancer" in ctl.event_reasons("default", "web"), message="Ensured")

        kube.delete("v1", "services", "default", "web")
        ctl.wait_for(lambda: ctl.service("default", "web") is None, message="the Service to be gone")
        assert emulator.leftovers() == []
