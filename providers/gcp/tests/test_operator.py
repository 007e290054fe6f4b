"""The GCP provider driven by the real operator: kopf against the emulated Kubernetes API, the provider
loaded through its entry point, google-cloud-compute talking to the GCE emulator over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.names import instance_group_name, names_for
from google.cloud import compute_v1

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import FINALIZER, ServiceRef
from cloudlb.testing import node_manifest, run_controller, service_manifest

from .conftest import NODE_4, PROJECT, REGION, WHERE, compute_client

pytestmark = pytest.mark.timeout(90)
CLUSTER = "operator-test"
GROUP = instance_group_name(CLUSTER)


def options(emulator: GCEEmulator) -> dict[str, str]:
    return {"gcp-project": PROJECT, "gcp-region": REGION, "gcp-endpoint": emulator.url}


def rules(emulator: GCEEmulator) -> list[compute_v1.ForwardingRule]:
    return list(compute_client(emulator, compute_v1.ForwardingRulesClient).list(**WHERE))


def ingress(service: dict[str, Any]) -> list[dict[str, Any]]:
    return list(service["status"]["loadBalancer"]["ingress"])


def test_tcp_and_udp_service_round_trip(kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web", ports=[(80, "TCP"), (53, "UDP")]))
        service = ctl.wait_for_ingress("default", "web")
        [entry] = ingress(service)
        assert entry["ipMode"] == "VIP"
        assert FINALIZER in service["metadata"]["finalizers"]
        found = {r.I_p_protocol: r.I_p_address for r in rules(emulator)}
        assert found == {"TCP": entry["ip"], "UDP": entry["ip"]}
        assert emulator.members("us-central1-a", GROUP) == ["node-1", "node-3"]
        ctl.wait_for(lambda: "EnsuredLoadBalancer" in ctl.event_reasons("default", "web"), message="Ensured")

        kube.delete("v1", "services", "default", "web")
        ctl.wait_for(lambda: ctl.service("default", "web") is None, message="the Service to be gone")
        assert emulator.leftovers() == []


def test_sctp_is_a_port_error_on_external_and_served_on_internal(kube: EmulatedKubernetes,
                                                                  emulator: GCEEmulator) -> None:
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("ext", ports=[(80, "TCP"), (3868, "SCTP")]))
        kube.create(service_manifest("int", ports=[(80, "TCP"), (3868, "SCTP")], annotations={
            "networking.gke.io/load-balancer-type": "Internal"}))
        [external] = ingress(ctl.wait_for_ingress("default", "ext"))
        errors = {(p["port"], p["protocol"]): p.get("error") for p in external.get("ports", [])}
        assert errors.get((3868, "SCTP")) == "cloudlb.io/ProtocolNotSupported"
        assert errors.get((80, "TCP")) is None
        [internal] = ingress(ctl.wait_for_ingress("default", "int"))
        assert not any(p.get("error") for p in internal.get("ports", []))
        by_service = {r.name: r.I_p_protocol for r in rules(emulator)}
        assert by_service == {
            names_for(CLUSTER, ServiceRef("default", "ext")).forwarding_rule("TCP"): "TCP",
            names_for(CLUSTER, ServiceRef("default", "int")).forwarding_rule("L3_DEFAULT"): "L3_DEFAULT",
        }


def test_node_joining_only_changes_instance_group_membership(kube: EmulatedKubernetes,
                                                             emulator: GCEEmulator) -> None:
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        ctl.wait_for(ctl.idle, message="an idle queue")
        emulator.clear_requests()
        zone, name, ip = NODE_4
        kube.create(node_manifest(name, provider_id=f"gce://{PROJECT}/{zone}/{name}", internal_ip=ip, zone=zone))
        ctl.wait_for(lambda: emulator.members("us-central1-b", GROUP) == ["node-2", "node-4"],
                     message="node-4 in the zone b group")
        ctl.wait_for(ctl.idle, message="an idle queue")
        assert [c.method for c in emulator.requests if c.is_write] == ["instanceGroups.addInstances"]


def test_foreign_resource_with_our_name_gets_a_warning_and_is_untouched(kube: EmulatedKubernetes,
                                                                         emulator: GCEEmulator) -> None:
    name = names_for(CLUSTER, ServiceRef("default", "web")).traffic_firewall
    firewalls = compute_client(emulator, compute_v1.FirewallsClient)
    foreign = compute_v1.Firewall(name=name, network="global/networks/default", description="ops team",
                                  allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=["22"])])
    firewalls.insert_unary(project=PROJECT, firewall_resource=foreign)
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web"))

        def warned() -> list[dict[str, Any]]:
            return [e for e in ctl.events("default", "web") if e.get("type") == "Warning" and name in e["message"]]
        ctl.wait_for(warned, message="a Warning naming the foreign firewall")
        kept = firewalls.get(project=PROJECT, firewall=name)
        assert (kept.description, [list(a.ports) for a in kept.allowed]) == ("ops team", [["22"]])


def test_local_policy_source_ranges_and_static_ip_reach_the_cloud(kube: EmulatedKubernetes,
                                                                   emulator: GCEEmulator) -> None:
    emulator.add_address("users-ip", ip="203.0.113.77")
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web", external_traffic_policy="Local", source_ranges=["192.0.2.0/24"],
                                     load_balancer_ip="203.0.113.77"))
        service = ctl.wait_for_ingress("default", "web")
        assert ingress(service)[0]["ip"] == "203.0.113.77"
        names = names_for(CLUSTER, ServiceRef("default", "web"))
        check = compute_client(emulator, compute_v1.RegionHealthChecksClient).get(
            health_check=names.health_check, **WHERE)
        assert check.http_health_check.port == service["spec"]["healthCheckNodePort"]
        traffic = compute_client(emulator, compute_v1.FirewallsClient).get(project=PROJECT,
                                                                           firewall=names.traffic_firewall)
        assert list(traffic.source_ranges) == ["192.0.2.0/24"]

        kube.delete("v1", "services", "default", "web")
        ctl.wait_for(lambda: ctl.service("default", "web") is None, message="the Service to be gone")
        assert emulator.leftovers() == ["addresses/us-central1/users-ip"]


def test_node_leaving_is_removed_from_its_group(kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options(emulator)) as ctl:
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        kube.delete("v1", "nodes", None, "node-3")
        ctl.wait_for(lambda: emulator.members("us-central1-a", GROUP) == ["node-1"], message="node-3 removed")
