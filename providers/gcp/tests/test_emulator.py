"""The GCE emulator on its own, through google-cloud-compute over HTTP and through raw HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
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


def test_an_ip_is_taken_while_held_and_the_lowest_free_one_is_given(emulator: GCEEmulator) -> None:
    """The emulator's index of who holds each IP follows inserts and deletes (addresses and rules alike)."""
    make_backend_service(emulator)
    addresses = client(emulator, compute_v1.AddressesClient)
    for name in ("a", "b", "c"):
        addresses.insert_unary(address_resource=compute_v1.Address(name=name), **WHERE)
    a, b, c = (addresses.get(address=name, **WHERE).address for name in ("a", "b", "c"))
    assert len({a, b, c}) == 3
    with pytest.raises(api.Conflict, match="already reserved"):
        addresses.insert_unary(address_resource=compute_v1.Address(name="d", address=b), **WHERE)
    addresses.delete_unary(address="b", **WHERE)
    # An ephemeral rule takes the lowest free IP: the one b held.
    rules = client(emulator, compute_v1.ForwardingRulesClient)
    rules.insert_unary(forwarding_rule_resource=rule(), **WHERE)
    assert rules.get(forwarding_rule="fr", **WHERE).I_p_address == b
    addresses.insert_unary(address_resource=compute_v1.Address(name="d"), **WHERE)
    assert addresses.get(address="d", **WHERE).address not in (a, b, c)
    rules.delete_unary(forwarding_rule="fr", **WHERE)
    addresses.insert_unary(address_resource=compute_v1.Address(name="e", address=b), **WHERE)
    assert addresses.get(address="e", **WHERE).address == b


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


def add_labelled_addresses(emulator: GCEEmulator) -> None:
    addresses = client(emulator, compute_v1.AddressesClient)
    for name, cluster in (("a-one", "blue"), ("a-two", "green"), ("b-three", "blue")):
        addresses.insert_unary(address_resource=compute_v1.Address(name=name, labels={"cloudlb-cluster": cluster}),
                               **WHERE)


def names_listed(emulator: GCEEmulator, path: str, **query: str) -> tuple[int, Any]:
    """A raw list call with ``query`` (urlencoded), as the wire carries it."""
    status, body = raw(emulator, "GET", f"{path}?{urllib.parse.urlencode(query)}")
    return status, [item["name"] for item in body.get("items", [])] if status == 200 else body


def test_lists_are_paged_by_max_results_and_page_token(emulator: GCEEmulator) -> None:
    add_labelled_addresses(emulator)
    path = f"regions/{REGION}/addresses"
    status, first = raw(emulator, "GET", f"{path}?maxResults=2")
    assert status == 200 and [i["name"] for i in first["items"]] == ["a-one", "a-two"]
    assert names_listed(emulator, path, maxResults="2", pageToken=first["nextPageToken"]) == (200, ["b-three"])
    assert "nextPageToken" not in raw(emulator, "GET", f"{path}?maxResults=2&pageToken={first['nextPageToken']}")[1]
    status, refused = names_listed(emulator, path, maxResults="501")
    assert status == 400 and "maxResults" in refused["error"]["message"]
    assert names_listed(emulator, path, pageToken="not-a-token")[0] == 400
    assert names_listed(emulator, path, pageToken="YWJjZA==")[0] == 400, "decodable, but not a token"
    # The SDK follows the pages itself.
    request = compute_v1.ListAddressesRequest(max_results=1, **WHERE)
    assert len(list(client(emulator, compute_v1.AddressesClient).list(request=request))) == 3


def test_a_page_after_a_deletion_neither_skips_nor_repeats(emulator: GCEEmulator) -> None:
    """A token names the last item seen: a sweep that lists while load balancers go sees every other one."""
    add_labelled_addresses(emulator)
    path = f"regions/{REGION}/addresses"
    status, first = raw(emulator, "GET", f"{path}?maxResults=2")
    assert (status, [i["name"] for i in first["items"]]) == (200, ["a-one", "a-two"])
    client(emulator, compute_v1.AddressesClient).delete_unary(address="a-one", **WHERE)
    assert names_listed(emulator, path, maxResults="2", pageToken=first["nextPageToken"]) == (200, ["b-three"])


@pytest.mark.parametrize("expression,names", [
    ('labels.cloudlb-cluster = "blue"', ["a-one", "b-three"]),
    ("labels.cloudlb-cluster != blue", ["a-two"]),
    ('name eq "a-.*"', ["a-one", "a-two"]),
    ("name eq a-.*", ["a-one", "a-two"]),
    ("name ne 'a-.*'", ["b-three"]),
    ('name eq "a-"', []),  # a regular expression matches the whole field
])
def test_list_filters_select_by_label_and_by_name(emulator: GCEEmulator, expression: str, names: list[str]) -> None:
    add_labelled_addresses(emulator)
    assert names_listed(emulator, f"regions/{REGION}/addresses", filter=expression) == (200, names)


