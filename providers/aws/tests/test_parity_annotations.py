"""The issue-11 AWS annotations, parsed: target-node-labels and the NLB attributes (pure)."""

from __future__ import annotations

import pytest
from cloudlb_aws import classic_attributes as classic
from cloudlb_aws import frontend_groups as fg
from cloudlb_aws import ip_address_type as dual
from cloudlb_aws import nlb_attributes as attrs
from cloudlb_aws import tag_record, target_nodes
from cloudlb_aws.annotations import CROSS_ZONE

from cloudlb.model import KUBE_PROXY_HEALTH_CHECK, LoadBalancerSpec, Port, Protocol, ServiceRef

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


# -- Classic ELB ------------------------------------------------------------------------------------------


def test_classic_attributes_are_the_in_tree_defaults_without_annotations() -> None:
    settings = classic.parse({})
    assert settings.attributes == {"AccessLog": {"Enabled": False}, "ConnectionDraining": {"Enabled": False},
                                   "ConnectionSettings": {"IdleTimeout": 60},
                                   "CrossZoneLoadBalancing": {"Enabled": False}}
    assert not settings.proxy_protocol and settings.backend_protocol is None and settings.problems == ()


def test_classic_annotations_override_each_default() -> None:
    settings = classic.parse({
        classic.CONNECTION_IDLE_TIMEOUT: "300", classic.CONNECTION_DRAINING_ENABLED: "true",
        classic.CONNECTION_DRAINING_TIMEOUT: "45", attrs.ACCESS_LOG_ENABLED: "true",
        classic.ACCESS_LOG_EMIT_INTERVAL: "5", attrs.ACCESS_LOG_BUCKET: "logs", attrs.ACCESS_LOG_PREFIX: "web",
        CROSS_ZONE: "true", attrs.PROXY_PROTOCOL: "*", classic.BACKEND_PROTOCOL: "HTTP"})
    assert settings.attributes == {
        "AccessLog": {"Enabled": True, "EmitInterval": 5, "S3BucketName": "logs", "S3BucketPrefix": "web"},
        "ConnectionDraining": {"Enabled": True, "Timeout": 45}, "ConnectionSettings": {"IdleTimeout": 300},
        "CrossZoneLoadBalancing": {"Enabled": True}}
    assert settings.proxy_protocol and settings.backend_protocol == "http" and settings.problems == ()


@pytest.mark.parametrize(("backend", "tls", "protocols"), [
    (None, False, ("TCP", "TCP")), (None, True, ("SSL", "TCP")), ("http", False, ("HTTP", "HTTP")),
    ("http", True, ("HTTPS", "HTTP")), ("https", True, ("HTTPS", "HTTPS")), ("ssl", True, ("SSL", "SSL")),
    ("tcp", True, ("SSL", "TCP")), ("ssl", False, ("TCP", "TCP")),
])
def test_backend_protocol_chooses_listeners_as_cloud_provider_aws(
        backend: str | None, tls: bool, protocols: tuple[str, str]) -> None:
    settings = classic.parse({} if backend is None else {classic.BACKEND_PROTOCOL: backend})
    assert settings.listener_protocols(tls=tls) == protocols


@pytest.mark.parametrize(("name", "value", "fatal"), [
    (classic.CONNECTION_IDLE_TIMEOUT, "4001", False), (classic.CONNECTION_DRAINING_TIMEOUT, "x", False),
    (classic.ACCESS_LOG_EMIT_INTERVAL, "10", False), (classic.CONNECTION_DRAINING_ENABLED, "yes", False),
    (classic.BACKEND_PROTOCOL, "grpc", True), (attrs.PROXY_PROTOCOL, "80,443", True),
    (attrs.ACCESS_LOG_ENABLED, "true", False),
])
def test_classic_values_upstream_refuses_are_named(name: str, value: str, fatal: bool) -> None:
    [problem] = classic.parse({name: value}).problems
    assert problem.field == f"metadata.annotations[{name}]" and problem.fatal is fatal


def test_observed_classic_attributes_compare_like_with_like() -> None:
    wanted = classic.parse({classic.CONNECTION_IDLE_TIMEOUT: "120"}).attributes
    observed = {"AccessLog": {"Enabled": False, "S3BucketName": "old"}, "ConnectionDraining": {
        "Enabled": False, "Timeout": 300}, "ConnectionSettings": {"IdleTimeout": 60},
        "CrossZoneLoadBalancing": {"Enabled": False}}
    assert classic.attribute_differences(wanted, observed) == {"ConnectionSettings": {"IdleTimeout": 120}}


# -- security groups --------------------------------------------------------------------------------------


