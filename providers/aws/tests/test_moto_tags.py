"""The sandbox's constant-time tag lookup answers exactly as moto's own scan does."""

from __future__ import annotations

from typing import Any

from cloudlb_aws import moto_tags
from cloudlb_aws.sandbox import MotoSandbox
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.tags import TagBackend


class Backend(TagBackend):
    pass


class Resource(TaggedEC2Resource):
    def __init__(self, backend: Backend, resource_id: str) -> None:
        self.ec2_backend = backend
        self.id = resource_id


def scanned(resource: Resource) -> list[dict[str, Any]]:
    """moto's own lookup: every tag of the account, filtered by resource id."""
    return resource.ec2_backend.describe_tags(filters={"resource-id": [resource.id]})


def test_the_direct_lookup_returns_what_the_scan_returns(sandbox: MotoSandbox) -> None:
    moto_tags.apply()  # done by the sandbox already; idempotent
    backend = Backend()
    backend.create_tags(["sg-0123456789abcdef0"], {"Name": "web", "cloudlb.io/cluster": "c"})
    backend.create_tags(["sg-0123456789abcdef01"], {"Name": "longer id, same prefix"})
    backend.create_tags(["i-0123456789abcdef0"], {"Name": "node"})
    for resource_id in ("sg-0123456789abcdef0", "sg-0123456789abcdef01", "i-0123456789abcdef0", "sg-untagged"):
        resource = Resource(backend, resource_id)
        assert sorted(resource.get_tags(), key=str) == sorted(scanned(resource), key=str)
    assert Resource(backend, "").get_tags() == []


def test_groups_listed_through_the_sandbox_carry_their_tags(sandbox: MotoSandbox) -> None:
    ec2 = sandbox.client("ec2")
    tags = [{"ResourceType": "security-group", "Tags": [{"Key": "Name", "Value": "tagged-one"}]}]
    group = ec2.create_security_group(GroupName="moto-tags-test", Description="d", VpcId=sandbox.vpc_id,
                                      TagSpecifications=tags)["GroupId"]
    try:
        [found] = ec2.describe_security_groups(Filters=[{"Name": "tag:Name", "Values": ["tagged-one"]}])[
            "SecurityGroups"]
        assert found["GroupId"] == group and found["Tags"] == [{"Key": "Name", "Value": "tagged-one"}]
    finally:
        ec2.delete_security_group(GroupId=group)
