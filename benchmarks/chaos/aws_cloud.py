"""The chaos run's eyes on the AWS side: what load balancers exist and whose they are, read from moto directly.

These reads go to moto's own endpoint, not through the fault proxy: they are the
referee's, never faulted and never counted as the controller's. Ownership is read from
the tags cloudlb documents as its mark (``cloudlb.io/cluster``, ``cloudlb.io/managed-by``,
``kubernetes.io/service-name``): the run judges what the controller left in the cloud,
not how it did it.

It also plants the *foreign* resources before the controller starts: untagged or
otherwise-owned resources whose names look like the controller's, which it must never
modify or delete.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from cloudlb_aws.naming import service_hash

from cloudlb.model import ServiceRef
from cloudlb.sandbox_cloud import SandboxInstance

REGION = "us-east-1"
CLUSTER_TAG = "cloudlb.io/cluster"
MANAGED_BY_TAG = "cloudlb.io/managed-by"
SERVICE_TAG = "kubernetes.io/service-name"


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    kind: str  # "nlb" | "clb"
    internal: bool
    dns: str
    tags: dict[str, str]

    def owner(self, cluster: str) -> str | None:
        """``namespace/name`` of the Service this load balancer belongs to, by cloudlb's ownership tags."""
        if self.tags.get(CLUSTER_TAG) == cluster and self.tags.get(MANAGED_BY_TAG) == "cloudlb":
            return self.tags.get(SERVICE_TAG) or None
        return None


