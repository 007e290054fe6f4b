"""GKE's per-Service options through the real operator: set, checked in the cloud, changed, removed.

kopf against the emulated Kubernetes API over HTTP, the provider loaded through its entry point, the
GCE emulator over HTTP; the cloud side is read back with google-cloud-compute.
"""

from __future__ import annotations

from typing import Any

import pytest
from cloudlb_gcp import gke_annotations
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.names import names_for
from google.cloud import compute_v1

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import ServiceRef
from cloudlb.status import SYNCED_CONDITION
from cloudlb.testing import RunningController, run_controller, service_manifest
from cloudlb.translate import GKE_TYPE_ANNOTATION

from .conftest import PROJECT, REGION, WHERE, compute_client

pytestmark = pytest.mark.timeout(120)
CLUSTER = "options-test"
NAMES = names_for(CLUSTER, ServiceRef("default", "web"))
SUBNETS = f"projects/{PROJECT}/regions/{REGION}/subnetworks"


def options(emulator: GCEEmulator) -> dict[str, str]:
    return {"gcp-project": PROJECT, "gcp-region": REGION, "gcp-endpoint": emulator.url}


def rules(emulator: GCEEmulator) -> list[compute_v1.ForwardingRule]:
    return list(compute_client(emulator, compute_v1.ForwardingRulesClient).list(**WHERE))


def only_rule(emulator: GCEEmulator) -> compute_v1.ForwardingRule | None:
    found = rules(emulator)
    assert len(found) <= 1, [r.name for r in found]
    return found[0] if found else None


def addresses(emulator: GCEEmulator) -> dict[str, compute_v1.Address]:
    return {a.name: a for a in compute_client(emulator, compute_v1.AddressesClient).list(**WHERE)}


def ip_of(ctl: RunningController) -> str | None:
    service = ctl.service("default", "web") or {}
    ingress = (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    return str(ingress[0]["ip"]) if ingress else None


def annotate(kube: EmulatedKubernetes, name: str, value: str | None) -> None:
    kube.patch("v1", "services", "default", "web", {"metadata": {"annotations": {name: value}}})


def synced(ctl: RunningController) -> dict[str, Any]:
    service = ctl.service("default", "web") or {}
    return next(c for c in (service.get("status") or {}).get("conditions", []) if c["type"] == SYNCED_CONDITION)


def test_network_tier_is_set_changed_and_removed(kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    def tier_and_ip(wanted: str) -> str | None:
        """The IP, once the address and its rule are in the ``wanted`` tier and the status names the IP."""
        found = tiers()
        return found[2] if found is not None and found[:2] == (wanted, wanted) else None

    def tiers() -> tuple[str, str, str] | None:
        """(the address's tier, the rule's tier, the address's IP) once the status names that IP."""
        rule = only_rule(emulator)
        ours = addresses(emulator).get(NAMES.address)
        if rule is None or ours is None or ip_of(ctl) != ours.address or rule.I_p_address != ours.address:
            return None
        return ours.network_tier, rule.network_tier, ours.address

    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web", annotations={gke_annotations.NETWORK_TIER: "Standard"}))
        first = ctl.wait_for(lambda: tier_and_ip("STANDARD"), message="a Standard address and rule")
        annotate(kube, gke_annotations.NETWORK_TIER, "Premium")
        second = ctl.wait_for(lambda: tier_and_ip("PREMIUM"), message="a Premium address and rule")
        assert second != first, "an address cannot change tier: a new one is reserved"
        annotate(kube, gke_annotations.NETWORK_TIER, "Standard")
        ctl.wait_for(lambda: tier_and_ip("STANDARD"), message="Standard again")
        annotate(kube, gke_annotations.NETWORK_TIER, None)
        ctl.wait_for(lambda: tier_and_ip("PREMIUM"), message="the default, Premium")
        assert len(addresses(emulator)) == 1, "every address a tier change replaced was released"

        kube.delete("v1", "services", "default", "web")
        ctl.wait_for(lambda: ctl.service("default", "web") is None, message="the Service to be gone")
        assert emulator.leftovers() == []


def test_a_reserved_ip_of_the_other_tier_is_a_named_error_until_the_tier_matches(
        kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    emulator.add_address("users-standard-ip", ip="203.0.113.90", network_tier="STANDARD")
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web", load_balancer_ip="203.0.113.90"))

        def refused() -> list[dict[str, Any]]:
            return [e for e in ctl.events("default", "web")
                    if e.get("type") == "Warning" and gke_annotations.NETWORK_TIER in e["message"]]
        [warning, *_] = ctl.wait_for(refused, message="a Warning naming the network-tier annotation")
        assert "belongs to the STANDARD network tier" in warning["message"]
        condition = ctl.wait_for(lambda: synced(ctl)["status"] == "False" and synced(ctl),
                                 message="a failed sync condition")
        assert gke_annotations.NETWORK_TIER in condition["message"]
        assert rules(emulator) == [] and ip_of(ctl) is None

        annotate(kube, gke_annotations.NETWORK_TIER, "Standard")
        ctl.wait_for(lambda: ip_of(ctl) == "203.0.113.90", message="the reserved Standard IP in the status")
        [rule] = rules(emulator)
        assert (rule.network_tier, rule.I_p_address) == ("STANDARD", "203.0.113.90")
        assert synced(ctl)["status"] == "True"


def test_internal_subnet_is_set_changed_and_removed(kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    emulator.add_subnetwork("lb-subnet-2", "default", "10.131.0.0/24")

    def subnet() -> str | None:
        rule = only_rule(emulator)
        if rule is None or ip_of(ctl) != rule.I_p_address:
            return None
        return rule.subnetwork.rsplit("/", 1)[1]

    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web", annotations={GKE_TYPE_ANNOTATION: "Internal",
                                                         gke_annotations.SUBNET: "lb-subnet"}))
        ctl.wait_for(lambda: subnet() == "lb-subnet", message="the rule in lb-subnet")
        assert ip_of(ctl).startswith("10.130.0.")  # type: ignore[union-attr]
        annotate(kube, gke_annotations.SUBNET, "lb-subnet-2")
        ctl.wait_for(lambda: subnet() == "lb-subnet-2", message="the rule in lb-subnet-2")
        assert ip_of(ctl).startswith("10.131.0.")  # type: ignore[union-attr]
        annotate(kube, gke_annotations.SUBNET, None)
        ctl.wait_for(lambda: subnet() == "default", message="the rule back in the nodes' subnet")
        assert ip_of(ctl).startswith("10.128.0.")  # type: ignore[union-attr]
        [address] = addresses(emulator).values()
        assert address.subnetwork.endswith("/subnetworks/default")


def test_internal_global_access_is_set_changed_and_removed(kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    def access() -> bool | None:
        rule = only_rule(emulator)
        return None if rule is None or ip_of(ctl) != rule.I_p_address else rule.allow_global_access

    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web", annotations={GKE_TYPE_ANNOTATION: "Internal",
                                                         gke_annotations.GLOBAL_ACCESS: "true"}))
        ctl.wait_for(lambda: access() is True, message="global access on")
        vip = ip_of(ctl)
        annotate(kube, gke_annotations.GLOBAL_ACCESS, "false")
        ctl.wait_for(lambda: access() is False, message="global access off")
        annotate(kube, gke_annotations.GLOBAL_ACCESS, "true")
        ctl.wait_for(lambda: access() is True, message="global access on again")
        annotate(kube, gke_annotations.GLOBAL_ACCESS, None)
        ctl.wait_for(lambda: access() is False, message="the default, off")
        assert ip_of(ctl) == vip, "the internal VIP stays while global access changes"
