"""Sweeps against the GCE emulator: a fixed number of list calls, and drift found, re-planned and repaired.

Every drift test changes the cloud behind the controller's back with google-cloud-compute, sweeps, and
checks that exactly the affected load balancers are reported and that repairing them costs exactly the
writes the change needs and no read.
"""

from __future__ import annotations

from collections import Counter

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.names import instance_group_name, names_for
from cloudlb_gcp.provider import GCPProvider
from google.cloud import compute_v1

from cloudlb.model import LoadBalancerKey, LoadBalancerSpec, ServiceRef

from .conftest import (
    CLUSTER,
    NODES,
    PROJECT,
    WHERE,
    SpecFactory,
    compute_client,
    ensure,
    new_provider,
    reads,
    relabel,
    writes,
)

pytestmark = pytest.mark.timeout(120)
GROUP = instance_group_name(CLUSTER)
FAST_SWEEP = Counter({"addresses.list": 1, "forwardingRules.list": 1, "regionBackendServices.list": 1,
                      "regionHealthChecks.list": 1, "firewalls.list": 1, "instanceGroups.aggregatedList": 1,
                      "instances.list": 2})  # two zones with nodes


def build(provider: GCPProvider, make_spec: SpecFactory, count: int, first: int = 0) -> list[LoadBalancerSpec]:
    specs = [make_spec(f"svc-{i}", ports=[(8000 + i, "TCP")]) for i in range(first, first + count)]
    for spec in specs:
        ensure(provider, spec)
    return specs


def swept(emulator: GCEEmulator, provider: GCPProvider, *, deep: bool = False) -> frozenset[LoadBalancerKey]:
    emulator.clear_requests()
    return provider.sweep(deep=deep).drifted