def _batches(items: Sequence[str], size: int = 20) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class AwsCloud:
    def __init__(self, endpoint: str, cluster: str) -> None:
        session = boto3.session.Session()
        kwargs: dict[str, Any] = {"endpoint_url": endpoint, "region_name": REGION,
                                  "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        self.elbv2: Any = session.client("elbv2", **kwargs)
        self.elb: Any = session.client("elb", **kwargs)
        self.ec2: Any = session.client("ec2", **kwargs)
        self.cluster = cluster
        self.foreign: dict[str, str] = {}  # what was planted: label -> identifier (name, ARN or group id)

    # --- load balancers ----------------------------------------------------------------------------

    def load_balancers(self) -> list[LoadBalancer]:
        found: list[LoadBalancer] = []
        nlbs = [lb for page in self.elbv2.get_paginator("describe_load_balancers").paginate()
                for lb in page["LoadBalancers"]]
        tags: dict[str, dict[str, str]] = {}
        for batch in _batches([lb["LoadBalancerArn"] for lb in nlbs]):
            for description in self.elbv2.describe_tags(ResourceArns=list(batch))["TagDescriptions"]:
                tags[description["ResourceArn"]] = {t["Key"]: t["Value"] for t in description.get("Tags", [])}
        found += [LoadBalancer(lb["LoadBalancerName"], "nlb", lb.get("Scheme") == "internal", lb.get("DNSName", ""),
                               tags.get(lb["LoadBalancerArn"], {})) for lb in nlbs]
        classics = self.elb.describe_load_balancers()["LoadBalancerDescriptions"]
        ctags: dict[str, dict[str, str]] = {}
        for batch in _batches([lb["LoadBalancerName"] for lb in classics]):
            for description in self.elb.describe_tags(LoadBalancerNames=list(batch))["TagDescriptions"]:
                ctags[description["LoadBalancerName"]] = {t["Key"]: t["Value"] for t in description.get("Tags", [])}
        found += [LoadBalancer(lb["LoadBalancerName"], "clb", lb.get("Scheme") == "internal", lb.get("DNSName", ""),
                               ctags.get(lb["LoadBalancerName"], {})) for lb in classics]
        return found

    def by_service(self) -> dict[str, list[LoadBalancer]]:
        owned: dict[str, list[LoadBalancer]] = {}
        for lb in self.load_balancers():
            owner = lb.owner(self.cluster)
            if owner is not None:
                owned.setdefault(owner, []).append(lb)
        return owned

    # --- foreign resources -------------------------------------------------------------------------

    def plant_foreign(self, instances: Sequence[SandboxInstance], services: Sequence[ServiceRef],
                      vpc_subnets: Sequence[str], node_group_id: str, vpc_id: str) -> None:
        """Resources the controller must never touch, with names close to its own (see the module docstring)."""
        first, second, third, fourth, fifth = services[:5]
        # 1. An untagged NLB named like the controller's (another hash), with a listener and a target group whose
        #    name starts with a real Service's target-group prefix (a scan by name would take it for a stray).
        nlb = self.elbv2.create_load_balancer(Name=f"cl-default-{first.name[:7]}-ffffffffffne", Type="network",
                                              Subnets=list(vpc_subnets), Scheme="internet-facing")
        nlb_arn = nlb["LoadBalancers"][0]["LoadBalancerArn"]
        group = self.elbv2.create_target_group(
            Name=f"cl-{service_hash(self.cluster, second)}-80t-f0f0f0", Protocol="TCP", Port=30080,
            VpcId=vpc_id, TargetType="instance")["TargetGroups"][0]
        targets = [{"Id": i.provider_id.rsplit("/", 1)[-1], "Port": 30080} for i in instances]
        self.elbv2.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=targets)
        self.elbv2.create_listener(LoadBalancerArn=nlb_arn, Protocol="TCP", Port=80, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}])
        # 2. An untagged Classic ELB with a name like the controller's.
        clb_name = f"cl-default-{third.name[:7]}-ffffffffffce"
        self.elb.create_load_balancer(LoadBalancerName=clb_name, Subnets=list(vpc_subnets), Listeners=[
            {"Protocol": "TCP", "LoadBalancerPort": 80, "InstanceProtocol": "TCP", "InstancePort": 30080}])
        # moto, like AWS, gives a Classic ELB created in a VPC without groups a "default_elb_..." group of its own.
        clb_groups = self.elb.describe_load_balancers(LoadBalancerNames=[clb_name])["LoadBalancerDescriptions"][0]
        clb_groups = clb_groups.get("SecurityGroups") or []
        # 3. An untagged security group named like the controller's, admitted by a rule on the node group.
        sg = self.ec2.create_security_group(GroupName=f"cloudlb-default-{fourth.name}-ffffffffff",
                                            Description="someone else's", VpcId=vpc_id)["GroupId"]
        self.ec2.authorize_security_group_ingress(GroupId=node_group_id, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 30000, "ToPort": 32767, "UserIdGroupPairs": [{"GroupId": sg}]}])
        # 4. An NLB of cloudlb in *another cluster*, for a Service of the same name.
        other = self.elbv2.create_load_balancer(
            Name=f"cl-default-{fifth.name[:7]}-eeeeeeeeeene", Type="network", Subnets=list(vpc_subnets),
            Tags=[{"Key": CLUSTER_TAG, "Value": "another-cluster"}, {"Key": MANAGED_BY_TAG, "Value": "cloudlb"},
                  {"Key": SERVICE_TAG, "Value": str(fifth)},
                  {"Key": "kubernetes.io/cluster/another-cluster", "Value": "owned"}])
        # 5. An NLB of the upstream in-tree controller of *this* cluster (its tags, not cloudlb's).
        upstream = self.elbv2.create_load_balancer(
            Name=f"a{service_hash(self.cluster, first)}upstream", Type="network", Subnets=list(vpc_subnets),
            Tags=[{"Key": f"kubernetes.io/cluster/{self.cluster}", "Value": "owned"},
                  {"Key": SERVICE_TAG, "Value": str(first)}])
        self.foreign = {
            "untagged NLB": nlb_arn, "untagged NLB name": nlb["LoadBalancers"][0]["LoadBalancerName"],
            "untagged target group": group["TargetGroupArn"], "untagged target group name": group["TargetGroupName"],
            "untagged Classic ELB": clb_name, "untagged security group": sg,
            **{f"untagged Classic ELB's group {n}": group_id for n, group_id in enumerate(clb_groups)},
            "other cluster's NLB": other["LoadBalancers"][0]["LoadBalancerArn"],
            "other cluster's NLB name": other["LoadBalancers"][0]["LoadBalancerName"],
            "upstream controller's NLB": upstream["LoadBalancers"][0]["LoadBalancerArn"],
            "upstream controller's NLB name": upstream["LoadBalancers"][0]["LoadBalancerName"],
        }
        self.node_group_id = node_group_id

    def foreign_snapshot(self) -> dict[str, str]:
        """Everything about the foreign resources that a write could change, as comparable text."""
        snapshot: dict[str, str] = {}
        for label in ("untagged NLB", "other cluster's NLB", "upstream controller's NLB"):
            arn = self.foreign[label]
            try:
                lb = self.elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
                listeners = self.elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]
                tags = self.elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0].get("Tags", [])
                attributes = self.elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
                snapshot[label] = json.dumps([lb.get("Scheme"), lb.get("SecurityGroups"), sorted(
                    (x["Port"], x["Protocol"], json.dumps(x["DefaultActions"], sort_keys=True)) for x in listeners),
                    sorted((t["Key"], t["Value"]) for t in tags),
                    sorted((a["Key"], a["Value"]) for a in attributes)], sort_keys=True, default=str)
            except self.elbv2.exceptions.LoadBalancerNotFoundException:
                snapshot[label] = "deleted"
        arn = self.foreign["untagged target group"]
        try:
            health = self.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            tags = self.elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0].get("Tags", [])
            snapshot["untagged target group"] = json.dumps(
                [sorted(d["Target"]["Id"] for d in health), sorted((t["Key"], t["Value"]) for t in tags)])
        except self.elbv2.exceptions.TargetGroupNotFoundException:
            snapshot["untagged target group"] = "deleted"
        try:
            clb = self.elb.describe_load_balancers(LoadBalancerNames=[self.foreign["untagged Classic ELB"]])
            description = clb["LoadBalancerDescriptions"][0]
            snapshot["untagged Classic ELB"] = json.dumps([
                sorted(json.dumps(x, sort_keys=True) for x in description.get("ListenerDescriptions", [])),
                description.get("SecurityGroups"), sorted(i["InstanceId"] for i in description.get("Instances", [])),
                description.get("HealthCheck")], sort_keys=True, default=str)
        except self.elb.exceptions.AccessPointNotFoundException:
            snapshot["untagged Classic ELB"] = "deleted"
        sg = self.foreign["untagged security group"]
        groups = self.ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroups"]
        snapshot["untagged security group"] = json.dumps(
            [json.dumps(g.get("IpPermissions"), sort_keys=True) + json.dumps(g.get("Tags"), sort_keys=True)
             for g in groups])
        node = self.ec2.describe_security_groups(GroupIds=[self.node_group_id])["SecurityGroups"][0]
        snapshot["rule admitting the untagged group on the node group"] = json.dumps(sorted(
            (p.get("FromPort"), p.get("ToPort")) for p in node.get("IpPermissions", [])
            for pair in p.get("UserIdGroupPairs", []) if pair.get("GroupId") == sg))
        return snapshot

    def foreign_identifiers(self) -> list[str]:
        return sorted(set(self.foreign.values()))

    def is_foreign_leftover(self, line: str) -> bool:
        """Whether a line of the sandbox's leftovers names a planted foreign resource (they are meant to stay)."""
        return any(identifier in line for identifier in self.foreign.values())
