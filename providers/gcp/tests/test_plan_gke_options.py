"""``plan`` for the GKE options that shape one load balancer (network tier, subnet, global access). Pure."""

from __future__ import annotations

import dataclasses

import pytest
from cloudlb_gcp import gke_annotations
from cloudlb_gcp.resources.address import AddressRecord

from cloudlb.problems import INVALID_ANNOTATION, UNSUPPORTED_OPTION
from cloudlb.provider import PermanentError

from .conftest import PROJECT, REGION, SpecFactory
from .test_plan import NAMES, built, planned, reasons, steps, with_addresses

STANDARD = {gke_annotations.NETWORK_TIER: "Standard"}


def test_the_standard_tier_reaches_the_address_and_every_rule(make_spec: SpecFactory) -> None:
    result = planned(make_spec(ports=[(80, "TCP"), (53, "UDP")], annotations=STANDARD))
    records = [c.payload.record for c in result.changes if c.resource in ("address", "forwarding-rule")]
    assert [(type(r).__name__, r.network_tier) for r in records] == [
        ("AddressRecord", "STANDARD"), ("RuleRecord", "STANDARD"), ("RuleRecord", "STANDARD")]
    default = planned(make_spec())
    assert {c.payload.record.network_tier for c in default.changes
            if c.resource in ("address", "forwarding-rule")} == {"PREMIUM"}


@pytest.mark.parametrize("before,after", [({}, STANDARD), (STANDARD, {}),
                                          (STANDARD, {gke_annotations.NETWORK_TIER: "Premium"})])
def test_a_tier_change_replaces_the_rules_and_our_address(make_spec: SpecFactory, before: dict[str, str],
                                                          after: dict[str, str]) -> None:
    result = planned(make_spec(annotations=after), built(make_spec(annotations=before)))
    rule = NAMES.forwarding_rule("TCP")
    assert steps(result) == [("delete", "forwarding-rule", rule), ("delete", "address", NAMES.address),
                             ("create", "address", NAMES.address), ("update", "firewall", NAMES.traffic_firewall),
                             ("create", "forwarding-rule", rule)]
    old, new = ("STANDARD", "PREMIUM") if before else ("PREMIUM", "STANDARD")
    assert reasons(result)[f"delete address {NAMES.address}"] == f"no longer fits: network tier: {old} -> {new}"
    assert reasons(result)[f"delete forwarding-rule {rule}"].endswith(f"network tier: {old} -> {new}")
    assert planned(make_spec(annotations=after), built(make_spec(annotations=after))).empty


def test_a_users_address_in_the_other_tier_is_refused_naming_the_annotation(make_spec: SpecFactory) -> None:
    standard_ip = AddressRecord("users-ip", None, "203.0.113.200", "EXTERNAL", "", "", (), network_tier="STANDARD")
    observed = with_addresses(built(make_spec()), standard_ip)
    with pytest.raises(PermanentError, match=r"belongs to the STANDARD network tier; the Service asks for PREMIUM "
                                             r"\(annotation cloud.google.com/network-tier") as refused:
        planned(make_spec(requested_ips=["203.0.113.200"]), observed)
    assert refused.value.code == "NetworkTierMismatch"
    used = planned(make_spec(requested_ips=["203.0.113.200"], annotations=STANDARD), observed)
    assert used.outcome is not None and used.outcome.ip == "203.0.113.200"
    assert {c.payload.record.network_tier for c in used.changes
            if c.resource == "forwarding-rule" and c.action == "create"} == {"STANDARD"}


@pytest.mark.parametrize("value,fatal", [("Standard", None), ("Premium", None), ("standard", INVALID_ANNOTATION),
                                         ("PREMIUM", INVALID_ANNOTATION), ("Gold", INVALID_ANNOTATION)])
def test_the_tier_takes_gkes_two_values_exactly(make_spec: SpecFactory, value: str, fatal: str | None) -> None:
    problems = gke_annotations.validate(make_spec(annotations={gke_annotations.NETWORK_TIER: value}))
    assert [(p.reason, p.fatal) for p in problems] == ([(fatal, True)] if fatal else [])
    if fatal:
        assert problems[0].field == f"metadata.annotations[{gke_annotations.NETWORK_TIER}]"


def test_the_tier_on_an_internal_service_is_reported_as_ignored(make_spec: SpecFactory) -> None:
    spec = make_spec(internal=True, annotations=STANDARD)
    [problem] = gke_annotations.validate(spec)
    assert (problem.reason, problem.fatal, problem.field) == (
        UNSUPPORTED_OPTION, False, f"metadata.annotations[{gke_annotations.NETWORK_TIER}]")
    assert all(c.payload.record.network_tier == "" for c in planned(spec).changes
               if c.resource in ("address", "forwarding-rule"))


def test_subnet_and_global_access_shape_the_internal_rules(make_spec: SpecFactory) -> None:
    plain = make_spec(internal=True)
    options = make_spec(internal=True, annotations={gke_annotations.SUBNET: "lb-subnet",
                                                    gke_annotations.GLOBAL_ACCESS: "true"})
    result = planned(options, built(plain))
    rule = NAMES.forwarding_rule("TCP")
    subnet = f"projects/{PROJECT}/regions/{REGION}/subnetworks"
    assert reasons(result)[f"delete forwarding-rule {rule}"] == (
        "replaced: ip: 10.128.0.50 -> <new address>; subnetwork: default -> lb-subnet; global access: False -> True")
    created = [c.payload.record for c in result.changes if c.resource == "forwarding-rule" and c.action == "create"]
    assert [(r.subnetwork, r.global_access) for r in created] == [(f"{subnet}/lb-subnet", True)]
    address = next(c.payload.record for c in result.changes if c.resource == "address" and c.action == "create")
    assert address.subnetwork == f"{subnet}/lb-subnet"
    only_access = planned(make_spec(internal=True, annotations={gke_annotations.GLOBAL_ACCESS: "true"}), built(plain))
    assert not any(c.resource == "address" for c in only_access.changes), "the VIP stays"
    assert dataclasses.replace(built(options), key=built(options).key) == built(options)
