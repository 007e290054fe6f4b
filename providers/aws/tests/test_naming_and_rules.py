"""Names, ownership tags and security-group rule merging. Pure."""

from __future__ import annotations

import re

import pytest
from cloudlb_aws.naming import (
    is_owned,
    load_balancer_name,
    owner_of,
    ownership_tags,
    security_group_name,
    target_group_name,
)
from cloudlb_aws.security import RULE_QUOTA, IngressRule, ingress_rules

from cloudlb.model import ServiceRef
from cloudlb.provider import PermanentError

AWS_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
LONG = ServiceRef("a-very-long-namespace-name-indeed", "an-even-longer-service-name-than-that")


@pytest.mark.parametrize("service", [ServiceRef("default", "web"), LONG, ServiceRef("x", "y")])
def test_names_fit_aws_rules(service: ServiceRef) -> None:
    for kind in ("nlb", "clb"):
        for internal in (False, True):
            name = load_balancer_name("prod", service, kind, internal)
            assert len(name) <= 32 and AWS_NAME.match(name) and not name.startswith("internal-")
    group = target_group_name("prod", service, load_balancer="x", listener_port=65535, protocol="TCP_UDP",
                              node_port=32767)
    assert len(group) <= 32 and AWS_NAME.match(group)


def test_names_are_stable_and_differ_by_cluster_namespace_name_kind_and_scheme() -> None:
    web = ServiceRef("default", "web")
    assert load_balancer_name("prod", web, "nlb", False) == load_balancer_name("prod", web, "nlb", False)
    names = {load_balancer_name(cluster, service, kind, internal)
             for cluster in ("prod", "staging") for service in (web, ServiceRef("other", "web"), LONG)
             for kind in ("nlb", "clb") for internal in (False, True)}
    assert len(names) == 2 * 3 * 2 * 2


def test_target_group_names_change_with_what_aws_cannot_change_in_place() -> None:
    web = ServiceRef("default", "web")
    base = {"load_balancer": "lb", "listener_port": 80, "protocol": "TCP", "node_port": 30080}
    variants = [base, {**base, "load_balancer": "lb2"}, {**base, "listener_port": 81},
                {**base, "protocol": "TCP_UDP"}, {**base, "node_port": 30081}]
    names = {target_group_name("prod", web, **v) for v in variants}  # type: ignore[arg-type]
    assert len(names) == len(variants)


def test_security_group_names_are_per_cluster_and_service() -> None:
    web = ServiceRef("default", "web")
    assert security_group_name("prod", web) != security_group_name("staging", web)


def test_ownership_needs_this_cluster_and_this_service() -> None:
    web = ServiceRef("default", "web")
    tags = ownership_tags("prod", web, {"team": "payments"})
    assert tags["kubernetes.io/cluster/prod"] == "owned" and tags["kubernetes.io/service-name"] == "default/web"
    assert is_owned(tags, "prod", web)
    assert not is_owned(tags, "staging", web)
    assert not is_owned(tags, "prod", ServiceRef("default", "api"))
    assert not is_owned({"kubernetes.io/service-name": "default/web"}, "prod", web)
    assert owner_of(tags, "prod") == web and owner_of(tags, "staging") is None


def test_user_tags_cannot_override_ownership_tags() -> None:
    tags = ownership_tags("prod", ServiceRef("default", "web"), {"kubernetes.io/service-name": "evil/x"})
    assert tags["kubernetes.io/service-name"] == "default/web"


def test_rules_merge_adjacent_ports_and_cidrs_exactly() -> None:
    rules = ingress_rules({"tcp": {80, 81, 82, 443}, "udp": {53}}, ["10.0.0.0/25", "10.0.0.128/25", "192.0.2.7/32"])
    assert rules == {
        IngressRule("tcp", 80, 82, "10.0.0.0/24"), IngressRule("tcp", 443, 443, "10.0.0.0/24"),
        IngressRule("udp", 53, 53, "10.0.0.0/24"),
        IngressRule("tcp", 80, 82, "192.0.2.7/32"), IngressRule("tcp", 443, 443, "192.0.2.7/32"),
        IngressRule("udp", 53, 53, "192.0.2.7/32"),
    }


def test_no_source_ranges_means_open_to_all() -> None:
    assert ingress_rules({"tcp": {80}}, []) == {IngressRule("tcp", 80, 80, "0.0.0.0/0")}


def test_many_ports_and_cidrs_stay_well_under_the_quota() -> None:
    ports = {port for port in range(1000, 1100, 2)}  # 50 listeners that cannot be merged as ranges
    cidrs = [f"198.51.{i}.0/24" for i in range(0, 40, 2)]  # 20 CIDRs that cannot be merged
    rules = ingress_rules({"tcp": ports, "udp": ports}, cidrs)
    # 50 ports x 20 CIDRs x 2 protocols would be 2000 rules; one span per protocol makes 40.
    assert len(rules) == 40 < RULE_QUOTA
    assert {(r.protocol, r.from_port, r.to_port) for r in rules} == {("tcp", 1000, 1098), ("udp", 1000, 1098)}


def test_more_cidrs_than_the_quota_can_hold_is_a_permanent_error() -> None:
    cidrs = [f"198.51.{i}.0/24" for i in range(0, 122, 2)]  # 61 separate networks
    with pytest.raises(PermanentError, match="60"):
        ingress_rules({"tcp": {80}}, cidrs)
