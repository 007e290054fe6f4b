"""Upstream parity of Service fields on GCP through the real operator (issue 11): set, checked in the
cloud, changed, removed. kopf against the emulated Kubernetes API over HTTP, the provider through its
entry point, the GCE emulator over HTTP, read back with google-cloud-compute.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from cloudlb_gcp.emulator import GCEEmulator

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import RunningController, run_controller, service_manifest

from .conftest import PROJECT, REGION

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
