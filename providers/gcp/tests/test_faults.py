"""Lost answers, a second writer, and the cloud's state refusing a change: each converges without a leak."""

from __future__ import annotations

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.names import names_for
from cloudlb_gcp.provider import GCPProvider
from cloudlb_gcp.resources import backend_service
from google.cloud import compute_v1

from cloudlb.provider import CloudStateError, RetryLater

from .conftest import CLUSTER, WHERE, SpecFactory, compute_client, delete, ensure, new_provider, reads

pytestmark = pytest.mark.timeout(120)
INSERTS = ["addresses.insert", "regionHealthChecks.insert", "instanceGroups.insert", "instanceGroups.addInstances",
           "firewalls.insert", "regionBackendServices.insert", "forwardingRules.insert"]


@pytest.mark.parametrize("method", INSERTS)
def test_a_write_whose_answer_was_lost_is_found_done_and_not_repeated(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory, method: str) -> None:
    spec = make_spec(ports=[(80, "TCP"), (53, "UDP")])
    emulator.fail(method, lose_response=True)
    with pytest.raises(RetryLater):
        ensure(provider, spec)
    emulator.clear_requests()
    assert ensure(provider, spec).ingress[0].ip
    api = method.split(".", maxsplit=1)[0]
    assert f"{api}.get" in reads(emulator), "what the lost answer left unknown is read again"
    assert {c.status for c in emulator.requests} == {200}, "and not done twice (that would be refused)"
    delete(provider, spec.service)
    assert emulator.leftovers() == []


@pytest.mark.parametrize("method", ["forwardingRules.delete", "regionBackendServices.delete", "addresses.delete",
                                    "instanceGroups.delete"])
def test_a_delete_whose_answer_was_lost_is_done(emulator: GCEEmulator, provider: GCPProvider,
                                                make_spec: SpecFactory, method: str) -> None:
    spec = make_spec()
    ensure(provider, spec)
    emulator.fail(method, lose_response=True)
    with pytest.raises(RetryLater):
        delete(provider, spec.service)
    delete(provider, spec.service)
    assert emulator.leftovers() == []


def test_what_another_replica_made_meanwhile_is_taken_as_made(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    """A fail-over: this replica's inventory says missing; the other replica built it after our sweep."""
    spec = make_spec()
    provider.sweep()
    other = new_provider(emulator)
    ip = ensure(other, spec).ingress[0].ip
    emulator.clear_requests()
    assert ensure(provider, spec).ingress[0].ip == ip
    assert len(emulator.leftovers()) == 8, "one of each resource, two zone groups: nothing twice"
    inserts = [c for c in emulator.requests if c.is_write]
    assert {c.status for c in inserts} == {409}, "each create found its resource there, and ours"
    emulator.clear_requests()
    assert ensure(provider, spec).ingress[0].ip == ip
    assert emulator.requests == []


def test_a_quota_refusal_is_the_clouds_state_and_heals_on_retry(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    spec = make_spec()
    emulator.fail("forwardingRules.insert", status=403, reason="quotaExceeded")
    with pytest.raises(CloudStateError, match="quotaExceeded"):
        ensure(provider, spec)
    assert ensure(provider, spec).ingress[0].ip


def test_our_address_used_by_someone_elses_rule_is_the_clouds_state(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    spec = make_spec()
    ip = ensure(provider, spec).ingress[0].ip
    names = names_for(CLUSTER, spec.service)
    rules = compute_client(emulator, compute_v1.ForwardingRulesClient)
    theirs = compute_v1.ForwardingRule(
        name="someone-elses", I_p_address=ip, I_p_protocol="TCP", ports=["9999"], load_balancing_scheme="EXTERNAL",
        backend_service=f"regions/us-central1/backendServices/{names.backend_service}")
    rules.insert_unary(forwarding_rule_resource=theirs, **WHERE)
    with pytest.raises(CloudStateError, match="resourceInUseByAnotherResource"):
        delete(provider, spec.service)
    rules.delete_unary(forwarding_rule="someone-elses", **WHERE)
    emulator.clear_requests()
    delete(provider, spec.service)
    assert emulator.leftovers() == []
    read = reads(emulator)
    assert set(read) <= {"addresses.get", "forwardingRules.get", "regionBackendServices.get",
                         "regionHealthChecks.get", "firewalls.get"}, "only this load balancer is read again"
    assert len(read) <= 8, "by name, once each"


def test_a_resource_the_inventory_missed_is_found_when_deleting_what_it_uses_fails(
        emulator: GCEEmulator, provider: GCPProvider, make_spec: SpecFactory) -> None:
    """As after a listing that missed a page: the plan leaves the backend service out, the health check it uses
    cannot go; the next attempt reads the load balancer's resources again and finishes."""
    spec = make_spec()
    ensure(provider, spec)
    provider.inventory.remove(backend_service.KIND, names_for(CLUSTER, spec.service).backend_service)
    with pytest.raises(CloudStateError, match="resourceInUseByAnotherResource"):
        delete(provider, spec.service)
    delete(provider, spec.service)
    assert emulator.leftovers() == []
