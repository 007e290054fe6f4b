"""Issue 11's AWS settings through the provider against moto over HTTP: what is read, what is written."""

from __future__ import annotations

from cloudlb_aws import nlb_attributes as attrs
from cloudlb_aws.sandbox import MotoSandbox

from . import support as state
from .support import SpecFactory, delete_and_expect_nothing_left, new_provider, nlb_name, writes


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
