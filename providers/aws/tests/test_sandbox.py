"""The emulated AWS behind ``cloudlb sandbox --provider aws``, and the plugin's entry point."""

from __future__ import annotations

from cloudlb_aws.placement import INTERNAL_ROLE_TAG, PUBLIC_ROLE_TAG
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import ZONES, MotoSandbox

from cloudlb.plugins import load_plugin
from cloudlb.provider import ProviderSettings

from .support import CLUSTER


def test_the_sandbox_seeds_tagged_subnets_in_two_zones_and_running_instances(sandbox: MotoSandbox) -> None:
    ec2 = sandbox.client("ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [sandbox.vpc_id]}])["Subnets"]
    by_role: dict[str, set[str]] = {PUBLIC_ROLE_TAG: set(), INTERNAL_ROLE_TAG: set()}
    for subnet in subnets:
        tags = {t["Key"]: t["Value"] for t in subnet.get("Tags", [])}
        assert f"kubernetes.io/cluster/{CLUSTER}" in tags
        for role, zones in by_role.items():
            if tags.get(role) == "1":
                zones.add(subnet["AvailabilityZone"])
    assert by_role == {PUBLIC_ROLE_TAG: set(ZONES), INTERNAL_ROLE_TAG: set(ZONES)}

    reservations = ec2.describe_instances()["Reservations"]
    running = {i["InstanceId"]: i for r in reservations for i in r["Instances"] if i["State"]["Name"] == "running"}
    assert len(sandbox.instances) == 3
    for instance in sandbox.instances:
        zone, instance_id = instance.provider_id.removeprefix("aws:///").split("/")
        assert zone == instance.zone and instance_id in running
        assert running[instance_id]["PrivateIpAddress"] == instance.internal_ip
    assert set(sandbox.environment) >= {"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert sandbox.environment["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_leftovers_list_every_load_balancing_resource_and_only_those(
        sandbox: MotoSandbox, provider: AWSProvider) -> None:
    assert sandbox.leftovers() == []
    elbv2 = sandbox.client("elbv2")
    group = elbv2.create_target_group(Name="stray", Protocol="TCP", Port=30000, VpcId=sandbox.vpc_id)
    arn = group["TargetGroups"][0]["TargetGroupArn"]
    assert sandbox.leftovers() == ["target group stray"]
    elbv2.delete_target_group(TargetGroupArn=arn)
    assert sandbox.leftovers() == []


def test_the_plugin_is_found_through_its_entry_point_with_its_option_and_sandbox() -> None:
    plugin = load_plugin("aws")
    assert plugin.name == "aws" and plugin.sandbox is not None
    assert [(o.name, o.default) for o in plugin.options] == [("aws-default-type", "nlb")]
    assert {o.name for o in plugin.capabilities.offerings} == {"nlb", "clb", "nlb-ip"}
    assert isinstance(plugin.create(ProviderSettings(CLUSTER, {})), AWSProvider)


def test_the_plugins_sandbox_hook_starts_and_stops_an_emulated_cloud(sandbox: MotoSandbox) -> None:
    # (Runs after the module's sandbox exists; a second one resets the shared moto state, so it
    # only checks what the hook returns and that closing twice is harmless.)
    plugin = load_plugin("aws")
    assert plugin.sandbox is not None
    cloud = plugin.sandbox(nodes=1, cluster_name="hook")
    assert isinstance(cloud, MotoSandbox)
    try:
        assert len(cloud.instances) == 1
        assert cloud.leftovers() == []
    finally:
        cloud.close()
        cloud.close()
