"""An emulated AWS for ``cloudlb sandbox --provider aws`` and for tests: moto's HTTP server on 127.0.0.1.

It seeds what a real cluster's account would have: a VPC, public subnets tagged
``kubernetes.io/role/elb`` and private ones tagged ``kubernetes.io/role/internal-elb``
in two zones (all with the cluster tag), a node security group, and running
instances whose ids become the Nodes' ``aws:///zone/i-…`` provider ids.

moto keeps its state per process, not per server: starting a sandbox resets
it, so run one sandbox per process at a time.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import boto3

from cloudlb.sandbox_cloud import SandboxCloud, SandboxInstance
from cloudlb_aws import moto_tags
from cloudlb_aws.naming import CLUSTER_TAG_PREFIX
from cloudlb_aws.placement import INTERNAL_ROLE_TAG, PUBLIC_ROLE_TAG

REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b")
# moto accepts any image id; this is one of its built-in Amazon Linux images.
IMAGE_ID = "ami-12c6146b"
NODE_GROUP_NAME = "cloudlb-sandbox-nodes"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class MotoSandbox(SandboxCloud):
    def __init__(self, nodes: int, cluster_name: str) -> None:
        # Imported here: moto is the optional `sandbox` extra, and the provider itself never needs it.
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        moto_tags.apply()
        self.cluster_name = cluster_name
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        self._closed = False
        self._lock = threading.Lock()
        self._session = boto3.session.Session()
        self._clients: dict[str, Any] = {}
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10)
        self.environment: Mapping[str, str] = {
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            **DUMMY_CREDENTIALS,
        }
        self.options: Mapping[str, str] = {"aws-default-type": "nlb"}
        self.instances: Sequence[SandboxInstance] = ()
        self._seed()
        self.instances = tuple(self.add_instances(nodes))

    def client(self, service: str) -> Any:
        """A boto3 client of this emulated cloud, separate from the provider's (its calls are not counted)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint, region_name=REGION,
                    aws_access_key_id="testing", aws_secret_access_key="testing")
            return self._clients[service]

    def _seed(self) -> None:
        ec2 = self.client("ec2")
        cluster_tag = {"Key": CLUSTER_TAG_PREFIX + self.cluster_name, "Value": "shared"}
        self.vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [cluster_tag]}])["Vpc"]["VpcId"]
        self.public_subnets: dict[str, str] = {}
        self.private_subnets: dict[str, str] = {}
        for index, zone in enumerate(ZONES):
            for public, cidr, role in ((True, f"10.0.{index}.0/24", PUBLIC_ROLE_TAG),
                                       (False, f"10.0.{100 + index}.0/24", INTERNAL_ROLE_TAG)):
                name = f"{'public' if public else 'private'}-{zone}"
                subnet = ec2.create_subnet(VpcId=self.vpc_id, CidrBlock=cidr, AvailabilityZone=zone,
                                           TagSpecifications=[{"ResourceType": "subnet", "Tags": [
                                               cluster_tag, {"Key": role, "Value": "1"},
                                               {"Key": "Name", "Value": name}]}])["Subnet"]["SubnetId"]
                (self.public_subnets if public else self.private_subnets)[zone] = subnet
        self.node_group_id = ec2.create_security_group(
            GroupName=NODE_GROUP_NAME, Description="cloudlb sandbox nodes", VpcId=self.vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": [
                {"Key": CLUSTER_TAG_PREFIX + self.cluster_name, "Value": "owned"}]}])["GroupId"]

    def add_instances(self, count: int) -> list[SandboxInstance]:
        """Start ``count`` more running instances, spread over the zones."""
        ec2 = self.client("ec2")
        added: list[SandboxInstance] = []
        with self._lock:
            start = len(self.instances)
            for index in range(start, start + count):
                zone = ZONES[index % len(ZONES)]
                instance = ec2.run_instances(ImageId=IMAGE_ID, MinCount=1, MaxCount=1, InstanceType="t3.medium",
                                             SubnetId=self.private_subnets[zone],
                                             SecurityGroupIds=[self.node_group_id])["Instances"][0]
                added.append(SandboxInstance(name=f"node-{index}", provider_id=f"aws:///{zone}/{instance['InstanceId']}",
                                             zone=zone, internal_ip=instance["PrivateIpAddress"]))
            self.instances = (*self.instances, *added)
        return added

    def allocate_addresses(self, count: int) -> list[tuple[str, str]]:
        """Elastic IPs for tests and demos, as (allocation id, public address)."""
        ec2 = self.client("ec2")
        found = [ec2.allocate_address(Domain="vpc") for _ in range(count)]
        return [(str(a["AllocationId"]), str(a["PublicIp"])) for a in found]

    def leftovers(self) -> Sequence[str]:
        elbv2, elb, ec2 = self.client("elbv2"), self.client("elb"), self.client("ec2")

        def every(client: Any, operation: str, field: str) -> list[dict[str, Any]]:
            # Every page: a first page alone would hide what lies beyond it (moto pages load balancers by 50).
            return [item for page in client.get_paginator(operation).paginate() for item in page[field]]

        found = [f"load balancer {lb['LoadBalancerName']}"
                 for lb in every(elbv2, "describe_load_balancers", "LoadBalancers")]
        found += [f"target group {g['TargetGroupName']}"
                  for g in every(elbv2, "describe_target_groups", "TargetGroups")]
        found += [f"classic load balancer {lb['LoadBalancerName']}"
                  for lb in every(elb, "describe_load_balancers", "LoadBalancerDescriptions")]
        found += [f"security group {g['GroupId']} ({g['GroupName']})"
                  for g in every(ec2, "describe_security_groups", "SecurityGroups")
                  if g["GroupName"] not in ("default", NODE_GROUP_NAME)]
        for group in ec2.describe_security_groups(GroupIds=[self.node_group_id])["SecurityGroups"]:
            found += [f"rule on {NODE_GROUP_NAME} from {pair['GroupId']}"
                      for permission in group.get("IpPermissions", [])
                      for pair in permission.get("UserIdGroupPairs", [])]
        return sorted(found)

    def __enter__(self) -> MotoSandbox:
        return self

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.stop()

