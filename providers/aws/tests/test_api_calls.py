"""What the provider costs in AWS calls: counted by botocore's ``before-call`` event, and checked on the wire.

The upstream AWS cloud provider makes about 18-20 calls to create a 2-port NLB
and about 12 on every resync that changes nothing; these tests hold cloudlb
below both, and a resync that changes nothing to reads only.
"""

from __future__ import annotations

from collections import Counter

from cloudlb_aws.calls import DESCRIBE_BATCH, describe_in_batches
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from .faults import FaultyProxy
from .support import SpecFactory, backends_of, writes

UPSTREAM_CREATE = 18
UPSTREAM_RESYNC = 12
TWO_PORTS = [(80, "TCP", 30080), (443, "TCP", 30443)]


def calls_of(provider: AWSProvider, before: Counter[str]) -> Counter[str]:
    return provider.calls.snapshot() - before


def operations(counts: Counter[str]) -> set[str]:
    return {action.split(":", 1)[1] for action in counts}


def reads(counts: Counter[str]) -> dict[str, int]:
    return {action: n for action, n in counts.items() if action.split(":", 1)[1].startswith("Describe")}


def test_a_two_port_nlb_is_created_with_its_writes_only_once_the_inventory_is_warm(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.sweep()
    before = provider.calls.snapshot()
    provider.ensure_service(make_spec("counted", TWO_PORTS))
    created = calls_of(provider, before)

    assert reads(created) == {}, created
    assert sum(created.values()) < UPSTREAM_CREATE, created
    # Every write is needed once: tags go with the creating call, never as a separate AddTags. The first
    # load balancer of the cluster also creates the shared backend group and the node group's rule for it.
    assert writes(created) == {
        "ec2:CreateSecurityGroup": 2, "ec2:AuthorizeSecurityGroupIngress": 2,  # backend + own; node rule + ranges
        "elasticloadbalancing:CreateLoadBalancer": 1, "elasticloadbalancing:CreateTargetGroup": 2,
        "elasticloadbalancing:CreateListener": 2, "elasticloadbalancing:RegisterTargets": 2}

    before = provider.calls.snapshot()
    provider.ensure_service(make_spec("second", TWO_PORTS))
    second = calls_of(provider, before)
    # The second one finds the backend group and the node rule in place: its own group and rule, and the NLB.
    assert writes(second) == {
        "ec2:CreateSecurityGroup": 1, "ec2:AuthorizeSecurityGroupIngress": 1,
        "elasticloadbalancing:CreateLoadBalancer": 1, "elasticloadbalancing:CreateTargetGroup": 2,
        "elasticloadbalancing:CreateListener": 2, "elasticloadbalancing:RegisterTargets": 2}
    assert reads(second) == {}
    provider.delete_service(make_spec("second").service)
    provider.delete_service(make_spec("counted").service)
    assert sandbox.leftovers() == []


def test_a_resync_that_changes_nothing_costs_no_call_and_a_sweep_costs_the_same_for_one_or_three_services(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("steady", TWO_PORTS, source_ranges=("10.0.0.0/8",))
    provider.ensure_service(spec)
    before = provider.calls.snapshot()

    provider.ensure_service(spec)
    assert calls_of(provider, before) == Counter()

    before = provider.calls.snapshot()
    assert provider.sweep().drifted == frozenset()
    one = calls_of(provider, before)
    provider.ensure_service(make_spec("steady2", TWO_PORTS))
    provider.ensure_service(make_spec("steady3", TWO_PORTS, annotations={
        "service.beta.kubernetes.io/aws-load-balancer-type": "clb"}))
    before = provider.calls.snapshot()
    assert provider.sweep().drifted == frozenset()
    three = calls_of(provider, before)

    assert all(op.startswith("Describe") for op in operations(one | three)), three
    # Per page of load balancers, not per Service: the listeners are read by ARN, 20 a call.
    assert sum(one.values()) == sum(three.values()) < UPSTREAM_RESYNC, (one, three)
    for name in ("steady", "steady2", "steady3"):
        provider.delete_service(make_spec(name).service)
    assert sandbox.leftovers() == []


def test_a_resync_that_changes_nothing_on_a_classic_elb_costs_no_call(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("steadyclb", TWO_PORTS, annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "clb"})
    provider.ensure_service(spec)
    before = provider.calls.snapshot()

    provider.ensure_service(spec)

    assert calls_of(provider, before) == Counter()
    provider.delete_service(spec.service)


def test_a_new_node_costs_one_registration_per_target_group_and_no_read(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("grow", TWO_PORTS, backends=backends_of(sandbox, 2)))
    before = provider.calls.snapshot()

    provider.ensure_service(make_spec("grow", TWO_PORTS))
    added = calls_of(provider, before)

    # The node's instance was listed by the sweep that filled the inventory (it runs in the cluster's VPC).
    assert added == Counter({"elasticloadbalancing:RegisterTargets": 2})
    before = provider.calls.snapshot()
    provider.ensure_service(make_spec("grow", TWO_PORTS, backends=backends_of(sandbox, 2)))
    assert calls_of(provider, before) == Counter({"elasticloadbalancing:DeregisterTargets": 2})
    provider.delete_service(make_spec("grow").service)


def test_delete_reads_nothing_with_a_warm_inventory(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("going", TWO_PORTS))
    before = provider.calls.snapshot()

    provider.delete_service(make_spec("going").service)

    deleted = calls_of(provider, before)
    assert reads(deleted) == {}
    # The load balancer, its two groups, its own security group; and, as the cluster's last load balancer,
    # the node rule admitting the backend group and that group.
    assert writes(deleted) == {
        "elasticloadbalancing:DeleteLoadBalancer": 1, "elasticloadbalancing:DeleteTargetGroup": 2,
        "ec2:DeleteSecurityGroup": 2, "ec2:RevokeSecurityGroupIngress": 1}
    assert sandbox.leftovers() == []


def test_describe_calls_never_carry_more_than_20_arns_even_when_moto_would_accept_more(
        proxy: FaultyProxy, provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    ports = [(1000 + i, "TCP", 30000 + i) for i in range(25)]
    provider.ensure_service(make_spec("wide", ports))
    proxy.fail_call(None)

    provider.sweep(deep=True)  # reads every tag again: 26 ARNs

    batched = [request for request in proxy.requests
               if request["Action"][0] in ("DescribeTags", "DescribeTargetGroups")]
    sizes = [sum(1 for key in request if key.startswith(("ResourceArns.member", "TargetGroupArns.member")))
             for request in batched]
    assert sizes and max(sizes) <= DESCRIBE_BATCH and sum(sizes) > DESCRIBE_BATCH, sizes
    provider.delete_service(make_spec("wide").service)
    assert sandbox.leftovers() == []


def test_describe_in_batches_splits_at_20_and_drops_duplicates() -> None:
    seen: list[list[str]] = []

    def describe(batch: list[str]) -> list[str]:
        seen.append(batch)
        return batch

    items = [f"arn-{i:02d}" for i in range(45)] + ["arn-00"]
    assert sorted(describe_in_batches(items, describe)) == sorted(set(items))
    assert [len(batch) for batch in seen] == [20, 20, 5]