def test_a_filter_on_the_address_finds_who_holds_an_ip(emulator: GCEEmulator) -> None:
    emulator.add_address("users-ip", ip="203.0.113.200")
    request = compute_v1.ListAddressesRequest(filter='address = "203.0.113.200"', **WHERE)
    found = client(emulator, compute_v1.AddressesClient).list(request=request)
    assert [a.name for a in found] == ["users-ip"]


@pytest.mark.parametrize("expression", [
    'colour = "blue"',  # no such field
    'labels = "blue"',  # a map is compared by key
    'name = "a" OR name = "b"',
    "name < a",
    'name eq "a-(["',  # not a regular expression
])
def test_filters_the_api_refuses_are_refused(emulator: GCEEmulator, expression: str) -> None:
    status, body = names_listed(emulator, f"regions/{REGION}/addresses", filter=expression)
    assert status == 400
    expected = f"Invalid value for field 'filter': '{expression}'. Invalid list filter expression."
    assert body["error"]["message"] == expected


def test_several_expressions_are_not_served_and_say_so(emulator: GCEEmulator) -> None:
    status, body = names_listed(emulator, f"regions/{REGION}/addresses", filter='(name = "a") (name = "b")')
    assert status == 400 and "single comparison" in body["error"]["message"]


def test_aggregated_list_groups_by_zone_with_filter_and_pages(emulator: GCEEmulator) -> None:
    groups = client(emulator, compute_v1.InstanceGroupsClient)
    for zone, name in (("us-central1-a", "ours"), ("us-central1-b", "ours"), ("us-central1-b", "other")):
        groups.insert_unary(instance_group_resource=compute_v1.InstanceGroup(name=name), project=PROJECT, zone=zone)
    status, first = raw(emulator, "GET", "aggregated/instanceGroups?maxResults=1&filter=name%20%3D%20%22ours%22")
    assert status == 200
    assert {zone: [g["name"] for g in scoped["instanceGroups"]] for zone, scoped in first["items"].items()} == {
        "zones/us-central1-a": ["ours"]}
    status, second = raw(emulator, "GET", "aggregated/instanceGroups?maxResults=1&filter=name%20%3D%20%22ours%22"
                                          f"&pageToken={first['nextPageToken']}")
    assert list(second["items"]) == ["zones/us-central1-b"] and "nextPageToken" not in second


def test_labels_change_only_with_the_current_fingerprint(emulator: GCEEmulator) -> None:
    add_labelled_addresses(emulator)
    addresses = client(emulator, compute_v1.AddressesClient)
    before = addresses.get(address="a-one", **WHERE)

    def set_labels(fingerprint: str) -> None:
        request = compute_v1.RegionSetLabelsRequest(labels={"x": "y"}, label_fingerprint=fingerprint)
        addresses.set_labels_unary(resource="a-one", region_set_labels_request_resource=request, **WHERE)
    with pytest.raises(api.PreconditionFailed):
        set_labels("stale")
    set_labels(before.label_fingerprint)
    after = addresses.get(address="a-one", **WHERE)
    assert dict(after.labels) == {"x": "y"} and after.label_fingerprint != before.label_fingerprint


def test_a_lost_response_hides_a_write_that_happened(emulator: GCEEmulator) -> None:
    emulator.fail("addresses.insert", status=503, lose_response=True)
    addresses = client(emulator, compute_v1.AddressesClient)
    with pytest.raises(api.ServiceUnavailable):
        addresses.insert_unary(address_resource=compute_v1.Address(name="kept"), retry=None, **WHERE)
    assert emulator.leftovers() == [f"addresses/{REGION}/kept"]
    with pytest.raises(api.Conflict):
        addresses.insert_unary(address_resource=compute_v1.Address(name="kept"), **WHERE)


def test_a_refusal_carries_the_reason_asked_for(emulator: GCEEmulator) -> None:
    emulator.fail("addresses.insert", status=403, reason="quotaExceeded")
    status, body = raw(emulator, "POST", f"regions/{REGION}/addresses", {"name": "refused"})
    assert (status, body["error"]["errors"][0]["reason"]) == (403, "quotaExceeded")
    assert emulator.leftovers() == []


def test_operations_name_their_status_as_the_api_does(emulator: GCEEmulator) -> None:
    status, operation = raw(emulator, "POST", f"regions/{REGION}/addresses", {"name": "named"})
    assert (status, operation["status"]) == (200, "RUNNING")
