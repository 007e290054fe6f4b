"""Services sharing one GCP address (``cloudlb.io/share-key``) through the real operator.

kopf against the emulated Kubernetes API over HTTP, the provider loaded through its entry point, the
GCE emulator over HTTP; the cloud is read back with google-cloud-compute. One reserved address, a
forwarding rule per member and protocol, and per member its own backend service, health check and
firewalls; the address goes with the last member.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.names import member_names, names_for_key
from cloudlb_gcp.ownership import read_mark
from google.cloud import compute_v1

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb.sharing import PORT_IN_USE, SHARE_KEY_ANNOTATION
from cloudlb.testing import RunningController, run_controller, service_manifest
from cloudlb.translate import GKE_TYPE_ANNOTATION

from .conftest import PROJECT, REGION, WHERE, compute_client

pytestmark = pytest.mark.timeout(120)
CLUSTER = "sharing-test"
KEY = LoadBalancerKey("default", "edge", shared=True)
ADDRESS = names_for_key(CLUSTER, KEY).address


def options(emulator: GCEEmulator) -> dict[str, str]:
    return {"gcp-project": PROJECT, "gcp-region": REGION, "gcp-endpoint": emulator.url}


def member(name: str, ports: Sequence[tuple[int, str]], **annotations: str) -> dict[str, Any]:
    return service_manifest(name, ports, annotations={SHARE_KEY_ANNOTATION: "edge", **annotations})


def ip_of(ctl: RunningController, name: str) -> str | None:
    service = ctl.service("default", name) or {}
    ingress = (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    return str(ingress[0]["ip"]) if ingress else None


def port_errors(ctl: RunningController, name: str) -> list[tuple[int, str, str]]:
    service = ctl.service("default", name) or {}
    ingress = (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    return [(p["port"], p["protocol"], p["error"]) for entry in ingress for p in entry.get("ports", [])]


def addresses(emulator: GCEEmulator) -> dict[str, compute_v1.Address]:
    return {a.name: a for a in compute_client(emulator, compute_v1.AddressesClient).list(**WHERE)}


def served(emulator: GCEEmulator) -> dict[str, list[tuple[str, str, str]]]:
    """By member Service (from each rule's mark): (protocol, ports, IP) of its forwarding rules."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for rule in compute_client(emulator, compute_v1.ForwardingRulesClient).list(**WHERE):
        mark = read_mark(rule.description)
        assert mark is not None and mark.shared == KEY and mark.service is not None
        found.setdefault(mark.service.name, []).append((rule.I_p_protocol, ",".join(rule.ports), rule.I_p_address))
    return {name: sorted(rules) for name, rules in found.items()}


def backend_services(emulator: GCEEmulator) -> list[str]:
    return sorted(s.name for s in compute_client(emulator, compute_v1.RegionBackendServicesClient).list(**WHERE))


def member_resources(emulator: GCEEmulator, name: str) -> list[str]:
    base = member_names(CLUSTER, KEY, ServiceRef("default", name)).base
    return [r for r in emulator.leftovers() if r.rsplit("/", 1)[1].startswith(base)]


def settle(ctl: RunningController) -> None:
    time.sleep(0.5)
    ctl.wait_for(ctl.idle, message="an idle work queue")


def test_members_share_one_address_a_clash_costs_one_port_and_the_address_goes_last(
        kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(member("web", [(80, "TCP"), (443, "TCP")]))
        kube.create(member("dns", [(53, "UDP"), (53, "TCP")]))
        ip = ctl.wait_for(lambda: ip_of(ctl, "web"), message="web's address")
        ctl.wait_for(lambda: ip_of(ctl, "dns") == ip, message="dns on the same address")
        assert list(addresses(emulator)) == [ADDRESS]
        ctl.wait_for(lambda: len(served(emulator)) == 2, message="both members' rules")
        assert served(emulator) == {"web": [("TCP", "80,443", ip)], "dns": [("TCP", "53", ip), ("UDP", "53", ip)]}
        assert backend_services(emulator) == sorted(
            member_names(CLUSTER, KEY, ServiceRef("default", n)).backend_service for n in ("web", "dns"))
        labels = dict(addresses(emulator)[ADDRESS].labels)
        assert sorted(v for k, v in labels.items() if k.startswith("cloudlb-member-")) == ["default_dns", "default_web"]

        time.sleep(1.1)  # creationTimestamp has one-second resolution: "late" is the youngest
        kube.create(member("late", [(443, "TCP"), (8443, "TCP")]))
        ctl.wait_for(lambda: port_errors(ctl, "late"), message="a port error on the clashing port")
        assert port_errors(ctl, "late") == [(443, "TCP", f"cloudlb.io/{PORT_IN_USE}")]
        assert ip_of(ctl, "late") == ip
        ctl.wait_for(lambda: "late" in served(emulator), message="late's other port served")
        assert served(emulator)["late"] == [("TCP", "8443", ip)]
        assert served(emulator)["web"] == [("TCP", "80,443", ip)], "the older member keeps its port"

        kube.delete("v1", "services", "default", "dns")
        ctl.wait_for(lambda: ctl.service("default", "dns") is None, message="dns deleted")
        assert member_resources(emulator, "dns") == []
        assert sorted(served(emulator)) == ["late", "web"] and ip_of(ctl, "web") == ip_of(ctl, "late") == ip
        assert member_resources(emulator, "web") and list(addresses(emulator)) == [ADDRESS]

        for name in ("web", "late"):
            kube.delete("v1", "services", "default", name)
        ctl.wait_for(lambda: ctl.service("default", "late") is None and ctl.service("default", "web") is None,
                     message="every member deleted")
        assert emulator.leftovers() == []


def test_internal_members_share_one_vip(kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    internal = {GKE_TYPE_ANNOTATION: "Internal"}
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(member("web", [(80, "TCP")], **internal))
        kube.create(member("db", [(5432, "TCP"), (5433, "UDP")], **internal))
        ip = ctl.wait_for(lambda: ip_of(ctl, "web"), message="web's address")
        ctl.wait_for(lambda: ip_of(ctl, "db") == ip, message="db on the same VIP")
        vip = addresses(emulator)[ADDRESS]
        assert (vip.address_type, vip.purpose, vip.address) == ("INTERNAL", "SHARED_LOADBALANCER_VIP", ip)
        ctl.wait_for(lambda: len(served(emulator)) == 2, message="both members' rules")
        assert served(emulator) == {"web": [("TCP", "80", ip)], "db": [("TCP", "5432", ip), ("UDP", "5433", ip)]}
        for name in ("web", "db"):
            kube.delete("v1", "services", "default", name)
        ctl.wait_for(lambda: not emulator.leftovers(), message="nothing left")


def test_a_restarted_controller_rebuilds_the_group_from_the_cloud(kube: EmulatedKubernetes,
                                                                  emulator: GCEEmulator) -> None:
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(member("a", [(80, "TCP")]))
        kube.create(member("b", [(81, "TCP")]))
        ip = ctl.wait_for(lambda: ip_of(ctl, "a"), message="a's address")
        ctl.wait_for(lambda: ip_of(ctl, "b") == ip and len(served(emulator)) == 2, message="b on the same address")
        settle(ctl)
    kube.delete("v1", "services", "default", "b")  # while no controller runs: b waits on its finalizer
    # A new controller (a new provider, an empty inventory) learns the group from the cloud alone.
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        ctl.wait_for(lambda: ctl.service("default", "b") is None, message="b's deletion finished")
        assert member_resources(emulator, "b") == []
        assert served(emulator) == {"a": [("TCP", "80", ip)]} and ip_of(ctl, "a") == ip
        owned = ctl.provider.sweep().owned
        assert owned == {KEY: frozenset({ServiceRef("default", "a")})}
        settle(ctl)
    kube.delete("v1", "services", "default", "a")
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        ctl.wait_for(lambda: ctl.service("default", "a") is None, message="a's deletion finished")
        assert emulator.leftovers() == []
