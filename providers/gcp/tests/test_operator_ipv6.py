"""IPv6 and dual-stack Services on GCP through the real operator: kopf against a dual-stack emulated
Kubernetes API over HTTP, the provider through its entry point, the GCE emulator (its nodes' subnetwork
dual-stack with an external IPv6 range, one subnetwork with an internal IPv6 range) over HTTP."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from google.cloud import compute_v1

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.sharing import SHARE_KEY_ANNOTATION
from cloudlb.status import SYNCED_CONDITION
from cloudlb.testing import RunningController, node_manifest, run_controller, service_manifest
from cloudlb.translate import GKE_TYPE_ANNOTATION

from .conftest import NODES, PROJECT, REGION, WHERE, compute_client

pytestmark = pytest.mark.timeout(120)
CLUSTER = "ipv6-test"
EXTERNAL_RANGE = ipaddress.IPv6Network("2600:1900:4000:42::/64")
INTERNAL_RANGE = ipaddress.IPv6Network("fd20:0:0:42::/64")
INTERNAL = {GKE_TYPE_ANNOTATION: "Internal"}


@pytest.fixture
def emulator() -> Iterator[GCEEmulator]:
    with GCEEmulator(project=PROJECT, region=REGION) as emu:
        emu.add_network("default")
        emu.add_subnetwork("default", "default", "10.128.0.0/20", ipv6_access_type="EXTERNAL",
                           ipv6_cidr=str(EXTERNAL_RANGE))
        emu.add_subnetwork("internal6", "default", "10.150.0.0/24", ipv6_access_type="INTERNAL",
                           ipv6_cidr=str(INTERNAL_RANGE))
        emu.add_subnetwork("v4-only", "default", "10.151.0.0/24")
        for zone, name, ip in NODES:
            emu.add_instance(zone, name, ip)
        yield emu


@pytest.fixture
def kube(emulator: GCEEmulator) -> Iterator[EmulatedKubernetes]:
    with EmulatedKubernetes(dual_stack=True) as emulated:
        for zone, name, ip in NODES:
            emulated.create(node_manifest(name, provider_id=f"gce://{PROJECT}/{zone}/{name}", internal_ip=ip,
                                          zone=zone))
        yield emulated


def options(emulator: GCEEmulator) -> dict[str, str]:
    return {"gcp-project": PROJECT, "gcp-region": REGION, "gcp-endpoint": emulator.url}


def ips(ctl: RunningController) -> list[str]:
    service = ctl.service("default", "web") or {}
    return [str(e["ip"]) for e in (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or []]


def both(ctl: RunningController) -> list[str] | None:
    """The status's two addresses, once it has two."""
    found = ips(ctl)
    return found if len(found) == 2 else None


def rules(emulator: GCEEmulator) -> dict[str, tuple[str, str]]:
    """(ipVersion, IPAddress) of each rule, by protocol and family."""
    found = {}
    for rule in compute_client(emulator, compute_v1.ForwardingRulesClient).list(**WHERE):
        version = rule.ip_version or "IPV4"
        found[f"{rule.I_p_protocol}/{version}"] = (version, rule.I_p_address)
    return found


def dual_stack(name: str = "web", families: tuple[str, ...] = ("IPv4", "IPv6"), policy: str = "RequireDualStack",
               **extra: Any) -> dict[str, Any]:
    manifest = service_manifest(name, [(80, "TCP"), (53, "UDP")], **extra)
    manifest["spec"].update(ipFamilies=list(families), ipFamilyPolicy=policy)
    return manifest


