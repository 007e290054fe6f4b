"""Upstream parity of Service fields on GCP through the real operator (issue 11): set, checked in the
cloud, changed, removed. kopf against the emulated Kubernetes API over HTTP, the provider through its
entry point, the GCE emulator over HTTP, read back with google-cloud-compute.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.names import names_for
from google.api_core.exceptions import NotFound
from google.cloud import compute_v1

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import ServiceRef
from cloudlb.testing import RunningController, run_controller, service_manifest

from .conftest import PROJECT, REGION, WHERE, compute_client

pytestmark = pytest.mark.timeout(120)
CLUSTER = "parity-test"


def options(emulator: GCEEmulator) -> dict[str, str]:
    return {"gcp-project": PROJECT, "gcp-region": REGION, "gcp-endpoint": emulator.url}


def ip_of(ctl: RunningController, name: str = "web") -> str | None:
    service = ctl.service("default", name) or {}
    ingress = (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    return str(ingress[0]["ip"]) if ingress else None


def test_a_reserved_load_balancer_ip_is_found_by_a_filter_once_not_by_listing_the_region(
        kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    for i in range(30):  # other addresses of the region, which no read of cloudlb's may return
        emulator.add_address(f"someone-elses-{i}", ip=f"203.0.113.{100 + i}")
    emulator.add_address("users-ip", ip="203.0.113.77")
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web", load_balancer_ip="203.0.113.77"))
        ctl.wait_for(lambda: ip_of(ctl) == "203.0.113.77", message="the reserved IP in the status")
        listed = [parse_qs(c.query).get("filter", [""])[0] for c in emulator.requests if c.method == "addresses.list"]
        assert 'address = "203.0.113.77"' in listed
        assert all(listed), "every listing of addresses is filtered (by cloudlb's names or by the IP)"
        ctl.wait_for(ctl.idle, message="an idle queue")
        emulator.clear_requests()
        for _ in range(3):
            ctl.resync()
            ctl.wait_for(ctl.idle, message="the resync done")
        assert [c.method for c in emulator.requests if c.method.startswith("addresses.")] == [], (
            "resyncs answer from the inventory: the holder of the IP is known")


def backend_service(emulator: GCEEmulator, name: str = "web") -> compute_v1.BackendService:
    found: compute_v1.BackendService = compute_client(emulator, compute_v1.RegionBackendServicesClient).get(
        backend_service=names_for(CLUSTER, ServiceRef("default", name)).backend_service, **WHERE)
    return found


def rules(emulator: GCEEmulator) -> list[compute_v1.ForwardingRule]:
    return list(compute_client(emulator, compute_v1.ForwardingRulesClient).list(**WHERE))


def patch_spec(kube: EmulatedKubernetes, changes: dict[str, Any], name: str = "web") -> None:
    kube.patch("v1", "services", "default", name, {"spec": changes})


def test_client_ip_session_affinity_is_set_changed_and_removed(kube: EmulatedKubernetes,
                                                               emulator: GCEEmulator) -> None:
    def affinity() -> str | None:
        try:
            return str(backend_service(emulator).session_affinity)
        except NotFound:
            return None

    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        manifest = service_manifest("web")
        manifest["spec"]["sessionAffinity"] = "ClientIP"
        kube.create(manifest)
        ctl.wait_for(lambda: ip_of(ctl), message="an address")
        ctl.wait_for(lambda: affinity() == "CLIENT_IP", message="CLIENT_IP on the backend service")
        patch_spec(kube, {"sessionAffinity": "None"})
        ctl.wait_for(lambda: affinity() == "NONE", message="NONE again")
        patch_spec(kube, {"sessionAffinity": "ClientIP"})
        ctl.wait_for(lambda: affinity() == "CLIENT_IP", message="CLIENT_IP again")
        patch_spec(kube, {"sessionAffinity": None, "sessionAffinityConfig": None})
        ctl.wait_for(lambda: affinity() == "NONE", message="the default, NONE")


def test_a_service_without_node_ports_is_served_and_may_change(kube: EmulatedKubernetes,
                                                                emulator: GCEEmulator) -> None:
    """Upstream e2e "should be able to create LoadBalancer Service without NodePort and change it" (on GCE)."""
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        manifest = service_manifest("web", [(80, "TCP"), (53, "UDP")])
        manifest["spec"]["allocateLoadBalancerNodePorts"] = False
        kube.create(manifest)
        ip = ctl.wait_for(lambda: ip_of(ctl), message="an address")
        service = ctl.service("default", "web") or {}
        assert all("nodePort" not in port for port in service["spec"]["ports"])
        assert sorted((r.I_p_protocol, list(r.ports), r.I_p_address) for r in rules(emulator)) == [
            ("TCP", ["80"], ip), ("UDP", ["53"], ip)]
        assert not ctl.wait_for(lambda: ctl.service("default", "web"), message="the Service")["status"][
            "loadBalancer"]["ingress"][0].get("ports"), "no port error"
        ctl.wait_for(ctl.idle, message="an idle queue")
        emulator.clear_requests()
        patch_spec(kube, {"allocateLoadBalancerNodePorts": True})
        ctl.wait_for(lambda: all("nodePort" in p for p in (ctl.service("default", "web") or {})["spec"]["ports"]),
                     message="node ports allocated")
        ctl.wait_for(ctl.idle, message="an idle queue")
        assert [c.method for c in emulator.requests if c.is_write] == [], "passthrough never uses node ports"
        assert ip_of(ctl) == ip and len(rules(emulator)) == 2
        kube.delete("v1", "services", "default", "web")
        ctl.wait_for(lambda: ctl.service("default", "web") is None, message="the Service to be gone")
        assert emulator.leftovers() == []
