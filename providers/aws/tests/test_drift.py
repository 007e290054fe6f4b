"""Drift behind the controller's back is found by the next sweep and repaired by exactly the missing writes."""

from __future__ import annotations

from collections import Counter

from cloudlb_aws.naming import backend_group_name, security_group_name
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb.provider import ProviderSettings

from . import support as state
from .support import CLUSTER, SpecFactory, delete_and_expect_nothing_left, nlb_name, writes

PORTS = [(80, "TCP", 30080), (443, "TCP", 30443)]


def groups_by_name(sandbox: MotoSandbox, ids: list[str]) -> dict[str, str]:
    return {state.security_group(sandbox, g)["GroupName"]: g for g in ids}


def test_a_deleted_listener_revoked_rules_and_a_removed_target_are_repaired_after_the_sweeps(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("drifty", PORTS, source_ranges=("10.0.0.0/8",))
    key = LoadBalancerKey.of(spec.service)
    provider.ensure_service(spec)
    lb = state.load_balancer(sandbox, nlb_name("drifty"))
    assert lb is not None
    listeners = state.listeners(sandbox, lb["LoadBalancerArn"])
    groups = groups_by_name(sandbox, lb["SecurityGroups"])
    own, backend = groups[security_group_name(CLUSTER, spec.service)], groups[backend_group_name(CLUSTER)]
    elbv2, ec2 = sandbox.client("elbv2"), sandbox.client("ec2")
    assert provider.sweep().drifted == frozenset()

    # Behind the controller's back: a listener deleted, a source range and the node rule revoked, a target removed.
    elbv2.delete_listener(ListenerArn=listeners[443]["ListenerArn"])
    ec2.revoke_security_group_ingress(GroupId=own, IpPermissions=state.security_group(sandbox, own)["IpPermissions"])
    nodes = state.security_group(sandbox, sandbox.node_group_id)
    ec2.revoke_security_group_ingress(GroupId=sandbox.node_group_id, IpPermissions=nodes["IpPermissions"])
    group_80 = listeners[80]["DefaultActions"][0]["TargetGroupArn"]
    victim = sorted(state.targets(sandbox, group_80))[0]
    elbv2.deregister_targets(TargetGroupArn=group_80, Targets=[{"Id": victim}])

    before = provider.calls.snapshot()
    fast = provider.sweep()
    assert key in fast.drifted
    provider.ensure_service(spec)  # what the controller does for each drifted key
    repaired = provider.calls.snapshot() - before
    assert writes(repaired) == {"elasticloadbalancing:CreateListener": 1, "ec2:AuthorizeSecurityGroupIngress": 2}
    assert sorted(state.listeners(sandbox, lb["LoadBalancerArn"])) == [80, 443]
    pairs = [pair["GroupId"] for p in state.security_group(sandbox, sandbox.node_group_id)["IpPermissions"]
             for pair in p["UserIdGroupPairs"]]
    assert pairs == [backend]
    assert sorted((p["FromPort"], r["CidrIp"]) for p in state.security_group(sandbox, own)["IpPermissions"]
                  for r in p["IpRanges"]) == [(80, "10.0.0.0/8"), (443, "10.0.0.0/8")]

    # A target is only seen by the deep sweep (one read per target group), on its slower cadence.
    before = provider.calls.snapshot()
    assert key in provider.sweep(deep=True).drifted
    provider.ensure_service(spec)
    assert writes(provider.calls.snapshot() - before) == {"elasticloadbalancing:RegisterTargets": 1}
    assert victim in state.targets(sandbox, group_80)
    assert provider.sweep().drifted == frozenset()

    delete_and_expect_nothing_left(provider, sandbox, "drifty")


def test_a_load_balancer_deleted_behind_our_back_is_built_again(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("gone", PORTS)
    provider.ensure_service(spec)
    lb = state.load_balancer(sandbox, nlb_name("gone"))
    assert lb is not None
    sandbox.client("elbv2").delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])

    assert LoadBalancerKey.of(spec.service) in provider.sweep().drifted
    before = provider.calls.snapshot()
    status = provider.ensure_service(spec)

    again = state.load_balancer(sandbox, nlb_name("gone"))
    assert again is not None and status.ingress[0].hostname == again["DNSName"]
    assert writes(provider.calls.snapshot() - before) == {"elasticloadbalancing:CreateLoadBalancer": 1,
                                                          "elasticloadbalancing:CreateListener": 2}
    assert sorted(state.listeners(sandbox, again["LoadBalancerArn"])) == [80, 443]
    delete_and_expect_nothing_left(provider, sandbox, "gone")


def test_an_orphan_found_by_a_sweep_is_reported_as_owned_for_garbage_collection(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("orphaned"))
    restarted = AWSProvider(ProviderSettings(CLUSTER, {}))
    owned = restarted.sweep().owned
    assert owned == {LoadBalancerKey("default", "orphaned"): frozenset({ServiceRef("default", "orphaned")})}
    assert Counter(a.split(":")[1] for a in restarted.calls.snapshot()).keys() <= {
        "DescribeLoadBalancers", "DescribeTargetGroups", "DescribeTags", "DescribeSecurityGroups",
        "DescribeSubnets", "DescribeInstances", "DescribeListeners"}
    delete_and_expect_nothing_left(restarted, sandbox, "orphaned")

