"""The GCE emulator's IPv6, through google-cloud-compute over HTTP: dual-stack subnetworks, IPv6 addresses
and forwarding rules, and the API's refusals (no IPv6 range, no subnetwork, no /96 suffix, Standard tier)."""

from __future__ import annotations

import ipaddress

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from google.api_core import exceptions as api
from google.cloud import compute_v1

from .conftest import REGION, WHERE
from .test_emulator import client, make_backend_service, rule

pytestmark = pytest.mark.timeout(30)
SUBNETS = f"regions/{REGION}/subnetworks"


@pytest.fixture
def dual_stack(emulator: GCEEmulator) -> GCEEmulator:
    emulator.add_subnetwork("ext6", "default", "10.140.0.0/24", ipv6_access_type="EXTERNAL",
                            ipv6_cidr="2600:1900:4000:77::/64")
    emulator.add_subnetwork("int6", "default", "10.141.0.0/24", ipv6_access_type="INTERNAL",
                            ipv6_cidr="fd20:1:2:3::/64")
    return emulator


def reserve(emulator: GCEEmulator, **fields: str) -> compute_v1.Address:
    addresses = client(emulator, compute_v1.AddressesClient)
    addresses.insert_unary(address_resource=compute_v1.Address(ip_version="IPV6", **fields), **WHERE)
    found: compute_v1.Address = addresses.get(address=fields["name"], **WHERE)
    return found


def test_ipv6_addresses_are_a_96_of_the_subnetworks_range_of_their_type(dual_stack: GCEEmulator) -> None:
    external = reserve(dual_stack, name="v6", address_type="EXTERNAL", subnetwork=f"{SUBNETS}/ext6",
                       ipv6_endpoint_type="NETLB")
    assert ipaddress.IPv6Address(external.address) in ipaddress.IPv6Network("2600:1900:4000:77::/64")
    assert (external.prefix_length, external.network_tier) == (96, "PREMIUM")
    internal = reserve(dual_stack, name="v6i", address_type="INTERNAL", subnetwork=f"{SUBNETS}/int6")
    assert ipaddress.IPv6Address(internal.address) in ipaddress.IPv6Network("fd20:1:2:3::/64")
    with pytest.raises(api.BadRequest, match="has no external IPv6 range"):
        reserve(dual_stack, name="wrong", address_type="EXTERNAL", subnetwork=f"{SUBNETS}/int6")
    with pytest.raises(api.BadRequest, match=r"stackType IPV4_ONLY\) has no internal IPv6 range"):
        reserve(dual_stack, name="v4only", address_type="INTERNAL", subnetwork=f"{SUBNETS}/default")
    with pytest.raises(api.BadRequest, match="PREMIUM network tier"):
        reserve(dual_stack, name="std", address_type="EXTERNAL", subnetwork=f"{SUBNETS}/ext6", network_tier="STANDARD")


def test_ipv6_rules_need_a_subnetwork_and_external_ones_the_96_suffix(dual_stack: GCEEmulator) -> None:
    make_backend_service(dual_stack, protocol="UNSPECIFIED")
    rules = client(dual_stack, compute_v1.ForwardingRulesClient)
    with pytest.raises(api.BadRequest, match="Subnetwork or Ip Collection must be specified for IPv6"):
        rules.insert_unary(forwarding_rule_resource=rule(ip_version="IPV6"), **WHERE)
    ip = reserve(dual_stack, name="v6", address_type="EXTERNAL", subnetwork=f"{SUBNETS}/ext6").address
    with pytest.raises(api.BadRequest, match="must be given as a /96 range"):
        rules.insert_unary(forwarding_rule_resource=rule(ip_version="IPV6", subnetwork=f"{SUBNETS}/ext6",
                                                         I_p_address=ip), **WHERE)
    rules.insert_unary(forwarding_rule_resource=rule(ip_version="IPV6", subnetwork=f"{SUBNETS}/ext6",
                                                     I_p_address=ip + "/96"), **WHERE)
    rules.insert_unary(forwarding_rule_resource=rule("fr-udp", "UDP", ip_version="IPV6",
                                                     subnetwork=f"{SUBNETS}/ext6", I_p_address=ip + "/96"), **WHERE)
    assert rules.get(forwarding_rule="fr", **WHERE).I_p_address == ip + "/96"
    users = client(dual_stack, compute_v1.AddressesClient).get(address="v6", **WHERE).users
    assert sorted(link.rsplit("/", 1)[1] for link in users) == ["fr", "fr-udp"]
    with pytest.raises(api.BadRequest, match="overlapping ports"):
        rules.insert_unary(forwarding_rule_resource=rule("again", ip_version="IPV6", subnetwork=f"{SUBNETS}/ext6",
                                                         I_p_address=ip + "/96"), **WHERE)


def test_an_ipv4_external_rule_still_takes_no_subnetwork(dual_stack: GCEEmulator) -> None:
    make_backend_service(dual_stack)
    with pytest.raises(api.BadRequest, match="only valid on INTERNAL"):
        client(dual_stack, compute_v1.ForwardingRulesClient).insert_unary(
            forwarding_rule_resource=rule(subnetwork=f"{SUBNETS}/ext6"), **WHERE)
