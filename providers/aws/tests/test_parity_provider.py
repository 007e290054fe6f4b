"""Issue 11's AWS settings through the provider against moto over HTTP: what is read, what is written."""

from __future__ import annotations

import dataclasses

from cloudlb_aws import nlb_attributes as attrs
from cloudlb_aws import target_nodes
from cloudlb_aws.annotations import ADDITIONAL_RESOURCE_TAGS
from cloudlb_aws.naming import key_ref, load_balancer_name
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.model import DesiredLoadBalancer, LoadBalancerKey

from . import support as state
from .faults import FaultyProxy
from .support import CLUSTER, SpecFactory, backends_of, delete_and_expect_nothing_left, new_provider, nlb_name, writes
from .test_faults import run_with_each_call_failing
from .test_faults import snapshot as faults_snapshot


def group_attributes(sandbox: MotoSandbox, arn: str) -> dict[str, str]:
    found = sandbox.client("elbv2").describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
    return {a["Key"]: a["Value"] for a in found}


def test_attributes_are_read_only_where_set_and_reset_after_a_restart(
        sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    first = new_provider()
    first.ensure_service(make_spec("plain"))
    first.ensure_service(make_spec("sticky", annotations={
        attrs.TARGET_GROUP_ATTRIBUTES: "stickiness.enabled=true",
        attrs.LOAD_BALANCER_ATTRIBUTES: "deletion_protection.enabled=false,load_balancing.cross_zone.enabled=true"}))
    lb = state.load_balancer(sandbox, nlb_name("sticky"))
    assert lb is not None
    [group] = state.target_groups(sandbox, lb["LoadBalancerArn"])
    assert group_attributes(sandbox, group)["stickiness.enabled"] == "true"
    assert state.tags(sandbox, group)[attrs.MANAGED_TAG] == "stickiness.enabled"

    # A restarted controller knows no attribute: the plain Service costs no attribute read at all.
    restarted = new_provider()
    before = restarted.calls.snapshot()
    restarted.ensure_service(make_spec("plain"))
    used = restarted.calls.snapshot() - before
    assert not {k for k in used if "Attributes" in k}

    # The sticky one without its annotations: read once (the record tag says what cloudlb set), reset, untagged.
    before = restarted.calls.snapshot()
    restarted.ensure_service(make_spec("sticky"))
    used = restarted.calls.snapshot() - before
    assert used["elasticloadbalancing:DescribeTargetGroupAttributes"] == 1
    assert used["elasticloadbalancing:DescribeLoadBalancerAttributes"] == 1
    assert writes(used) == {"elasticloadbalancing:ModifyTargetGroupAttributes": 1,
                            "elasticloadbalancing:ModifyLoadBalancerAttributes": 1,
                            "elasticloadbalancing:RemoveTags": 2}
    assert group_attributes(sandbox, group)["stickiness.enabled"] == "false"
    assert attrs.MANAGED_TAG not in state.tags(sandbox, group)

    # Nothing left to do: no read, no write.
    before = restarted.calls.snapshot()
    restarted.ensure_service(make_spec("sticky"))
    assert writes(restarted.calls.snapshot() - before) == {}
    restarted.delete_service(make_spec("plain").service)
    delete_and_expect_nothing_left(restarted, sandbox, "sticky")


def attribute_snapshot(sandbox: MotoSandbox) -> object:
    """The resources and listeners (as the fault tests compare them), plus attributes and tags by name."""
    elbv2 = sandbox.client("elbv2")
    found: dict[str, object] = {}
    for lb in elbv2.describe_load_balancers()["LoadBalancers"]:
        attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
        found[lb["LoadBalancerName"]] = (sorted((a["Key"], a["Value"]) for a in attributes),
                                         sorted(state.tags(sandbox, lb["LoadBalancerArn"]).items()))
    for group in elbv2.describe_target_groups()["TargetGroups"]:
        found[group["TargetGroupName"]] = (sorted(group_attributes(sandbox, group["TargetGroupArn"]).items()),
                                           sorted(state.tags(sandbox, group["TargetGroupArn"]).items()))
    return faults_snapshot(sandbox), found


def test_a_failure_at_any_call_of_an_annotated_create_leaks_nothing_and_the_retry_converges(
        proxy: FaultyProxy, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("faultyattrs", [(80, "TCP", 30080), (53, "UDP", 30053)], annotations={
        attrs.PROXY_PROTOCOL: "*", attrs.TARGET_GROUP_ATTRIBUTES: "deregistration_delay.timeout_seconds=30",
        attrs.LOAD_BALANCER_ATTRIBUTES: "load_balancing.cross_zone.enabled=true",
        ADDITIONAL_RESOURCE_TAGS: "team=web"})

    def cleanup() -> None:
        new_provider().delete_service(spec.service)
        assert sandbox.leftovers() == []

    clean: list[object] = []

    def operation(provider: AWSProvider) -> object:
        status = provider.ensure_service(spec)
        clean.append(attribute_snapshot(sandbox))
        return status

    failed = run_with_each_call_failing(proxy, sandbox, lambda _: None, operation, cleanup)
    assert any(f.endswith(":ModifyTargetGroupAttributes") for f in failed)
    assert any(f.endswith(":ModifyLoadBalancerAttributes") for f in failed)
    # Every retry ended where the clean run ended, attributes and tags included.
    assert all(snapshot == clean[0] for snapshot in clean[1:])


def test_on_a_shared_nlb_each_services_target_groups_get_its_own_targets_and_attributes(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    first, second, third = backends_of(sandbox)
    edge = dataclasses.replace(first, labels=(("role", "edge"),))
    web = make_spec("web", [(80, "TCP", 30080)], backends=(edge, second, third), annotations={
        attrs.PROXY_PROTOCOL: "*", target_nodes.TARGET_NODE_LABELS: "role=edge"})
    api = make_spec("api", [(8080, "TCP", 30808)], backends=(edge, second, third))
    key = LoadBalancerKey("default", "shop", shared=True)
    provider.ensure(DesiredLoadBalancer(key, (web, api)))
    lb = state.load_balancer(sandbox, load_balancer_name(CLUSTER, key_ref(key), "nlb", False))
    assert lb is not None
    by_member = {state.tags(sandbox, arn)["kubernetes.io/service-name"]: arn
                 for arn in state.target_groups(sandbox, lb["LoadBalancerArn"])}
    ids = {b.node_name: b.provider_id.rsplit("/", 1)[-1] for b in (first, second, third)}
    assert state.targets(sandbox, by_member["default/web"]) == {ids[first.node_name]}
    assert state.targets(sandbox, by_member["default/api"]) == set(ids.values())
    assert group_attributes(sandbox, by_member["default/web"])["proxy_protocol_v2.enabled"] == "true"
    assert group_attributes(sandbox, by_member["default/api"]).get("proxy_protocol_v2.enabled", "false") == "false"
    provider.delete(key)
    assert sandbox.leftovers() == []
