"""The GCP provider against the GCE emulator over HTTP, through google-cloud-compute."""

from __future__ import annotations

import json
import socket
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import pytest
from cloudlb_gcp.compute import Location, connect
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.names import instance_group_name, names_for
from cloudlb_gcp.provider import GCPProvider
from google.cloud import compute_v1

from cloudlb.model import Backend, DesiredLoadBalancer, HealthCheck, LoadBalancerKey, ServiceRef
from cloudlb.provider import CloudStateError, NotOwnedError, PermanentError, RetryLater

from .conftest import (
    CLUSTER,
    NODE_4,
    NODES,
    PROJECT,
    REGION,
    WHERE,
    SpecFactory,
    compute_client,
    delete,
    ensure,
    new_provider,
    owned,
    reads,
    seeded,
    writes,
)

pytestmark = pytest.mark.timeout(60)
GROUP = instance_group_name(CLUSTER)


client = compute_client


def rules_of(emulator: GCEEmulator) -> list[compute_v1.ForwardingRule]:
    return list(client(emulator, compute_v1.ForwardingRulesClient).list(**WHERE))


def firewall(emulator: GCEEmulator, name: str) -> compute_v1.Firewall:
    found: compute_v1.Firewall = client(emulator, compute_v1.FirewallsClient).get(project=PROJECT, firewall=name)
    return found


def test_tcp_service_gets_every_resource(emulator: GCEEmulator, provider: GCPProvider,
                                         make_spec: SpecFactory) -> None:
    spec = make_spec(ports=[(80, "TCP"), (443, "TCP")])
    status = ensure(provider, spec)
    names = names_for(CLUSTER, spec.service)

    address = client(emulator, compute_v1.AddressesClient).get(address=names.address, **WHERE)
    assert status.ingress[0].ip == address.address
    assert status.ingress[0].ip_mode == "VIP"
    assert address.address_type == "EXTERNAL"
    assert address.labels["cloudlb-cluster"] == CLUSTER

    check = client(emulator, compute_v1.RegionHealthChecksClient).get(health_check=names.health_check, **WHERE)
    assert (check.type_, check.http_health_check.port, check.http_health_check.request_path) == (
        "HTTP", 10256, "/healthz")

    service = client(emulator, compute_v1.RegionBackendServicesClient).get(
        backend_service=names.backend_service, **WHERE)
    assert (service.load_balancing_scheme, service.protocol) == ("EXTERNAL", "TCP")
    assert service.health_checks[0].endswith(f"healthChecks/{names.health_check}")
    assert sorted(b.group.split("/zones/")[1] for b in service.backends) == [
        f"us-central1-a/instanceGroups/{GROUP}", f"us-central1-b/instanceGroups/{GROUP}"]
    assert emulator.members("us-central1-a", GROUP) == ["node-1", "node-3"]
    assert emulator.members("us-central1-b", GROUP) == ["node-2"]

    [rule] = rules_of(emulator)
    assert (rule.name, rule.I_p_protocol, list(rule.ports), rule.I_p_address) == (
        names.forwarding_rule("TCP"), "TCP", ["80", "443"], address.address)
    assert rule.backend_service.endswith(f"backendServices/{names.backend_service}")

    traffic = firewall(emulator, names.traffic_firewall)
    assert [(a.I_p_protocol, list(a.ports)) for a in traffic.allowed] == [("tcp", ["80", "443"])]
    assert list(traffic.source_ranges) == ["0.0.0.0/0"]
    assert list(traffic.destination_ranges) == [address.address]
    assert list(traffic.target_tags) == ["k8s-node"]
    probes = firewall(emulator, names.health_check_firewall)
    assert [(a.I_p_protocol, list(a.ports)) for a in probes.allowed] == [("tcp", ["10256"])]
    assert "35.191.0.0/16" in probes.source_ranges
    assert json.loads(probes.description) == {"cloudlb.io/cluster": CLUSTER, "cloudlb.io/service": "default/web"}


def test_tcp_and_udp_share_one_ip_with_two_rules(emulator: GCEEmulator, provider: GCPProvider,
                                                 make_spec: SpecFactory) -> None:
    status = ensure(provider, make_spec(ports=[(53, "TCP"), (53, "UDP"), (8080, "TCP")]))
    rules = {r.I_p_protocol: r for r in rules_of(emulator)}
    assert set(rules) == {"TCP", "UDP"}
    assert {r.I_p_address for r in rules.values()} == {status.ingress[0].ip}
    assert list(rules["TCP"].ports) == ["53", "8080"] and list(rules["UDP"].ports) == ["53"]
    service = client(emulator, compute_v1.RegionBackendServicesClient).list(**WHERE)
    assert [s.protocol for s in service] == ["UNSPECIFIED"]


