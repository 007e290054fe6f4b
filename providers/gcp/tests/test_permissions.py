"""The custom role in gcp-permissions.yaml grants exactly what the Compute calls the provider makes need."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.gke_annotations import SUBNET
from cloudlb_gcp.names import names_for
from cloudlb_gcp.permissions import METHOD_PERMISSIONS, permissions_for
from cloudlb_gcp.provider import GCPProvider

from cloudlb.model import IPV4, IPV6, REQUIRE_DUAL_STACK, HealthCheck
from cloudlb.provider import RetryLater

from .conftest import CLUSTER, NODES, SpecFactory, delete, ensure, new_provider, owned, relabel

pytestmark = pytest.mark.timeout(60)
ROLE = Path(__file__).parent.parent / "gcp-permissions.yaml"
# A write whose answer is lost leaves the resource to be read again by name before the next plan.
LOST_ANSWERS = ("addresses.insert", "regionHealthChecks.insert", "instanceGroups.insert", "firewalls.insert",
                "regionBackendServices.insert", "forwardingRules.insert")


def drive_every_code_path(provider: GCPProvider, make_spec: SpecFactory, emulator: GCEEmulator) -> None:
    """Create after lost answers, update in every way, switch addresses, shrink, repair labels, sweep deeply,
    delete: external and internal."""
    for method in LOST_ANSWERS:
        emulator.fail(method, lose_response=True)
    spec = make_spec(ports=[(80, "TCP")])
    for attempt in range(len(LOST_ANSWERS) + 1):
        try:
            ensure(provider, spec)
            break
        except RetryLater:
            assert attempt < len(LOST_ANSWERS), "each lost answer costs one attempt"
    ensure(provider, make_spec(ports=[(80, "TCP"), (53, "UDP")], health_check=HealthCheck(port=31000, local=True)))
    ensure(provider, make_spec(ports=[(80, "TCP"), (53, "UDP")], nodes=NODES[:2]))
    ensure(provider, make_spec(ports=[(80, "TCP")], nodes=[n for n in NODES if n[0] == "us-central1-a"]))
    emulator.add_address("users-ip", ip="203.0.113.250")
    ensure(provider, make_spec(ports=[(80, "TCP")], requested_ips=["203.0.113.250"]))
    ensure(provider, make_spec("internal", ports=[(80, "TCP"), (3868, "SCTP")], internal=True))
    names = names_for(CLUSTER, make_spec("internal").service)
    relabel(emulator, "address", names.address, {"changed": "by-hand"})
    relabel(emulator, "forwarding_rule", names.forwarding_rule("L3_DEFAULT"), {})
    provider.sweep(deep=True)
    ensure(provider, make_spec("internal", ports=[(80, "TCP"), (3868, "SCTP")], internal=True))
    emulator.add_subnetwork("lb6", "default", "10.132.0.0/24", ipv6_access_type="INTERNAL")
    dual = dataclasses.replace(make_spec("dual", internal=True, annotations={SUBNET: "lb6"}),
                               ip_families=(IPV4, IPV6), ip_family_policy=REQUIRE_DUAL_STACK)
    ensure(provider, dual)
    owned(provider)
    delete(provider, make_spec().service)
    delete(provider, make_spec("internal").service)
    delete(provider, dual.service)


def test_role_matches_the_methods_the_provider_calls(emulator: GCEEmulator, make_spec: SpecFactory) -> None:
    drive_every_code_path(new_provider(emulator), make_spec, emulator)
    assert emulator.leftovers() == ["addresses/us-central1/users-ip"]
    called = {call.method for call in emulator.requests}
    assert called - set(METHOD_PERMISSIONS) == set(), "a Compute method is called that the table does not know"
    assert set(METHOD_PERMISSIONS) - called == set(), "the table lists a method the provider never calls"
    role = yaml.safe_load(ROLE.read_text())
    granted = role["includedPermissions"]
    assert granted == sorted(set(granted)), "permissions are listed once each, sorted"
    assert set(granted) == permissions_for(called)
