"""The GCE emulator on its own, through google-cloud-compute over HTTP and through raw HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from google.api_core import exceptions as api
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from .conftest import PROJECT, REGION, WHERE, compute_client

pytestmark = pytest.mark.timeout(30)
HC_LINK = f"regions/{REGION}/healthChecks/hc"
BS_LINK = f"regions/{REGION}/backendServices/bs"
STATUS = compute_v1.Operation.Status


client = compute_client


def raw(emulator: GCEEmulator, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"{emulator.url}/compute/v1/projects/{PROJECT}/{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def make_backend_service(emulator: GCEEmulator, protocol: str = "TCP") -> None:
    client(emulator, compute_v1.RegionHealthChecksClient).insert_unary(health_check_resource=compute_v1.HealthCheck(
        name="hc", type_="HTTP", http_health_check=compute_v1.HTTPHealthCheck(port=10256)), **WHERE)
    client(emulator, compute_v1.RegionBackendServicesClient).insert_unary(
        backend_service_resource=compute_v1.BackendService(
            name="bs", load_balancing_scheme="EXTERNAL", protocol=protocol, health_checks=[HC_LINK]), **WHERE)


def rule(name: str = "fr", protocol: str = "TCP", **fields: Any) -> compute_v1.ForwardingRule:
    return compute_v1.ForwardingRule(name=name, I_p_protocol=protocol, backend_service=BS_LINK,
                                     load_balancing_scheme="EXTERNAL", **({"ports": ["80"]} | fields))


def test_unknown_fields_are_rejected_with_400(emulator: GCEEmulator) -> None:
    status, body = raw(emulator, "POST", f"regions/{REGION}/healthChecks",
                       {"name": "hc", "type": "HTTP", "httpHealthCheck": {"port": 80}, "colour": "blue"})
    assert status == 400
    assert "colour" in body["error"]["message"]
    assert emulator.leftovers() == []
    assert "networks/default" in emulator.resources()
    assert "instances/us-central1-a/node-1" in emulator.resources()


def test_names_follow_the_gce_rule(emulator: GCEEmulator) -> None:
    checks = client(emulator, compute_v1.RegionHealthChecksClient)
    for bad in ("Upper", "1starts-with-digit", "ends-with-dash-", "x" * 64):
        with pytest.raises(api.BadRequest, match="regex"):
            checks.insert_unary(health_check_resource=compute_v1.HealthCheck(
                name=bad, type_="TCP", tcp_health_check=compute_v1.TCPHealthCheck(port=1)), **WHERE)
    checks.insert_unary(health_check_resource=compute_v1.HealthCheck(
        name="a" + "-b" * 31, type_="TCP", tcp_health_check=compute_v1.TCPHealthCheck(port=1)), **WHERE)
    assert emulator.leftovers() == [f"healthChecks/{REGION}/{'a' + '-b' * 31}"]


def test_missing_is_404_and_duplicate_is_409(emulator: GCEEmulator) -> None:
    checks = client(emulator, compute_v1.RegionHealthChecksClient)
    with pytest.raises(api.NotFound):
        checks.get(health_check="nope", **WHERE)
    with pytest.raises(api.NotFound):
        checks.delete_unary(health_check="nope", **WHERE)
    make_backend_service(emulator)
    with pytest.raises(api.Conflict):
        make_backend_service(emulator)


def test_references_must_exist(emulator: GCEEmulator) -> None:
    with pytest.raises(api.NotFound):
        client(emulator, compute_v1.RegionBackendServicesClient).insert_unary(
            backend_service_resource=compute_v1.BackendService(
                name="bs", load_balancing_scheme="EXTERNAL", health_checks=[HC_LINK]), **WHERE)
    with pytest.raises(api.NotFound):
        client(emulator, compute_v1.ForwardingRulesClient).insert_unary(forwarding_rule_resource=rule(), **WHERE)


def test_deleting_what_is_still_used_is_refused(emulator: GCEEmulator) -> None:
    make_backend_service(emulator)
    addresses = client(emulator, compute_v1.AddressesClient)
    addresses.insert_unary(address_resource=compute_v1.Address(name="ip"), **WHERE)
    ip = addresses.get(address="ip", **WHERE).address
    rules = client(emulator, compute_v1.ForwardingRulesClient)
    rules.insert_unary(forwarding_rule_resource=rule(I_p_address=ip), **WHERE)
    assert addresses.get(address="ip", **WHERE).status == "IN_USE"
    calls: list[Callable[[], Any]] = [
                 lambda: addresses.delete_unary(address="ip", **WHERE),
                 lambda: client(emulator, compute_v1.RegionBackendServicesClient).delete_unary(
                     backend_service="bs", **WHERE),
                 lambda: client(emulator, compute_v1.RegionHealthChecksClient).delete_unary(
                     health_check="hc", **WHERE)]
    for call in calls:
        with pytest.raises(api.BadRequest) as caught:
            call()
        assert caught.value.errors[0]["reason"] == "resourceInUseByAnotherResource"
    rules.delete_unary(forwarding_rule="fr", **WHERE)
    assert addresses.get(address="ip", **WHERE).status == "RESERVED"
    addresses.delete_unary(address="ip", **WHERE)


def test_schemes_accept_only_their_protocols(emulator: GCEEmulator) -> None:
    make_backend_service(emulator, protocol="UNSPECIFIED")
    rules = client(emulator, compute_v1.ForwardingRulesClient)
    with pytest.raises(api.BadRequest, match="IPProtocol"):
        rules.insert_unary(forwarding_rule_resource=rule(protocol="SCTP"), **WHERE)
    with pytest.raises(api.BadRequest, match="allPorts"):
        rules.insert_unary(forwarding_rule_resource=rule(protocol="L3_DEFAULT"), **WHERE)
    with pytest.raises(api.BadRequest, match="only valid on INTERNAL"):
        rules.insert_unary(forwarding_rule_resource=rule(allow_global_access=True), **WHERE)
    rules.insert_unary(forwarding_rule_resource=rule("l3", "L3_DEFAULT", ports=[], all_ports=True), **WHERE)
    internal_rule = compute_v1.ForwardingRule(
        name="int", I_p_protocol="TCP", ports=["80"], backend_service=BS_LINK, load_balancing_scheme="INTERNAL",
        subnetwork=f"regions/{REGION}/subnetworks/default")
    with pytest.raises(api.BadRequest, match="does not match"):
        rules.insert_unary(forwarding_rule_resource=internal_rule, **WHERE)


def test_operations_run_then_finish_on_a_later_poll(emulator: GCEEmulator) -> None:
    operation = client(emulator, compute_v1.FirewallsClient).insert_unary(project=PROJECT, firewall_resource=(
        compute_v1.Firewall(name="fw", network="global/networks/default",
                            allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=["80"])])))
    assert operation.status == compute_v1.Operation.Status.RUNNING
    polled = client(emulator, compute_v1.GlobalOperationsClient).get(project=PROJECT, operation=operation.name)
    assert polled.status == compute_v1.Operation.Status.DONE
    assert polled.target_link.endswith("/global/firewalls/fw")


def test_instance_groups_hold_instances_of_their_zone(emulator: GCEEmulator) -> None:
    groups = client(emulator, compute_v1.InstanceGroupsClient)
    where = {"project": PROJECT, "zone": "us-central1-a"}
    groups.insert_unary(instance_group_resource=compute_v1.InstanceGroup(name="ig"), **where)

    def add(*names: str) -> None:
        groups.add_instances_unary(instance_group="ig", **where,
                                   instance_groups_add_instances_request_resource=(
                                       compute_v1.InstanceGroupsAddInstancesRequest(instances=[
                                           compute_v1.InstanceReference(instance=f"zones/{z}/instances/{n}")
                                           for z, n in (name.split(":") for name in names)])))
    add("us-central1-a:node-1", "us-central1-a:node-3")
    with pytest.raises(api.BadRequest, match="zone"):
        add("us-central1-b:node-2")
    with pytest.raises(api.NotFound):
        add("us-central1-a:ghost")
    with pytest.raises(api.BadRequest, match="already a member"):
        add("us-central1-a:node-1")
    listed = groups.list_instances(instance_group="ig", **where,
                                   instance_groups_list_instances_request_resource=(
                                       compute_v1.InstanceGroupsListInstancesRequest()))
    assert sorted(i.instance.rsplit("/", 1)[1] for i in listed) == ["node-1", "node-3"]
    assert groups.get(instance_group="ig", **where).size == 2


def test_fault_injection_fails_the_chosen_call_only(emulator: GCEEmulator) -> None:
    networks = client(emulator, compute_v1.NetworksClient)
    emulator.fail("networks.get", nth=2, status=500)
    networks.get(project=PROJECT, network="default", retry=None)
    with pytest.raises(api.InternalServerError):
        networks.get(project=PROJECT, network="default", retry=None)
    networks.get(project=PROJECT, network="default", retry=None)
    assert [(c.method, c.status) for c in emulator.requests] == [
        ("networks.get", 200), ("networks.get", 500), ("networks.get", 200)]


def test_patch_merges_fields_and_is_validated(emulator: GCEEmulator) -> None:
    make_backend_service(emulator)
    checks = client(emulator, compute_v1.RegionHealthChecksClient)
    checks.patch_unary(health_check="hc", health_check_resource=compute_v1.HealthCheck(
        http_health_check=compute_v1.HTTPHealthCheck(port=31000, request_path="/healthz")), **WHERE)
    patched = checks.get(health_check="hc", **WHERE)
    assert (patched.type_, patched.http_health_check.port) == ("HTTP", 31000)
    with pytest.raises(api.BadRequest):
        checks.patch_unary(health_check="hc", health_check_resource=compute_v1.HealthCheck(type_="BOGUS"), **WHERE)


def test_module_entry_point_serves_on_the_given_port(tmp_path: Any) -> None:
    process = subprocess.Popen([sys.executable, "-m", "cloudlb_gcp.emulator", "--port", "0", "--nodes", "2",
                                "--project", PROJECT], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        url = lines[-1].rsplit(" at ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        instances = compute_v1.InstancesClient(credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                                               transport="rest", client_options=ClientOptions(api_endpoint=url))
        assert [i.name for i in instances.list(project=PROJECT, zone="us-central1-a")] == ["node-1"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_instance_joins_only_one_load_balanced_group(emulator: GCEEmulator) -> None:
    groups = client(emulator, compute_v1.InstanceGroupsClient)
    where = {"project": PROJECT, "zone": "us-central1-a"}
    node_1 = compute_v1.InstanceGroupsAddInstancesRequest(
        instances=[compute_v1.InstanceReference(instance="zones/us-central1-a/instances/node-1")])
    for name in ("balanced", "other"):
        groups.insert_unary(instance_group_resource=compute_v1.InstanceGroup(name=name), **where)
    groups.add_instances_unary(instance_group="balanced", instance_groups_add_instances_request_resource=node_1,
                               **where)
    make_backend_service(emulator)
    client(emulator, compute_v1.RegionBackendServicesClient).patch_unary(
        backend_service="bs", backend_service_resource=compute_v1.BackendService(backends=[
            compute_v1.Backend(group="zones/us-central1-a/instanceGroups/balanced")]), **WHERE)
    with pytest.raises(api.BadRequest, match="load-balanced group 'balanced'"):
        groups.add_instances_unary(instance_group="other", instance_groups_add_instances_request_resource=node_1,
                                   **where)


def test_slow_operations_and_failures_reported_through_the_operation() -> None:
    with GCEEmulator(project=PROJECT, region=REGION, operation_polls=3) as emulator:
        emulator.add_network("default")
        firewalls = client(emulator, compute_v1.FirewallsClient)
        operations = client(emulator, compute_v1.GlobalOperationsClient)

        def firewall(name: str) -> compute_v1.Firewall:
            return compute_v1.Firewall(name=name, network="global/networks/default",
                                       allowed=[compute_v1.Allowed(I_p_protocol="tcp")])
        started = firewalls.insert_unary(project=PROJECT, firewall_resource=firewall("slow"))
        states = [operations.wait(project=PROJECT, operation=started.name).status for _ in range(3)]
        assert states == [STATUS.RUNNING, STATUS.RUNNING, STATUS.DONE]

        emulator.fail("firewalls.insert", operation_error="QUOTA_EXCEEDED")
        accepted = firewalls.insert_unary(project=PROJECT, firewall_resource=firewall("refused"))
        for _ in range(3):
            finished = operations.get(project=PROJECT, operation=accepted.name)
        assert finished.status == STATUS.DONE
        assert [e.code for e in finished.error.errors] == ["QUOTA_EXCEEDED"]
        assert emulator.leftovers() == ["firewalls/slow"]
