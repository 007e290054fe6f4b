"""``list_owned`` finds everything tagged for this cluster, and ``delete`` collects orphans of any shape."""

from __future__ import annotations

from cloudlb_aws import annotations as a
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.model import ServiceRef

from . import support as state
from .support import SpecFactory, new_provider, nlb_name


def test_list_owned_names_every_service_of_this_cluster_and_nothing_else(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("one"))
    provider.ensure_service(make_spec("two", annotations={a.TYPE: "clb"}, namespace="shop"))
    other_cluster = new_provider("elsewhere")
    # Subnets are tagged for this cluster only; the other cluster names them explicitly.
    other_cluster.ensure_service(make_spec("three", annotations={a.SUBNETS: ",".join(sandbox.public_subnets.values())}))
    foreign = sandbox.client("elbv2").create_load_balancer(
        Name="cl-looks-like-ours", Type="network", Subnets=list(sandbox.public_subnets.values()),
        Tags=[{"Key": "kubernetes.io/service-name", "Value": "default/ghost"}])["LoadBalancers"][0]

    assert provider.owned_services() == [ServiceRef("default", "one"), ServiceRef("shop", "two")]
    assert other_cluster.owned_services() == [ServiceRef("default", "three")]

    sandbox.client("elbv2").delete_load_balancer(LoadBalancerArn=foreign["LoadBalancerArn"])
    for service in provider.owned_services():
        provider.delete_service(service)
    other_cluster.delete_service(ServiceRef("default", "three"))
    assert sandbox.leftovers() == []
    assert provider.owned_services() == []


def test_an_orphan_left_without_its_load_balancer_or_group_is_still_found_and_collected(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("orphan", [(80, "TCP", 30080), (53, "UDP", 30053)]))
    lb = state.load_balancer(sandbox, nlb_name("orphan"))
    assert lb is not None
    # Someone deleted the load balancer and its security group by hand: only target groups remain.
    sandbox.client("elbv2").delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    node_group = state.security_group(sandbox, sandbox.node_group_id)
    sandbox.client("ec2").revoke_security_group_ingress(GroupId=sandbox.node_group_id,
                                                        IpPermissions=node_group["IpPermissions"])
    for group_id in lb["SecurityGroups"]:  # its own group and the cluster's backend group
        sandbox.client("ec2").delete_security_group(GroupId=group_id)
    assert [item.split(" ")[0] for item in sandbox.leftovers()] == ["target", "target"]

    restarted = new_provider()
    assert restarted.owned_services() == [ServiceRef("default", "orphan")]
    restarted.delete_service(ServiceRef("default", "orphan"))

    assert sandbox.leftovers() == []


def test_delete_of_a_service_that_has_nothing_is_a_no_op(provider: AWSProvider, sandbox: MotoSandbox) -> None:
    provider.delete_service(ServiceRef("default", "never-existed"))
    provider.delete_service(ServiceRef("default", "never-existed"))
    assert sandbox.leftovers() == []


def test_delete_finds_the_load_balancer_even_when_the_groups_record_of_it_was_removed(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("untagged"))
    lb = state.load_balancer(sandbox, nlb_name("untagged"))
    assert lb is not None
    sandbox.client("ec2").delete_tags(Resources=[lb["SecurityGroups"][0]], Tags=[{"Key": "cloudlb.io/load-balancers"}])

    new_provider().delete_service(ServiceRef("default", "untagged"))

    assert sandbox.leftovers() == []
