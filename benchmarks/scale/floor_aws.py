"""The AWS floor: exactly the writes the AWS provider makes for a 2-port NLB, and nothing else.

Once per cluster (as ``cloudlb_aws`` creates it): the shared backend security group and the
node group's one rule admitting it. Per Service: the load balancer's own security group and
its ingress rule, the NLB (carrying both groups), two target groups, two listeners, one
RegisterTargets per target group: 9 writes. A node change is one Register/DeregisterTargets
per target group; a delete is DeleteLoadBalancer, two DeleteTargetGroup and the group
deleted, then once the node rule revoked and the backend group deleted.

The node group itself is made in the script's (uncounted) setup, as a cluster has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from cloudlb_aws.naming import (
    as_tag_list,
    backend_group_name,
    backend_group_tags,
    load_balancer_name,
    ownership_tags,
    security_group_name,
    target_group_name,
)
from cloudlb_aws.placement import instance_id
from cloudlb_aws.security import backend_rule_description

from benchmarks.scale.cloud import CloudProcess
from benchmarks.scale.cluster import EDITED_PORT, NAMESPACE, PORTS
from benchmarks.scale.floor import FLOOR_CLUSTER
from cloudlb.model import ServiceRef
from cloudlb.sandbox_cloud import SandboxInstance

# aws-load-balancer-controller's defaults for an NLB target group, as the provider sets them.
HEALTH_CHECK = {"HealthCheckEnabled": True, "HealthCheckProtocol": "TCP", "HealthCheckPort": "traffic-port",
                "HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 10, "HealthyThresholdCount": 3,
                "UnhealthyThresholdCount": 3}


@dataclass
class _NLB:
    """What the script made for one Service, as the answers to its writes told it."""

    ref: ServiceRef
    name: str
    node_ports: dict[int, int]
    security_group: str = ""
    arn: str = ""
    target_groups: dict[int, str] = field(default_factory=dict)  # by listener port
    listeners: dict[int, str] = field(default_factory=dict)


def _instance_ids(instances: list[SandboxInstance]) -> set[str]:
    return {iid for instance in instances if (iid := instance_id(instance.provider_id))}


def _open_to_all(port: int) -> list[Any]:
    return [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


class AWSFloor:
    def __init__(self, cloud: CloudProcess, services: list[str], nodes: list[SandboxInstance]) -> None:
        region = cloud.environment["AWS_REGION"]
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=region)
        self._ec2: Any = session.client("ec2", endpoint_url=cloud.doors["floor"])
        self._elbv2: Any = session.client("elbv2", endpoint_url=cloud.doors["floor"])
        self._setup: Any = session.client("ec2", endpoint_url=cloud.endpoint)  # not counted
        self._vpc = str(cloud.facts["vpc_id"])
        self._subnets = list(cloud.facts["subnets"])
        self._targets = _instance_ids(nodes)
        self._node_group = self._setup.create_security_group(
            GroupName=f"{FLOOR_CLUSTER}-nodes", Description="floor script nodes", VpcId=self._vpc)["GroupId"]
        self._backend = ""
        self._nlbs = [
            _NLB(ref, load_balancer_name(FLOOR_CLUSTER, ref, "nlb", internal=False),
                 {port: 30000 + 2 * index + offset for offset, (port, _) in enumerate(PORTS)})
            for index, ref in enumerate(ServiceRef(NAMESPACE, name) for name in services)
        ]

    def _tags(self, nlb: _NLB) -> list[Any]:
        return as_tag_list(ownership_tags(FLOOR_CLUSTER, nlb.ref))

    def _target_group(self, nlb: _NLB, port: int) -> str:
        name = target_group_name(FLOOR_CLUSTER, nlb.ref, load_balancer=nlb.name, listener_port=port, protocol="TCP",
                                 node_port=nlb.node_ports[port])
        created = self._elbv2.create_target_group(
            Name=name, Protocol="TCP", Port=nlb.node_ports[port], VpcId=self._vpc, TargetType="instance",
            Tags=self._tags(nlb), **HEALTH_CHECK)
        return str(created["TargetGroups"][0]["TargetGroupArn"])

    def _listener(self, nlb: _NLB, port: int) -> str:
        created = self._elbv2.create_listener(
            LoadBalancerArn=nlb.arn, Protocol="TCP", Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": nlb.target_groups[port]}])
        return str(created["Listeners"][0]["ListenerArn"])

    def _node_rule(self) -> list[Any]:
        """The rule admitting the backend group on the nodePort range; revoking repeats it as stored."""
        return [{"IpProtocol": "tcp", "FromPort": 30000, "ToPort": 32767, "UserIdGroupPairs": [
            {"GroupId": self._backend, "Description": backend_rule_description(FLOOR_CLUSTER)}]}]

    def _register(self, group: str, targets: set[str]) -> None:
        self._elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": t} for t in sorted(targets)])

    def create(self) -> None:
        self._backend = self._ec2.create_security_group(
            GroupName=backend_group_name(FLOOR_CLUSTER), VpcId=self._vpc,
            Description=f"cloudlb: every load balancer of cluster {FLOOR_CLUSTER}; the nodes admit it",
            TagSpecifications=[{"ResourceType": "security-group",
                                "Tags": as_tag_list(backend_group_tags(FLOOR_CLUSTER))}])["GroupId"]
        self._ec2.authorize_security_group_ingress(GroupId=self._node_group, IpPermissions=self._node_rule())
        for nlb in self._nlbs:
            group_tags = ownership_tags(FLOOR_CLUSTER, nlb.ref)
            nlb.security_group = self._ec2.create_security_group(
                GroupName=security_group_name(FLOOR_CLUSTER, nlb.ref), VpcId=self._vpc,
                Description=f"cloudlb: load balancer of Service {nlb.ref} in cluster {FLOOR_CLUSTER}",
                TagSpecifications=[{"ResourceType": "security-group", "Tags": as_tag_list(group_tags)}])["GroupId"]
            self._ec2.authorize_security_group_ingress(
                GroupId=nlb.security_group, IpPermissions=[r for port, _ in PORTS for r in _open_to_all(port)])
            nlb.arn = self._elbv2.create_load_balancer(
                Name=nlb.name, Type="network", IpAddressType="ipv4", Scheme="internet-facing",
                SecurityGroups=[nlb.security_group, self._backend], Subnets=self._subnets, Tags=self._tags(nlb),
            )["LoadBalancers"][0]["LoadBalancerArn"]
            for port, _ in PORTS:
                nlb.target_groups[port] = self._target_group(nlb, port)
                nlb.listeners[port] = self._listener(nlb, port)
            for group in nlb.target_groups.values():
                self._register(group, self._targets)

    def add_node(self, instance: SandboxInstance) -> None:
        added = _instance_ids([instance])
        for nlb in self._nlbs:
            for group in nlb.target_groups.values():
                self._register(group, added)
        self._targets |= added

    def remove_node(self, instance: SandboxInstance) -> None:
        removed = _instance_ids([instance])
        for nlb in self._nlbs:
            for group in nlb.target_groups.values():
                self._elbv2.deregister_targets(TargetGroupArn=group, Targets=[{"Id": t} for t in sorted(removed)])
        self._targets -= removed

    def edit_port(self, name: str) -> None:
        old, new = EDITED_PORT
        nlb = next(n for n in self._nlbs if n.ref.name == name)
        nlb.node_ports[new] = nlb.node_ports.pop(old)
        nlb.target_groups[new] = self._target_group(nlb, new)
        nlb.listeners[new] = self._listener(nlb, new)
        self._register(nlb.target_groups[new], self._targets)
        self._elbv2.delete_listener(ListenerArn=nlb.listeners.pop(old))
        self._elbv2.delete_target_group(TargetGroupArn=nlb.target_groups.pop(old))
        self._ec2.authorize_security_group_ingress(GroupId=nlb.security_group, IpPermissions=_open_to_all(new))
        self._ec2.revoke_security_group_ingress(GroupId=nlb.security_group, IpPermissions=_open_to_all(old))

    def delete_all(self) -> None:
        for nlb in self._nlbs:
            self._elbv2.delete_load_balancer(LoadBalancerArn=nlb.arn)
            for group in nlb.target_groups.values():
                self._elbv2.delete_target_group(TargetGroupArn=group)
            self._ec2.delete_security_group(GroupId=nlb.security_group)
        self._ec2.revoke_security_group_ingress(GroupId=self._node_group, IpPermissions=self._node_rule())
        self._ec2.delete_security_group(GroupId=self._backend)

    def close(self) -> None:
        self._setup.delete_security_group(GroupId=self._node_group)
