"""The 60-rule quota of a security group no longer caps the cluster, and older load balancers move over.

moto enforces AWS's default of 60 inbound rules per VPC security group
(``RulesPerSecurityGroupLimitExceeded``), checked here first so the tests
cannot pass against an emulator that would accept more.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import botocore.exceptions
import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.naming import (
    LOAD_BALANCERS_TAG,
    as_tag_list,
    backend_group_name,
    load_balancer_name,
    ownership_tags,
    security_group_name,
    target_group_name,
)
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb.provider import CloudStateError

from . import support as state
from .support import CLUSTER, SpecFactory, instance_ids, new_provider, writes

pytestmark = pytest.mark.timeout(300)
SERVICES = 100


def node_group_rules(sandbox: MotoSandbox) -> list[tuple[str, int, int, str]]:
    nodes = state.security_group(sandbox, sandbox.node_group_id)
    return sorted([(p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1), pair["GroupId"])
                   for p in nodes["IpPermissions"] for pair in p["UserIdGroupPairs"]]
                  + [(p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1), r["CidrIp"])
                     for p in nodes["IpPermissions"] for r in p.get("IpRanges", [])])


def fill_node_group(sandbox: MotoSandbox, count: int) -> list[Any]:
    permissions = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                    "IpRanges": [{"CidrIp": f"10.{200 + n // 250}.{n % 250}.0/24"} for n in range(count)]}]
    sandbox.client("ec2").authorize_security_group_ingress(GroupId=sandbox.node_group_id, IpPermissions=permissions)
    return permissions


def test_moto_enforces_60_rules_per_security_group(sandbox: MotoSandbox) -> None:
    permissions = fill_node_group(sandbox, 60)
    try:
        with pytest.raises(botocore.exceptions.ClientError, match="RulesPerSecurityGroupLimitExceeded"):
            fill_node_group(sandbox, 1)
    finally:
        sandbox.client("ec2").revoke_security_group_ingress(GroupId=sandbox.node_group_id, IpPermissions=permissions)


def test_a_full_node_group_is_refused_before_anything_is_created_and_served_once_there_is_room(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    permissions = fill_node_group(sandbox, 60)
    try:
        with pytest.raises(CloudStateError, match="quota"):
            provider.ensure_service(make_spec("crowded"))
        assert sandbox.leftovers() == []  # no load balancer left running without a status naming it
    finally:
        sandbox.client("ec2").revoke_security_group_ingress(GroupId=sandbox.node_group_id, IpPermissions=permissions)
    provider.sweep()  # the controller's next sweep sees the room made (the error is retried on a slow schedule)
    assert provider.ensure_service(make_spec("crowded")).ingress
    provider.delete_service(ServiceRef("default", "crowded"))
    assert sandbox.leftovers() == []


def test_a_hundred_nlbs_are_all_served_and_the_node_group_keeps_one_rule(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    names = [f"svc{index:03d}" for index in range(SERVICES)]
    rule_counts = []
    for index, name in enumerate(names):
        status = provider.ensure_service(make_spec(name, [(80, "TCP", 30000 + index)]))
        assert status.ingress and status.ingress[0].hostname
        rule_counts.append(len(node_group_rules(sandbox)))

    found = [lb for page in sandbox.client("elbv2").get_paginator("describe_load_balancers").paginate()
             for lb in page["LoadBalancers"]]
    assert len(found) == SERVICES
    assert set(rule_counts) == {1}, "node-group rules must not grow with the number of Services"
    backend = {g["GroupName"]: g["GroupId"] for g in sandbox.client("ec2").describe_security_groups()[
        "SecurityGroups"]}[backend_group_name(CLUSTER)]
    assert node_group_rules(sandbox) == [("tcp", 30000, 32767, backend)]
    assert all(backend in lb["SecurityGroups"] for lb in found)

    for name in names:
        provider.delete_service(ServiceRef("default", name))
    assert sandbox.leftovers() == []


def _old_style_nlb(sandbox: MotoSandbox, service: ServiceRef) -> str:
    """What the provider built before the shared backend group: one group per Service, one node rule per group."""
    ec2, elbv2 = sandbox.client("ec2"), sandbox.client("elbv2")
    name = load_balancer_name(CLUSTER, service, "nlb", False)
    tags = ownership_tags(CLUSTER, service)
    group = ec2.create_security_group(
        GroupName=security_group_name(CLUSTER, service), VpcId=sandbox.vpc_id, Description="old style",
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": as_tag_list({**tags, LOAD_BALANCERS_TAG: name})}])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    arn = elbv2.create_load_balancer(Name=name, Type="network", Scheme="internet-facing", SecurityGroups=[group],
                                     Subnets=list(sandbox.public_subnets.values()),
                                     Tags=as_tag_list(tags))["LoadBalancers"][0]["LoadBalancerArn"]
    target_group = elbv2.create_target_group(
        Name=target_group_name(CLUSTER, service, load_balancer=name, listener_port=80, protocol="TCP", node_port=30080),
        Protocol="TCP", Port=30080, VpcId=sandbox.vpc_id, TargetType="instance", HealthCheckEnabled=True,
        HealthCheckProtocol="TCP", HealthCheckPort="traffic-port", HealthCheckIntervalSeconds=10,
        HealthCheckTimeoutSeconds=10, HealthyThresholdCount=3, UnhealthyThresholdCount=3,
        Tags=as_tag_list(tags))["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=arn, Protocol="TCP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}])
    elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": i} for i in sorted(instance_ids(sandbox))])
    ec2.authorize_security_group_ingress(GroupId=sandbox.node_group_id, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group, "Description": f"cloudlb {CLUSTER} {service}"}]}])
    return str(group)


def _old_style_clb(sandbox: MotoSandbox, service: ServiceRef) -> str:
    ec2, elb = sandbox.client("ec2"), sandbox.client("elb")
    name = load_balancer_name(CLUSTER, service, "clb", False)
    tags = ownership_tags(CLUSTER, service)
    group = ec2.create_security_group(
        GroupName=security_group_name(CLUSTER, service), VpcId=sandbox.vpc_id, Description="old style",
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": as_tag_list({**tags, LOAD_BALANCERS_TAG: name})}])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    elb.create_load_balancer(LoadBalancerName=name, Listeners=[
        {"Protocol": "TCP", "LoadBalancerPort": 80, "InstanceProtocol": "TCP", "InstancePort": 30080}],
        Subnets=list(sandbox.public_subnets.values()), SecurityGroups=[group], Tags=as_tag_list(tags))
    elb.configure_health_check(LoadBalancerName=name, HealthCheck={
        "Target": "TCP:30080", "Interval": 10, "Timeout": 5, "HealthyThreshold": 2, "UnhealthyThreshold": 6})
    elb.register_instances_with_load_balancer(LoadBalancerName=name,
                                              Instances=[{"InstanceId": i} for i in sorted(instance_ids(sandbox))])
    ec2.authorize_security_group_ingress(GroupId=sandbox.node_group_id, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group, "Description": f"cloudlb {CLUSTER} {service}"}]}])
    return str(group)


def test_load_balancers_of_the_per_service_group_era_move_to_the_backend_group_without_a_gap(
        sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    nlb_service, clb_service = ServiceRef("default", "oldnlb"), ServiceRef("default", "oldclb")
    nlb_group, clb_group = _old_style_nlb(sandbox, nlb_service), _old_style_clb(sandbox, clb_service)
    assert [rule[3] for rule in node_group_rules(sandbox)] == sorted([nlb_group, clb_group])

    provider = new_provider()  # a controller of the new version starting on the old state
    provider.sweep()
    before = provider.calls.snapshot()
    provider.ensure_service(make_spec("oldnlb"))
    migrated = provider.calls.snapshot() - before
    # The backend group and its node rule first, then the load balancer carries it, then the old rule goes.
    assert writes(migrated) == {"ec2:CreateSecurityGroup": 1, "ec2:AuthorizeSecurityGroupIngress": 1,
                                "elasticloadbalancing:SetSecurityGroups": 1, "ec2:RevokeSecurityGroupIngress": 1}
    assert sorted(m.split(":")[1] for m in migrated if "Describe" not in m) == [
        "AuthorizeSecurityGroupIngress", "CreateSecurityGroup", "RevokeSecurityGroupIngress", "SetSecurityGroups"]
    before = provider.calls.snapshot()
    provider.ensure_service(make_spec("oldclb", annotations={a.TYPE: "clb"}))
    assert writes(provider.calls.snapshot() - before) == {
        "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer": 1, "ec2:RevokeSecurityGroupIngress": 1}

    backend = {g["GroupName"]: g["GroupId"] for g in sandbox.client("ec2").describe_security_groups()[
        "SecurityGroups"]}[backend_group_name(CLUSTER)]
    assert node_group_rules(sandbox) == [("tcp", 30000, 32767, backend)]
    lb = state.load_balancer(sandbox, load_balancer_name(CLUSTER, nlb_service, "nlb", False))
    assert lb is not None and sorted(lb["SecurityGroups"]) == sorted([nlb_group, backend])
    classic = sandbox.client("elb").describe_load_balancers()["LoadBalancerDescriptions"][0]
    assert sorted(classic["SecurityGroups"]) == sorted([clb_group, backend])
    assert Counter(provider.calls.snapshot())["elasticloadbalancing:CreateLoadBalancer"] == 0

    provider.delete_service(nlb_service)
    provider.delete_service(clb_service)
    assert sandbox.leftovers() == []


def test_the_backend_group_goes_with_the_last_load_balancer_even_when_removals_were_planned_at_once(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    for name in ("first", "second"):
        provider.ensure_service(make_spec(name))
    keys = [LoadBalancerKey("default", name) for name in ("first", "second")]
    # Two workers plan at once: each sees the other's load balancer, so neither plans the backend group's removal.
    plans = [provider.plan(key, None, provider.observe([key])[key]) for key in keys]
    assert not any(c.payload.op == "delete_backend" for p in plans for c in p.changes)

    for plan in plans:
        provider.apply(plan)

    assert sandbox.leftovers() == []