def test_a_dual_stack_service_gets_both_families_and_can_drop_ipv6(kube: EmulatedKubernetes,
                                                                   emulator: GCEEmulator) -> None:
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(dual_stack())
        [v4, v6] = ctl.wait_for(lambda: both(ctl), message="both families in the status")
        assert ipaddress.ip_address(v4).version == 4 and ipaddress.IPv6Address(v6) in EXTERNAL_RANGE
        assert rules(emulator) == {"TCP/IPV4": ("IPV4", v4), "UDP/IPV4": ("IPV4", v4),
                                   "TCP/IPV6": ("IPV6", f"{v6}/96"), "UDP/IPV6": ("IPV6", f"{v6}/96")}

        kube.patch("v1", "services", "default", "web", {"spec": {"ipFamilyPolicy": "SingleStack",
                                                                 "ipFamilies": ["IPv4"]}})
        ctl.wait_for(lambda: ips(ctl) == [v4], message="the status back to IPv4 alone")
        ctl.wait_for(lambda: set(rules(emulator)) == {"TCP/IPV4", "UDP/IPV4"}, message="the IPv6 rules gone")
        kube.delete("v1", "services", "default", "web")
        ctl.wait_for(lambda: ctl.service("default", "web") is None, message="the Service to be gone")
        assert emulator.leftovers() == []


def test_an_ipv6_first_internal_service_lists_ipv6_first(kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    annotations = {**INTERNAL, "networking.gke.io/internal-load-balancer-subnet": "internal6"}
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(dual_stack(families=("IPv6", "IPv4"), annotations=annotations))
        [v6, v4] = ctl.wait_for(lambda: both(ctl), message="both families in the status")
        assert ipaddress.IPv6Address(v6) in INTERNAL_RANGE and ipaddress.IPv4Address(v4) in ipaddress.IPv4Network(
            "10.150.0.0/24")
        found = rules(emulator)
        assert found["L3_DEFAULT/IPV6"] == ("IPV6", v6), "one rule carries both protocols on an internal IPv6 address"


def test_single_stack_ipv6_on_a_subnetwork_without_ipv6_is_a_named_error(kube: EmulatedKubernetes,
                                                                         emulator: GCEEmulator) -> None:
    annotations = {**INTERNAL, "networking.gke.io/internal-load-balancer-subnet": "v4-only"}
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(dual_stack(families=("IPv6",), policy="SingleStack", annotations=annotations))

        def warned() -> list[dict[str, Any]]:
            return [e for e in ctl.events("default", "web")
                    if e.get("type") == "Warning" and "spec.ipFamilies asks for IPv6" in e["message"]]
        [warning, *_] = ctl.wait_for(warned, message="a Warning naming spec.ipFamilies")
        assert "subnetwork v4-only (stackType IPV4_ONLY) has no internal IPv6 range" in warning["message"]

        def synced() -> dict[str, Any] | None:
            conditions = ((ctl.service("default", "web") or {}).get("status") or {}).get("conditions") or []
            return next((c for c in conditions if c["type"] == SYNCED_CONDITION and c["status"] == "False"), None)
        condition = ctl.wait_for(synced, message="a failed sync condition")
        assert "IPv6" in condition["message"] and ips(ctl) == []
        assert emulator.leftovers() == [] or not rules(emulator), "nothing serves a family it cannot have"


def test_dual_stack_members_of_one_key_share_both_addresses(kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    def ips_of(name: str) -> list[str]:
        service = ctl.service("default", name) or {}
        return [str(e["ip"]) for e in (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or []]

    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        for name, port in (("web", 80), ("api", 8080)):
            manifest = service_manifest(name, [(port, "TCP")], annotations={SHARE_KEY_ANNOTATION: "edge"})
            manifest["spec"].update(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="RequireDualStack")
            kube.create(manifest)
        def two_of_web() -> list[str] | None:
            found = ips_of("web")
            return found if len(found) == 2 else None
        pair = ctl.wait_for(two_of_web, message="web's two addresses")
        ctl.wait_for(lambda: ips_of("api") == pair, message="api on the same two addresses")
        rules = compute_client(emulator, compute_v1.ForwardingRulesClient).list(**WHERE)
        by_family: dict[str, set[str]] = {}
        for rule in rules:
            by_family.setdefault(rule.ip_version or "IPV4", set()).add(rule.I_p_address)
        assert by_family == {"IPV4": {pair[0]}, "IPV6": {f"{pair[1]}/96"}}
        addresses = list(compute_client(emulator, compute_v1.AddressesClient).list(**WHERE))
        assert len(addresses) == 2, "one address per family for the whole group"
        for name in ("web", "api"):
            kube.delete("v1", "services", "default", name)
        ctl.wait_for(lambda: not emulator.leftovers(), message="nothing left")