def test_internal_with_sctp_is_one_l3_default_rule_in_the_named_subnet(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    spec = make_spec(ports=[(80, "TCP"), (3868, "SCTP")], internal=True, annotations={
        "networking.gke.io/load-balancer-type": "Internal",
        "networking.gke.io/internal-load-balancer-subnet": "lb-subnet",
        "networking.gke.io/internal-load-balancer-allow-global-access": "true",
    })
    status = ensure(provider, spec)
    [rule] = rules_of(emulator)
    assert (rule.I_p_protocol, rule.all_ports, rule.load_balancing_scheme, rule.allow_global_access) == (
        "L3_DEFAULT", True, "INTERNAL", True)
    assert rule.subnetwork.endswith("subnetworks/lb-subnet")
    assert status.ingress[0].ip is not None and status.ingress[0].ip.startswith("10.130.0.")
    names = names_for(CLUSTER, spec.service)
    allowed = {a.I_p_protocol: list(a.ports) for a in firewall(emulator, names.traffic_firewall).allowed}
    assert allowed == {"sctp": ["3868"], "tcp": ["80"]}
    assert "130.211.0.0/22" in firewall(emulator, names.health_check_firewall).source_ranges


def test_internal_tcp_uses_the_nodes_subnet_and_a_shared_internal_address(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    status = ensure(provider, make_spec(ports=[(80, "TCP"), (53, "UDP")], internal=True))
    assert {r.I_p_protocol for r in rules_of(emulator)} == {"TCP", "UDP"}
    address = client(emulator, compute_v1.AddressesClient).list(**WHERE)
    [ours] = list(address)
    assert (ours.address_type, ours.purpose, ours.address) == (
        "INTERNAL", "SHARED_LOADBALANCER_VIP", status.ingress[0].ip)
    assert ours.subnetwork.endswith("subnetworks/default")


def test_local_policy_probes_the_health_check_node_port(emulator: GCEEmulator, provider: GCPProvider,
                                                        make_spec: SpecFactory) -> None:
    spec = make_spec(health_check=HealthCheck(port=31999, path="/healthz", local=True))
    ensure(provider, spec)
    names = names_for(CLUSTER, spec.service)
    check = client(emulator, compute_v1.RegionHealthChecksClient).get(health_check=names.health_check, **WHERE)
    assert check.http_health_check.port == 31999
    assert [list(a.ports) for a in firewall(emulator, names.health_check_firewall).allowed] == [["31999"]]
    # Back to Cluster: the check and its firewall are patched in place.
    emulator.clear_requests()
    ensure(provider, make_spec())
    assert client(emulator, compute_v1.RegionHealthChecksClient).get(
        health_check=names.health_check, **WHERE).http_health_check.port == 10256
    assert sorted(writes(emulator)) == ["firewalls.patch", "regionHealthChecks.patch"]


def test_source_ranges_become_the_firewall_sources(emulator: GCEEmulator, provider: GCPProvider,
                                                    make_spec: SpecFactory) -> None:
    spec = make_spec(source_ranges=["192.0.2.0/24", "198.51.100.7/32"])
    ensure(provider, spec)
    traffic = firewall(emulator, names_for(CLUSTER, spec.service).traffic_firewall)
    assert sorted(traffic.source_ranges) == ["192.0.2.0/24", "198.51.100.7/32"]


def test_load_balancer_ip_of_a_users_reserved_address_is_used_and_kept(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    emulator.add_address("users-ip", ip="203.0.113.200")
    spec = make_spec(requested_ips=["203.0.113.200"])
    assert ensure(provider, spec).ingress[0].ip == "203.0.113.200"
    assert [r.I_p_address for r in rules_of(emulator)] == ["203.0.113.200"]
    delete(provider, spec.service)
    assert emulator.leftovers() == ["addresses/us-central1/users-ip"]


def test_address_named_by_annotation_is_used_and_switching_away_releases_ours(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    first = ensure(provider, make_spec()).ingress[0].ip
    emulator.add_address("static-web")
    users = client(emulator, compute_v1.AddressesClient).get(address="static-web", **WHERE).address
    spec = make_spec(annotations={"networking.gke.io/load-balancer-ip-addresses": "static-web"})
    emulator.clear_requests()
    assert ensure(provider, spec).ingress[0].ip == users != first
    assert reads(emulator) == ["addresses.get"], "the user's address is read once, by name"
    addresses = [a.name for a in client(emulator, compute_v1.AddressesClient).list(**WHERE)]
    assert addresses == ["static-web"]
    # The rule names the address it serves on, so that a sweep knows it without reading it again.
    [rule] = rules_of(emulator)
    assert (rule.I_p_address, rule.labels["cloudlb-address"]) == (users, "static-web")
    restarted = new_provider(emulator)
    restarted.sweep()
    emulator.clear_requests()
    ensure(restarted, spec)
    assert emulator.requests == []


def test_annotation_naming_the_address_cloudlb_made_for_the_same_service_keeps_it_as_ours(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    """Pinning the generated address by name (to keep the IP) must not release it or loop on retries."""
    web = make_spec()
    ip = ensure(provider, web).ingress[0].ip
    own = names_for(CLUSTER, web.service).address
    pinned = make_spec(annotations={"networking.gke.io/load-balancer-ip-addresses": own})
    emulator.clear_requests()
    assert ensure(provider, pinned).ingress[0].ip == ip
    assert emulator.requests == []
    assert ensure(provider, pinned).ingress[0].ip == ip
    delete(provider, web.service)
    assert emulator.leftovers() == []


def test_load_balancer_ip_of_another_services_address_is_refused_and_its_owner_still_deletes(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    web = make_spec("web")
    taken = ensure(provider, web).ingress[0].ip
    assert taken is not None
    emulator.clear_requests()
    with pytest.raises(PermanentError, match="Service default/web of cluster test-cluster"):
        ensure(provider, make_spec("api", ports=[(8080, "TCP")], requested_ips=[taken]))
    assert writes(emulator) == []
    assert [r.name for r in rules_of(emulator)] == [names_for(CLUSTER, web.service).forwarding_rule("TCP")]
    delete(provider, web.service)
    assert emulator.leftovers() == []


def test_address_annotation_naming_another_services_address_is_refused(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    web = make_spec("web")
    ensure(provider, web)
    theirs = names_for(CLUSTER, web.service).address
    emulator.clear_requests()
    with pytest.raises(PermanentError, match=f"{theirs} .*Service default/web of cluster test-cluster"):
        ensure(provider, make_spec("api", ports=[(8080, "TCP")],
                                 annotations={"networking.gke.io/load-balancer-ip-addresses": theirs}))
    assert writes(emulator) == []
    delete(provider, web.service)
    assert emulator.leftovers() == []


def test_load_balancer_ip_of_another_clusters_address_is_refused(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    other = GCPProvider("other-cluster", provider.compute)
    spec = make_spec("web")
    taken = ensure(other, make_spec("web", nodes=[])).ingress[0].ip
    assert taken is not None
    emulator.clear_requests()
    with pytest.raises(PermanentError, match="Service default/web of cluster other-cluster"):
        ensure(provider, make_spec("web", ports=[(8080, "TCP")], requested_ips=[taken]))
    assert writes(emulator) == []
    delete(other, spec.service)
    assert emulator.leftovers() == []


def test_node_changes_only_touch_instance_group_membership(emulator: GCEEmulator, provider: GCPProvider,
                                                           make_spec: SpecFactory) -> None:
    ensure(provider, make_spec())
    emulator.clear_requests()
    with_node_4 = [*NODES, NODE_4]
    ensure(provider, make_spec(nodes=with_node_4))
    assert writes(emulator) == ["instanceGroups.addInstances"]
    assert reads(emulator) == []
    assert emulator.members("us-central1-b", GROUP) == ["node-2", "node-4"]
    emulator.clear_requests()
    ensure(provider, make_spec(nodes=with_node_4[1:]))
    assert writes(emulator) == ["instanceGroups.removeInstances"]
    assert reads(emulator) == []
    assert emulator.members("us-central1-a", GROUP) == ["node-3"]


def test_a_zone_without_nodes_leaves_the_backend_service_and_its_group_goes(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    ensure(provider, make_spec())
    ensure(provider, make_spec(nodes=[n for n in NODES if n[0] == "us-central1-a"]))
    assert f"instanceGroups/us-central1-b/{GROUP}" not in emulator.leftovers()
    assert f"instanceGroups/us-central1-a/{GROUP}" in emulator.leftovers()


def test_no_change_resync_calls_nothing(emulator: GCEEmulator, provider: GCPProvider,
                                        make_spec: SpecFactory) -> None:
    spec = make_spec(ports=[(80, "TCP"), (53, "UDP")], source_ranges=["10.0.0.0/8"], internal=True)
    ensure(provider, spec)
    emulator.clear_requests()
    ensure(provider, spec)
    assert emulator.requests == [], "the inventory kept by the provider's own writes answers"
    observed = provider.observe([LoadBalancerKey.of(spec.service)])[LoadBalancerKey.of(spec.service)]
    assert provider.plan(LoadBalancerKey.of(spec.service), DesiredLoadBalancer.single(spec), observed).empty


def test_port_change_replaces_the_rule_and_keeps_the_ip(emulator: GCEEmulator, provider: GCPProvider,
                                                        make_spec: SpecFactory) -> None:
    ip = ensure(provider, make_spec(ports=[(80, "TCP")])).ingress[0].ip
    assert ensure(provider, make_spec(ports=[(8080, "TCP"), (53, "UDP")])).ingress[0].ip == ip
    assert sorted((r.I_p_protocol, tuple(r.ports)) for r in rules_of(emulator)) == [
        ("TCP", ("8080",)), ("UDP", ("53",))]
    ensure(provider, make_spec(ports=[(9000 + i, "TCP") for i in range(7)]))
    [rule] = rules_of(emulator)
    assert (rule.port_range, rule.I_p_address) == ("9000-9006", ip)


def test_delete_leaves_nothing_and_tolerates_missing_parts(emulator: GCEEmulator, provider: GCPProvider,
                                                           make_spec: SpecFactory) -> None:
    web, api = make_spec("web"), make_spec("api", ports=[(53, "UDP")])
    ensure(provider, web)
    ensure(provider, api)
    assert owned(provider) == [ServiceRef("default", "api"), ServiceRef("default", "web")]
    delete(provider, web.service)
    # The cluster's instance groups stay while another load balancer uses them.
    assert f"instanceGroups/us-central1-a/{GROUP}" in emulator.leftovers()
    delete(provider, api.service)
    assert emulator.leftovers() == []
    delete(provider, api.service)
    assert owned(provider) == []


def test_foreign_resource_with_our_name_is_never_touched(emulator: GCEEmulator, provider: GCPProvider,
                                                         make_spec: SpecFactory) -> None:
    spec = make_spec()
    names = names_for(CLUSTER, spec.service)
    foreign = compute_v1.HealthCheck(name=names.health_check, type_="TCP", description="made by hand",
                                     tcp_health_check=compute_v1.TCPHealthCheck(port=22))
    checks = client(emulator, compute_v1.RegionHealthChecksClient)
    checks.insert_unary(health_check_resource=foreign, **WHERE)
    with pytest.raises(NotOwnedError, match=names.health_check):
        ensure(provider, spec)
    delete(provider, spec.service)
    kept = checks.get(health_check=names.health_check, **WHERE)
    assert (kept.type_, kept.tcp_health_check.port, kept.description) == ("TCP", 22, "made by hand")
    assert emulator.leftovers() == [f"healthChecks/us-central1/{names.health_check}"]


def test_another_clusters_service_is_not_ours(emulator: GCEEmulator, provider: GCPProvider,
                                              make_spec: SpecFactory) -> None:
    ensure(provider, make_spec())
    other = GCPProvider("other-cluster", provider.compute)
    assert owned(other) == []
    delete(other, ServiceRef("default", "web"))
    assert owned(provider) == [ServiceRef("default", "web")]


WRITE_STEPS = [
    "addresses.insert", "regionHealthChecks.insert", "instanceGroups.insert", "instanceGroups.addInstances",
    "firewalls.insert", "regionBackendServices.insert", "forwardingRules.insert", "regionOperations.wait",
    "zoneOperations.wait", "addresses.get", "forwardingRules.list", "instances.list",
]


@pytest.mark.parametrize("method", WRITE_STEPS)
def test_a_fault_at_any_step_retries_and_converges_without_leaks(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory, method: str) -> None:
    spec = make_spec(ports=[(80, "TCP"), (53, "UDP")])
    # An outage longer than the client's own short retry of reads absorbs.
    emulator.fail(method, status=503, times=1000)
    with pytest.raises(RetryLater):
        ensure(provider, spec)
    emulator.clear_faults()
    status = ensure(provider, spec)
    assert status.ingress[0].ip is not None
    assert len(rules_of(emulator)) == 2
    delete(provider, spec.service)
    assert emulator.leftovers() == []


def test_a_request_the_api_refuses_waits_for_an_edit(emulator: GCEEmulator, provider: GCPProvider,
                                                     make_spec: SpecFactory) -> None:
    outside = make_spec(internal=True, requested_ips=["10.200.0.5"])
    with pytest.raises(PermanentError, match="outside the subnetwork"):
        ensure(provider, outside)
    assert emulator.leftovers() == []


def test_a_subnetwork_that_does_not_exist_yet_is_retried_and_used_once_it_does(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    spec = make_spec(internal=True, annotations={"networking.gke.io/internal-load-balancer-subnet": "later"})
    with pytest.raises(RetryLater, match="later"):
        ensure(provider, spec)
    emulator.add_subnetwork("later", "default", "10.140.0.0/24")
    assert str(ensure(provider, spec).ingress[0].ip).startswith("10.140.0.")


def test_parallel_ensures_and_deletes_share_the_cluster_groups_safely(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    specs = [make_spec(f"svc-{i}", ports=[(8000 + i, "TCP")]) for i in range(6)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda spec: ensure(provider, spec), specs))
    assert len({s.ingress[0].ip for s in statuses}) == 6
    assert emulator.members("us-central1-a", GROUP) == ["node-1", "node-3"]
    # Half go away while the other half resync with one more node.
    more = [*NODES, NODE_4]
    with ThreadPoolExecutor(max_workers=4) as pool:
        work: list[Future[object]] = [pool.submit(delete, provider, s.service) for s in specs[:3]]
        work += [pool.submit(ensure, provider, make_spec(s.service.name, ports=[(s.ports[0].port, "TCP")],
                                                         nodes=more)) for s in specs[3:]]
        for done in work:
            done.result()
    assert emulator.members("us-central1-b", GROUP) == ["node-2", "node-4"]
    assert sorted(r.name for r in owned(provider)) == ["svc-3", "svc-4", "svc-5"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda service: delete(provider, service), [s.service for s in specs[3:]]))
    assert emulator.leftovers() == []


def test_internal_load_balancer_ip_is_reserved_as_ours_and_released(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    spec = make_spec(internal=True, requested_ips=["10.128.0.77"])
    assert ensure(provider, spec).ingress[0].ip == "10.128.0.77"
    [reserved] = list(client(emulator, compute_v1.AddressesClient).list(**WHERE))
    assert (reserved.name, reserved.address) == (names_for(CLUSTER, spec.service).address, "10.128.0.77")
    delete(provider, spec.service)
    assert emulator.leftovers() == []


DELETE_STEPS = ["forwardingRules.delete", "regionBackendServices.delete", "regionHealthChecks.delete",
                "firewalls.delete", "addresses.delete", "instanceGroups.delete", "globalOperations.wait"]


@pytest.mark.parametrize("method", DELETE_STEPS)
def test_a_fault_during_delete_is_retried_to_completion(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory, method: str) -> None:
    spec = make_spec(ports=[(80, "TCP"), (53, "UDP")])
    ensure(provider, spec)
    emulator.fail(method, status=503, times=1000)
    with pytest.raises(RetryLater):
        delete(provider, spec.service)
    emulator.clear_faults()
    delete(provider, spec.service)
    assert emulator.leftovers() == []


@pytest.mark.parametrize("code,error", [("QUOTA_EXCEEDED", CloudStateError), ("IP_SPACE_EXHAUSTED", CloudStateError),
                                        ("RESOURCE_NOT_READY", RetryLater), ("INVALID_USAGE", PermanentError)])
def test_a_failed_operation_is_typed_by_its_code(emulator: GCEEmulator, provider: GCPProvider,
                                                 make_spec: SpecFactory, code: str,
                                                 error: type[Exception]) -> None:
    spec = make_spec()
    emulator.fail("regionBackendServices.insert", operation_error=code)
    with pytest.raises(error, match=code):
        ensure(provider, spec)
    assert ensure(provider, spec).ingress[0].ip
    delete(provider, spec.service)
    assert emulator.leftovers() == []


def test_operations_that_take_several_polls_are_awaited(make_spec: SpecFactory) -> None:
    with seeded(GCEEmulator(project=PROJECT, region=REGION, operation_polls=3)) as emulator:
        provider = new_provider(emulator)
        spec = make_spec()
        assert ensure(provider, spec).ingress[0].ip
        waits = [c.method for c in emulator.requests if c.method.endswith("Operations.wait")]
        assert len(waits) == 3 * len(writes(emulator))
        delete(provider, spec.service)
        assert emulator.leftovers() == []


def test_a_node_without_an_instance_is_left_out_with_a_warning(emulator: GCEEmulator, provider: GCPProvider,
                                                                make_spec: SpecFactory) -> None:
    status = ensure(provider, make_spec(nodes=[*NODES, ("us-central1-b", "ghost", "10.128.0.9")]))
    assert status.warnings == (
        f"node ghost: its instance projects/{PROJECT}/zones/us-central1-b/instances/ghost does not exist; "
        "left out of the load balancer",)
    assert emulator.members("us-central1-b", GROUP) == ["node-2"]


def test_a_node_whose_provider_id_is_not_gce_is_left_out_with_a_warning(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    spec = make_spec()
    foreign = (Backend("kind-node", "kind://docker/kind/kind-node", "10.128.0.20", "us-central1-a"),
               Backend("aws-node", "aws:///us-east-1a/i-0123456789abcdef0", "10.128.0.21", "us-central1-a"),
               Backend("short-node", f"gce://{PROJECT}/us-central1-b", "10.128.0.22", "us-central1-b"))
    status = ensure(provider, replace(spec, backends=tuple(sorted((*spec.backends, *foreign)))))
    assert status.ingress[0].ip
    assert sorted(status.warnings) == [
        "node aws-node: its provider id 'aws:///us-east-1a/i-0123456789abcdef0' is not "
        "gce://PROJECT/ZONE/INSTANCE; left out of the load balancer",
        "node kind-node: its provider id 'kind://docker/kind/kind-node' is not "
        "gce://PROJECT/ZONE/INSTANCE; left out of the load balancer",
        f"node short-node: its provider id 'gce://{PROJECT}/us-central1-b' is not "
        "gce://PROJECT/ZONE/INSTANCE; left out of the load balancer",
    ]
    assert emulator.members("us-central1-a", GROUP) == ["node-1", "node-3"]
    assert emulator.members("us-central1-b", GROUP) == ["node-2"]
    assert [r.I_p_address for r in rules_of(emulator)] == [status.ingress[0].ip]


def test_switching_between_external_and_internal_rebuilds_what_must_change(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    ensure(provider, make_spec(ports=[(80, "TCP")]))
    internal_ip = ensure(provider, make_spec(ports=[(80, "TCP")], internal=True)).ingress[0].ip
    assert internal_ip is not None and internal_ip.startswith("10.128.")
    [rule] = rules_of(emulator)
    assert (rule.load_balancing_scheme, rule.I_p_address) == ("INTERNAL", internal_ip)
    [service] = list(client(emulator, compute_v1.RegionBackendServicesClient).list(**WHERE))
    assert service.load_balancing_scheme == "INTERNAL"
    [address] = list(client(emulator, compute_v1.AddressesClient).list(**WHERE))
    assert address.address_type == "INTERNAL"
    back = ensure(provider, make_spec(ports=[(80, "TCP")])).ingress[0].ip
    assert back is not None and back.startswith("198.18.")
    delete(provider, make_spec().service)
    assert emulator.leftovers() == []


def test_list_owned_follows_every_page(make_spec: SpecFactory) -> None:
    with seeded(GCEEmulator(project=PROJECT, region=REGION, page_size=2)) as emulator:
        provider = new_provider(emulator)
        for index in range(5):
            ensure(provider, make_spec(f"svc-{index}"))
        emulator.clear_requests()
        assert [s.name for s in owned(provider)] == [f"svc-{i}" for i in range(5)]
        lists = [c for c in emulator.requests if c.method == "forwardingRules.list"]
        assert len(lists) == 3


def test_an_unreachable_endpoint_is_retried_later() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = GCPProvider(CLUSTER, connect(Location(PROJECT, REGION), f"http://127.0.0.1:{port}"))
    with pytest.raises(RetryLater, match=r"listing addresses: .*no answer from"):
        owned(provider)


def test_instance_groups_left_by_a_controller_killed_after_its_last_load_balancer_are_collected(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    web = make_spec("web")
    ensure(provider, web)
    key = LoadBalancerKey.of(web.service)
    removal = provider.plan(key, None, provider.observe([key])[key])
    # Killed right before the groups went: everything of the load balancer is gone but the per-zone groups.
    for change in removal.changes:
        if change.resource != "instance-group":
            provider._writer.run(change, {})
    assert emulator.leftovers() and all(x.startswith("instanceGroups/") for x in emulator.leftovers())

    restarted = new_provider(emulator)
    restarted.sweep()
    restarted.collect_garbage()

    assert emulator.leftovers() == []
