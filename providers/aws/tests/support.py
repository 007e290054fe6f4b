"""Shared by the AWS provider tests: names, spec building, and reading what exists in the emulated AWS.

Reads go through clients of the test's own, so they are not counted as the provider's calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from cloudlb_aws.naming import load_balancer_name
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.model import Backend, LoadBalancerSpec, ServiceRef
from cloudlb.provider import ProviderSettings

CLUSTER = "test"
IAM_TEST_NAME = "test_iam_policy_has_exactly_the_actions_the_tests_used"
ACTIONS_USED: set[str] = set()
SpecFactory = Callable[..., LoadBalancerSpec]


def new_provider(cluster: str = CLUSTER) -> AWSProvider:
    """A provider with empty caches, as after a controller restart; its clients are made on first use."""
    return AWSProvider(ProviderSettings(cluster, {}))


def nlb_name(service: str, internal: bool = False) -> str:
    return load_balancer_name(CLUSTER, ServiceRef("default", service), "nlb", internal)


def delete_and_expect_nothing_left(provider: AWSProvider, sandbox: MotoSandbox, service: str) -> None:
    provider.delete_service(ServiceRef("default", service))
    assert sandbox.leftovers() == []


def backends_of(sandbox: MotoSandbox, count: int | None = None) -> tuple[Backend, ...]:
    chosen = sandbox.instances if count is None else sandbox.instances[:count]
    return tuple(sorted(Backend(i.name, i.provider_id, i.internal_ip, i.zone) for i in chosen))


def load_balancer(sandbox: MotoSandbox, name: str) -> dict[str, Any] | None:
    found = [lb for lb in sandbox.client("elbv2").describe_load_balancers()["LoadBalancers"]
             if lb["LoadBalancerName"] == name]
    return found[0] if found else None


def listeners(sandbox: MotoSandbox, lb_arn: str) -> dict[int, dict[str, Any]]:
    return {int(item["Port"]): item
            for item in sandbox.client("elbv2").describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]}


def writes(calls: Counter[str]) -> dict[str, int]:
    """The calls that change something (all but Describe*), by action."""
    return {action: n for action, n in calls.items() if not action.split(":", 1)[1].startswith("Describe")}


def listener_protocols(sandbox: MotoSandbox, lb_arn: str) -> dict[int, str]:
    return {port: str(item["Protocol"]) for port, item in listeners(sandbox, lb_arn).items()}


def target_groups(sandbox: MotoSandbox, lb_arn: str) -> dict[str, dict[str, Any]]:
    """The target groups the load balancer's listeners forward to."""
    arns = sorted({action["TargetGroupArn"] for listener in listeners(sandbox, lb_arn).values()
                   for action in listener["DefaultActions"]})
    if not arns:
        return {}
    return {g["TargetGroupArn"]: g
            for g in sandbox.client("elbv2").describe_target_groups(TargetGroupArns=arns)["TargetGroups"]}


def targets(sandbox: MotoSandbox, group_arn: str) -> set[str]:
    health = sandbox.client("elbv2").describe_target_health(TargetGroupArn=group_arn)
    return {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]}


def tags(sandbox: MotoSandbox, arn: str) -> dict[str, str]:
    described = sandbox.client("elbv2").describe_tags(ResourceArns=[arn])["TagDescriptions"][0]
    return {t["Key"]: t["Value"] for t in described["Tags"]}


def security_group(sandbox: MotoSandbox, group_id: str) -> dict[str, Any]:
    group: dict[str, Any] = sandbox.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    return group


def instance_ids(sandbox: MotoSandbox) -> set[str]:
    return {i.provider_id.rsplit("/", 1)[-1] for i in sandbox.instances}


def elbv2_is_empty(sandbox: MotoSandbox) -> bool:
    elbv2 = sandbox.client("elbv2")
    return not elbv2.describe_load_balancers()["LoadBalancers"] and not elbv2.describe_target_groups()["TargetGroups"]