def test_security_groups_replace_ours_and_extras_come_after_the_backend_group() -> None:
    groups, problems = fg.parse({fg.SECURITY_GROUPS: " sg-0123456789abcdef0, sg-0123456789abcdef0 ",
                                 fg.EXTRA_SECURITY_GROUPS: "sg-11111111"})
    assert problems == [] and not groups.own_group
    assert groups.groups("own", "backend") == ["sg-0123456789abcdef0", "backend", "sg-11111111"]
    assert fg.parse({})[0].groups("own", "backend") == ["own", "backend"]


def test_a_group_may_be_named_by_its_name_tag_and_is_resolved_to_its_id() -> None:
    """As the AWS Load Balancer Controller: an entry that is not an id is the value of a group's Name tag."""
    groups, problems = fg.parse({fg.SECURITY_GROUPS: "web-sg, sg-0123456789abcdef0", fg.EXTRA_SECURITY_GROUPS: "ops"})
    assert problems == [] and groups.names == ("web-sg", "ops")
    resolved = groups.resolved({"web-sg": "sg-0aaaaaaaaaaaaaaaa", "ops": "sg-0bbbbbbbbbbbbbbbb"})
    assert resolved.groups("own", "backend") == [
        "sg-0aaaaaaaaaaaaaaaa", "sg-0123456789abcdef0", "backend", "sg-0bbbbbbbbbbbbbbbb"]
    assert resolved.names == ()


@pytest.mark.parametrize(("annotations", "fatal"), [
    ({fg.SECURITY_GROUPS: "sg-web"}, True), ({fg.EXTRA_SECURITY_GROUPS: "sg-XYZ"}, True),
    ({fg.EXTRA_SECURITY_GROUPS: "x" * 257}, True), ({fg.SECURITY_GROUPS: "web;sg"}, True),
    ({fg.SECURITY_GROUPS: " , "}, False),
    ({fg.EXTRA_SECURITY_GROUPS: ",".join(f"sg-{i:08x}" for i in range(4))}, True),
])
def test_security_group_values_aws_would_refuse_are_named(annotations: dict[str, str], fatal: bool) -> None:
    [problem] = fg.parse(annotations)[1]
    assert problem.fatal is fatal and problem.field == f"metadata.annotations[{next(iter(annotations))}]"


# -- additional tags record -------------------------------------------------------------------------------


def test_only_recorded_keys_that_are_no_longer_wanted_are_removed() -> None:
    desired = tag_record.with_record({"team": "api"})
    assert desired == {"team": "api", tag_record.RECORD_TAG: "team"}
    observed = {"team": "web", "cost": "42", "billing": "x", tag_record.RECORD_TAG: "cost,team"}
    assert tag_record.tags_to_remove(desired, observed) == ("cost",)
    assert tag_record.tags_to_remove(tag_record.with_record({}), observed) == (tag_record.RECORD_TAG, "cost", "team")
    assert tag_record.tags_to_remove({}, {"billing": "x"}) == ()


def test_the_record_holds_what_fits_in_one_tag_value() -> None:
    extra = {f"key-{i:03d}-" + "k" * 100: "v" for i in range(4)}
    recorded = tag_record.recorded_keys(extra)
    assert recorded == tuple(sorted(extra))[:2] and len(tag_record.with_record(extra)[tag_record.RECORD_TAG]) <= 256


# -- dual-stack ---------------------------------------------------------------------------------------------


def family_spec(annotations: dict[str, str], families: tuple[str, ...], policy: str) -> LoadBalancerSpec:
    return LoadBalancerSpec(service=ServiceRef("default", "web"), uid="u", ports=(Port(80, Protocol.TCP, 30080),),
                            backends=(), health_check=KUBE_PROXY_HEALTH_CHECK, annotations=annotations,
                            ip_families=families, ip_family_policy=policy)


@pytest.mark.parametrize(("annotation", "families", "policy", "wanted", "problem"), [
    (None, ("IPv4",), "SingleStack", "ipv4", None),
    ("dualstack", ("IPv4",), "SingleStack", "dualstack", None),
    (None, ("IPv4", "IPv6"), "PreferDualStack", "dualstack", None),
    (None, ("IPv6",), "SingleStack", "dualstack", None),
    ("ipv4", ("IPv4", "IPv6"), "PreferDualStack", "ipv4", False),
    ("ipv4", ("IPv4", "IPv6"), "RequireDualStack", "ipv4", True),
    ("ipv4", ("IPv6",), "SingleStack", "ipv4", True),
    ("ipv6", ("IPv4",), "SingleStack", "ipv4", True),
])
def test_the_ip_address_type_follows_the_annotation_and_the_ip_families(
        annotation: str | None, families: tuple[str, ...], policy: str, wanted: str, problem: bool | None) -> None:
    spec = family_spec({} if annotation is None else {dual.IP_ADDRESS_TYPE: annotation}, families, policy)
    assert dual.wanted(spec) == wanted
    found = dual.problems(spec)
    assert [x.fatal for x in found] == ([] if problem is None else [problem])
