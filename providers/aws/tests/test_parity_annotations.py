"""The issue-11 AWS annotations, parsed: target-node-labels and the NLB attributes (pure)."""

from __future__ import annotations

import pytest
from cloudlb_aws import nlb_attributes as attrs
from cloudlb_aws import target_nodes
from cloudlb_aws.annotations import CROSS_ZONE

LABELS = target_nodes.TARGET_NODE_LABELS


# -- target-node-labels ------------------------------------------------------------------------------------


def test_target_node_labels_are_read_as_cloud_provider_aws_reads_them() -> None:
    wanted, problems = target_nodes.parse({LABELS: " role=edge, tier= ,zone-a , node.kubernetes.io/pool=a"})
    assert wanted == {"role": "edge", "tier": "", "zone-a": "", "node.kubernetes.io/pool": "a"}
    assert problems == []
    assert target_nodes.node_label_keys({LABELS: "role=edge,tier"}) == {"role", "tier"}
    assert target_nodes.node_label_keys({}) == frozenset()


@pytest.mark.parametrize("value", ["role=edge=x", "-role=edge", "role=edge!", "UPPER.example.com/x=1", "a b=c"])
def test_a_label_no_node_can_carry_is_fatal_and_named(value: str) -> None:
    wanted, problems = target_nodes.parse({LABELS: value})
    assert wanted == {}
    [problem] = problems
    assert problem.fatal and problem.field == f"metadata.annotations[{LABELS}]"


def test_a_node_is_a_target_only_with_every_label_and_an_empty_value_matches_any() -> None:
    wanted = {"role": "edge", "pool": ""}
    assert target_nodes.selects({"role": "edge", "pool": "b", "other": "x"}, wanted)
    assert not target_nodes.selects({"role": "edge"}, wanted)
    assert not target_nodes.selects({"role": "web", "pool": "a"}, wanted)
    assert target_nodes.selects({}, {})


# -- NLB attributes ---------------------------------------------------------------------------------------


def test_proxy_protocol_star_turns_on_proxy_protocol_v2_and_wins_over_the_attributes_annotation() -> None:
    parsed = attrs.parse({attrs.PROXY_PROTOCOL: "*",
                          attrs.TARGET_GROUP_ATTRIBUTES: "proxy_protocol_v2.enabled=false"})
    assert parsed.target_group == {"proxy_protocol_v2.enabled": "true"} and parsed.problems == ()


def test_proxy_protocol_other_than_star_is_fatal() -> None:
    [problem] = attrs.parse({attrs.PROXY_PROTOCOL: "80"}).problems
    assert problem.fatal and attrs.PROXY_PROTOCOL in problem.field


def test_target_group_attributes_are_canonical_and_unknown_keys_are_named_without_losing_the_rest() -> None:
    parsed = attrs.parse({attrs.TARGET_GROUP_ATTRIBUTES:
                          "deregistration_delay.timeout_seconds=+030, preserve_client_ip.enabled=True,"
                          "stickiness.enabled=1,stickiness.type=source_ip,slow_start.duration_seconds=30,"
                          "proxy_protocol_v2.enabled=maybe,noequals"})
    assert parsed.target_group == {"deregistration_delay.timeout_seconds": "30", "preserve_client_ip.enabled": "true",
                                   "stickiness.enabled": "true", "stickiness.type": "source_ip"}
    messages = [problem.message for problem in parsed.problems]
    assert not any(problem.fatal for problem in parsed.problems)
    assert any("slow_start.duration_seconds" in m for m in messages)
    assert any("proxy_protocol_v2.enabled='maybe'" in m for m in messages)
    assert any("'noequals' is not written as key=value" in m for m in messages)
    assert all(attrs.TARGET_GROUP_ATTRIBUTES in p.field for p in parsed.problems)


@pytest.mark.parametrize("text", ["3601", "-1", "٣٠", "1e3"])
def test_deregistration_delay_outside_what_aws_takes_is_refused(text: str) -> None:
    parsed = attrs.parse({attrs.TARGET_GROUP_ATTRIBUTES: f"deregistration_delay.timeout_seconds={text}"})
    assert parsed.target_group == {} and len(parsed.problems) == 1


def test_load_balancer_attributes_and_the_older_annotations_that_win_a_tie() -> None:
    parsed = attrs.parse({
        attrs.LOAD_BALANCER_ATTRIBUTES: "access_logs.s3.enabled=true,access_logs.s3.bucket=logs-a,"
                                        "deletion_protection.enabled=true,load_balancing.cross_zone.enabled=true,"
                                        "idle_timeout.timeout_seconds=60",
        attrs.ACCESS_LOG_BUCKET: "logs-b", attrs.ACCESS_LOG_PREFIX: "web"})
    assert parsed.load_balancer == {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "logs-b",
                                    "access_logs.s3.prefix": "web", "deletion_protection.enabled": "true",
                                    "load_balancing.cross_zone.enabled": "true"}
    [problem] = parsed.problems
    assert "idle_timeout.timeout_seconds" in problem.message and not problem.fatal
    # The cross-zone annotation is applied on its own path: the attribute is then left to it.
    both = attrs.parse({attrs.LOAD_BALANCER_ATTRIBUTES: "load_balancing.cross_zone.enabled=true",
                        CROSS_ZONE: "false"})
    assert both.load_balancer == {}


def test_access_logs_without_a_bucket_are_refused_as_aws_would() -> None:
    parsed = attrs.parse({attrs.ACCESS_LOG_ENABLED: "true"})
    assert parsed.load_balancer == {} and "needs access_logs.s3.bucket" in parsed.problems[0].message


def test_defaults_follow_aws_for_instance_and_ip_targets() -> None:
    assert attrs.target_group_defaults(ip_targets=False, protocol="TCP")["preserve_client_ip.enabled"] == "true"
    assert attrs.target_group_defaults(ip_targets=True, protocol="TCP")["preserve_client_ip.enabled"] == "false"
    assert attrs.target_group_defaults(ip_targets=True, protocol="UDP")["preserve_client_ip.enabled"] == "true"
    assert attrs.load_balancer_defaults()["deletion_protection.enabled"] == "false"


def test_writes_set_what_is_wanted_and_reset_only_what_cloudlb_set_before() -> None:
    defaults = attrs.target_group_defaults(ip_targets=False, protocol="TCP")
    observed = {**defaults, "stickiness.enabled": "true", "deregistration_delay.timeout_seconds": "30"}
    # The user dropped stickiness (cloudlb set it) and kept the delay; a key nobody set is never written.
    assert attrs.writes({"deregistration_delay.timeout_seconds": "30"},
                        frozenset({"stickiness.enabled", "deregistration_delay.timeout_seconds"}),
                        {**observed, "preserve_client_ip.enabled": "false"}, defaults) == {
        "stickiness.enabled": "false"}
    assert attrs.writes({}, frozenset(), observed, defaults) == {}


def test_the_record_tag_round_trips() -> None:
    tag = attrs.managed_tag({"stickiness.enabled": "true", "proxy_protocol_v2.enabled": "true"})
    assert tag == {attrs.MANAGED_TAG: "proxy_protocol_v2.enabled,stickiness.enabled"}
    assert attrs.managed_keys(tag) == {"stickiness.enabled", "proxy_protocol_v2.enabled"}
    assert attrs.managed_keys({}) == frozenset() and attrs.managed_tag({}) == {}
