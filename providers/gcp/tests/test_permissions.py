"""The custom role in gcp-permissions.yaml grants exactly what the Compute calls the provider makes need."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.permissions import METHOD_PERMISSIONS, permissions_for
from cloudlb_gcp.provider import GCPProvider

from cloudlb.model import HealthCheck

from .conftest import NODES, SpecFactory

pytestmark = pytest.mark.timeout(60)
ROLE = Path(__file__).parent.parent / "gcp-permissions.yaml"


def drive_every_code_path(provider: GCPProvider, make_spec: SpecFactory, emulator: GCEEmulator) -> None:
    """Create, update in every way, switch addresses, shrink, list and delete: external and internal."""
    provider.ensure_service(make_spec(ports=[(80, "TCP")]))
    provider.ensure_service(make_spec(ports=[(80, "TCP"), (53, "UDP")],
                              health_check=HealthCheck(port=31000, local=True)))
    provider.ensure_service(make_spec(ports=[(80, "TCP"), (53, "UDP")], nodes=NODES[:2]))
    provider.ensure_service(make_spec(ports=[(80, "TCP")], nodes=[n for n in NODES if n[0] == "us-central1-a"]))
    emulator.add_address("users-ip", ip="203.0.113.250")
    provider.ensure_service(make_spec(ports=[(80, "TCP")], requested_ips=["203.0.113.250"]))
    provider.ensure_service(make_spec("internal", ports=[(80, "TCP"), (3868, "SCTP")], internal=True))
    provider.owned_services()
    provider.delete_service(make_spec().service)
    provider.delete_service(make_spec("internal").service)


def test_role_matches_the_methods_the_provider_calls(emulator: GCEEmulator, provider: GCPProvider,
                                                     make_spec: SpecFactory) -> None:
    drive_every_code_path(provider, make_spec, emulator)
    assert emulator.leftovers() == ["addresses/us-central1/users-ip"]
    called = {call.method for call in emulator.requests}
    assert called - set(METHOD_PERMISSIONS) == set(), "a Compute method is called that the table does not know"
    assert set(METHOD_PERMISSIONS) - called == set(), "the table lists a method the provider never calls"
    role = yaml.safe_load(ROLE.read_text())
    granted = role["includedPermissions"]
    assert granted == sorted(set(granted)), "permissions are listed once each, sorted"
    assert set(granted) == permissions_for(called)