def test_a_sweep_costs_the_same_list_calls_whatever_the_number_of_services(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    build(provider, make_spec, 2)
    assert swept(emulator, provider) == frozenset()
    assert Counter(reads(emulator)) == FAST_SWEEP and writes(emulator) == []
    build(provider, make_spec, 10, first=2)
    swept(emulator, provider)
    assert Counter(reads(emulator)) == FAST_SWEEP
    swept(emulator, provider, deep=True)
    assert Counter(reads(emulator)) == FAST_SWEEP + Counter({"instanceGroups.listInstances": 2})


def test_the_first_sweep_finds_every_load_balancer_of_the_cluster_and_only_those(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    specs = build(provider, make_spec, 3)
    ensure(new_provider(emulator, "other-cluster"), make_spec("theirs", nodes=[]))
    restarted = new_provider(emulator)
    result = restarted.sweep()
    keys = {LoadBalancerKey.of(spec.service) for spec in specs}
    assert result.drifted == keys, "never seen before: every one is planned once"
    assert result.owned == {key: frozenset({key.service}) for key in keys}
    emulator.clear_requests()
    for spec in specs:
        ensure(restarted, spec)
    assert emulator.requests == [], "after a sweep, nothing is read again and nothing changed"


def test_a_forwarding_rule_deleted_behind_our_back_is_found_and_created_again(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    web, _ = build(provider, make_spec, 2)
    rule = names_for(CLUSTER, web.service).forwarding_rule("TCP")
    compute_client(emulator, compute_v1.ForwardingRulesClient).delete_unary(forwarding_rule=rule, **WHERE)
    assert swept(emulator, provider) == {LoadBalancerKey.of(web.service)}
    emulator.clear_requests()
    ensure(provider, web)
    assert (writes(emulator), reads(emulator)) == (["forwardingRules.insert"], [])


def test_a_firewall_altered_behind_our_back_is_found_and_patched(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    [web] = build(provider, make_spec, 1)
    name = names_for(CLUSTER, web.service).traffic_firewall
    compute_client(emulator, compute_v1.FirewallsClient).patch_unary(
        project=PROJECT, firewall=name, firewall_resource=compute_v1.Firewall(source_ranges=["0.0.0.0/1"]))
    assert swept(emulator, provider) == {LoadBalancerKey.of(web.service)}
    emulator.clear_requests()
    ensure(provider, web)
    assert (writes(emulator), reads(emulator)) == (["firewalls.patch"], [])
    kept = compute_client(emulator, compute_v1.FirewallsClient).get(project=PROJECT, firewall=name)
    assert list(kept.source_ranges) == ["0.0.0.0/0"]


def test_a_backend_removed_behind_our_back_is_found_and_patched(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    [web] = build(provider, make_spec, 1)
    name = names_for(CLUSTER, web.service).backend_service
    services = compute_client(emulator, compute_v1.RegionBackendServicesClient)
    one_zone = compute_v1.Backend(group=f"zones/us-central1-a/instanceGroups/{GROUP}")
    services.patch_unary(backend_service=name, backend_service_resource=compute_v1.BackendService(
        backends=[one_zone]), **WHERE)
    assert swept(emulator, provider) == {LoadBalancerKey.of(web.service)}
    emulator.clear_requests()
    ensure(provider, web)
    assert (writes(emulator), reads(emulator)) == (["regionBackendServices.patch"], [])
    assert len(services.get(backend_service=name, **WHERE).backends) == 2


def test_labels_removed_behind_our_back_are_set_again(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    [web] = build(provider, make_spec, 1)
    names = names_for(CLUSTER, web.service)
    relabel(emulator, "address", names.address, {})
    relabel(emulator, "forwarding_rule", names.forwarding_rule("TCP"), {"owner": "someone-else"})
    assert swept(emulator, provider) == {LoadBalancerKey.of(web.service)}
    emulator.clear_requests()
    ensure(provider, web)
    assert writes(emulator) == ["addresses.setLabels", "forwardingRules.setLabels"]
    assert reads(emulator) == [], "the fingerprint setLabels needs came with the sweep's listing"
    rule = compute_client(emulator, compute_v1.ForwardingRulesClient).get(
        forwarding_rule=names.forwarding_rule("TCP"), **WHERE)
    assert rule.labels["cloudlb-cluster"] == CLUSTER and "owner" not in rule.labels


def remove_member(emulator: GCEEmulator, zone: str, instance: str) -> None:
    request = compute_v1.InstanceGroupsRemoveInstancesRequest(
        instances=[compute_v1.InstanceReference(instance=f"zones/{zone}/instances/{instance}")])
    compute_client(emulator, compute_v1.InstanceGroupsClient).remove_instances_unary(
        project=PROJECT, zone=zone, instance_group=GROUP, instance_groups_remove_instances_request_resource=request)


def add_member(emulator: GCEEmulator, zone: str, instance: str) -> None:
    request = compute_v1.InstanceGroupsAddInstancesRequest(
        instances=[compute_v1.InstanceReference(instance=f"zones/{zone}/instances/{instance}")])
    compute_client(emulator, compute_v1.InstanceGroupsClient).add_instances_unary(
        project=PROJECT, zone=zone, instance_group=GROUP, instance_groups_add_instances_request_resource=request)


def test_a_member_removed_behind_our_back_is_found_by_the_fast_sweep_and_added_once(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    specs = build(provider, make_spec, 3)
    remove_member(emulator, "us-central1-a", "node-3")
    assert swept(emulator, provider) == {LoadBalancerKey.of(spec.service) for spec in specs}
    assert reads(emulator).count("instanceGroups.listInstances") == 1, "its size changed: its members are read"
    emulator.clear_requests()
    for spec in specs:
        ensure(provider, spec)
    assert (writes(emulator), reads(emulator)) == (["instanceGroups.addInstances"], [])
    assert emulator.members("us-central1-a", GROUP) == ["node-1", "node-3"]


def test_a_member_swapped_behind_our_back_is_found_by_the_deep_sweep(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    [web] = build(provider, make_spec, 1)
    remove_member(emulator, "us-central1-b", "node-2")
    add_member(emulator, "us-central1-b", "node-4")
    assert swept(emulator, provider) == frozenset(), "same size: the fast sweep does not read members"
    assert swept(emulator, provider, deep=True) == {LoadBalancerKey.of(web.service)}
    emulator.clear_requests()
    ensure(provider, web)
    assert sorted(writes(emulator)) == ["instanceGroups.addInstances", "instanceGroups.removeInstances"]
    assert emulator.members("us-central1-b", GROUP) == ["node-2"]


def test_another_clusters_load_balancers_never_drift_ours(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    build(provider, make_spec, 1)
    swept(emulator, provider)
    ensure(new_provider(emulator, "other-cluster"), make_spec("svc-0", ports=[(9000, "TCP")], nodes=[]))
    assert swept(emulator, provider) == frozenset()
    assert set(provider.sweep().owned) == {LoadBalancerKey.of(ServiceRef("default", "svc-0"))}


def test_a_node_whose_instance_shows_up_later_is_added_after_the_sweep_that_finds_it(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    late = ("us-central1-b", "node-5", "10.128.0.6")
    [web] = build(provider, make_spec, 1)
    emulator.clear_requests()
    with_late = make_spec("svc-0", ports=[(8000, "TCP")], nodes=[*NODES, late])
    assert ensure(provider, with_late).warnings == (
        f"node node-5: its instance projects/{PROJECT}/zones/us-central1-b/instances/node-5 does not exist; "
        "left out of the load balancer",)
    assert reads(emulator) == ["instances.list"], "its zone is listed once"
    emulator.clear_requests()
    ensure(provider, with_late)
    assert emulator.requests == [], "and not again for every plan"
    emulator.add_instance(*late)
    assert swept(emulator, provider) == {LoadBalancerKey.of(web.service)}
    emulator.clear_requests()
    assert ensure(provider, with_late).warnings == ()
    assert (writes(emulator), reads(emulator)) == (["instanceGroups.addInstances"], [])
    assert emulator.members("us-central1-b", GROUP) == ["node-2", "node-5"]
