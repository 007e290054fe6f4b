"""What each step costs in Compute calls, counted at the GCE emulator, with workers running at once."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.names import instance_group_name
from cloudlb_gcp.provider import GCPProvider

from .conftest import CLUSTER, NODE_4, NODES, PROJECT, REGION, SpecFactory, delete, ensure, new_provider, reads, writes

pytestmark = pytest.mark.timeout(120)
GROUP = instance_group_name(CLUSTER)


def test_a_node_joining_eleven_services_costs_one_add_instances_and_no_read(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    services = [f"svc-{i}" for i in range(11)]
    for index, name in enumerate(services):
        ensure(provider, make_spec(name, ports=[(8000 + index, "TCP")]))
    emulator.clear_requests()
    joined = [*NODES, NODE_4]
    with ThreadPoolExecutor(max_workers=4) as workers:
        list(workers.map(lambda pair: ensure(provider, make_spec(pair[1], ports=[(8000 + pair[0], "TCP")],
                                                                  nodes=joined)), enumerate(services)))
    assert writes(emulator) == ["instanceGroups.addInstances"]
    assert reads(emulator) == []
    assert emulator.members("us-central1-b", GROUP) == ["node-2", "node-4"]


def test_a_create_reads_only_the_ip_gce_chose_and_a_delete_reads_nothing(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    ensure(provider, make_spec("first"))
    emulator.clear_requests()
    spec = make_spec("second", ports=[(80, "TCP"), (443, "TCP")])
    ensure(provider, spec)
    assert reads(emulator) == ["addresses.get"]
    assert sorted(writes(emulator)) == sorted([
        "addresses.insert", "regionHealthChecks.insert", "firewalls.insert", "firewalls.insert",
        "regionBackendServices.insert", "forwardingRules.insert"])
    emulator.clear_requests()
    delete(provider, spec.service)
    assert reads(emulator) == []
    assert len(writes(emulator)) == 6


def test_ensures_of_different_services_run_at_once(emulator: GCEEmulator, provider: GCPProvider,
                                                    make_spec: SpecFactory) -> None:
    """No lock serialises ensures: while one worker's write waits on its operation, others write."""
    ensure(provider, make_spec("warm"))
    emulator.cloud.operations.polls_until_done = 4
    emulator.clear_requests()
    specs = [make_spec(f"svc-{i}", ports=[(8000 + i, "TCP")]) for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as workers:
        list(workers.map(lambda spec: ensure(provider, spec), specs))
    methods = [call.method for call in emulator.requests]
    assert methods.count("forwardingRules.insert") == 4
    first_rule = methods.index("forwardingRules.insert")
    assert methods[:first_rule].count("addresses.insert") > 1, "another Service's address was reserved meanwhile"


def test_a_restarted_provider_reads_each_kind_once_then_nothing(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    specs = [make_spec(f"svc-{i}", ports=[(8000 + i, "TCP")]) for i in range(5)]
    for spec in specs:
        ensure(provider, spec)
    emulator.clear_requests()
    restarted = new_provider(emulator)
    for spec in specs:
        ensure(restarted, spec)
    assert writes(emulator) == []
    assert sorted(reads(emulator)) == sorted([
        "addresses.list", "forwardingRules.list", "regionBackendServices.list", "regionHealthChecks.list",
        "firewalls.list", "instanceGroups.aggregatedList", "instances.list", "instances.list",
        "instanceGroups.listInstances", "instanceGroups.listInstances"])


def test_the_provider_loads_only_the_compute_clients_it_calls(emulator: GCEEmulator) -> None:
    """google-cloud-compute's package imports its ~120 clients (~30 MB); a provider loads those it calls.

    In a process of its own (the emulator here has loaded the whole library): the clients of the collections
    the provider calls are made when it is created, with only the message types they need; a client of
    another collection, or the package's other names, are then refused with a message that says why.
    """
    code = f"""
import sys
from cloudlb.provider import ProviderSettings
from cloudlb_gcp.plugin import plugin
from cloudlb_gcp.sdk import TrimmedTypesError

def loaded():
    return sorted(m.split(".")[4] for m in sys.modules
                  if m.startswith("google.cloud.compute_v1.services.") and m.count(".") == 4)

provider = plugin.create(ProviderSettings("c", {{"gcp_project": "{PROJECT}", "gcp_region": "{REGION}",
                                               "gcp_endpoint": "{emulator.url}"}}))
print(loaded())
provider.check()
try:
    provider.compute.get("networks.get", provider.compute.global_("networks", "default"))
except TrimmedTypesError as error:
    print("refused:", str(error).rsplit(" ", 2)[-2:])
from google.cloud import compute_v1
try:
    compute_v1.DisksClient
except TrimmedTypesError as error:
    print("refused:", "import google.cloud.compute_v1 before them" in str(error))
print(loaded())
"""
    loaded = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    at_start = ["addresses", "firewalls", "forwarding_rules", "global_operations", "instance_groups", "instances",
                "region_backend_services", "region_health_checks", "region_operations", "subnetworks",
                "zone_operations"]
    assert loaded.stdout.splitlines() == [
        str(at_start),
        "refused: ['for', 'networks']",
        "refused: True",
        str(at_start),
    ]
    assert [call.method for call in emulator.requests] == ["forwardingRules.list"]
