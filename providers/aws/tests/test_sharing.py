"""Services sharing one NLB (``cloudlb.io/share-key``, issue 13), against moto: one load balancer, a listener
and a target group per member port, members recorded on their target groups, removed member by member."""

from __future__ import annotations

import dataclasses

from cloudlb_aws.naming import key_ref, load_balancer_name
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.model import DesiredLoadBalancer, LoadBalancerKey, ServiceRef

from . import support as state
from .support import CLUSTER, SpecFactory, new_provider

SHOP = LoadBalancerKey("default", "shop", shared=True)


def test_two_services_share_one_nlb_and_leave_it_one_by_one(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    web = make_spec("web", [(80, "TCP", 30080), (443, "TCP", 30443)])
    api = make_spec("api", [(8080, "TCP", 30808)])
    statuses = provider.ensure(DesiredLoadBalancer(SHOP, (web, api)))

    name = load_balancer_name(CLUSTER, key_ref(SHOP), "nlb", False)
    lb = state.load_balancer(sandbox, name)
    assert lb is not None
    assert [len(sandbox.client("elbv2").describe_load_balancers()["LoadBalancers"])] == [1]
    assert statuses[web.service].ingress == statuses[api.service].ingress
    assert statuses[web.service].ingress[0].hostname == lb["DNSName"]
    assert sorted(state.listeners(sandbox, lb["LoadBalancerArn"])) == [80, 443, 8080]
    members = sorted(state.tags(sandbox, arn)["kubernetes.io/service-name"]
                     for arn in state.target_groups(sandbox, lb["LoadBalancerArn"]))
    assert members == ["default/api", "default/web", "default/web"]
    assert state.tags(sandbox, lb["LoadBalancerArn"])["cloudlb.io/load-balancer"] == "default/shop"

    # A restarted controller rebuilds the group from AWS alone.
    assert new_provider().sweep().owned == {SHOP: frozenset({web.service, api.service})}

    # api leaves: only its listener and target group go.
    provider.ensure(DesiredLoadBalancer(SHOP, (web,)))
    assert sorted(state.listeners(sandbox, lb["LoadBalancerArn"])) == [80, 443]
    assert len(state.target_groups(sandbox, lb["LoadBalancerArn"])) == 2
    assert state.load_balancer(sandbox, name) is not None
    assert provider.sweep().owned == {SHOP: frozenset({web.service})}

    # The last member leaves: the load balancer goes, and with it everything of the cluster.
    provider.delete(SHOP)
    assert sandbox.leftovers() == []


def test_a_service_of_the_same_name_as_a_share_key_keeps_its_own_load_balancer(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    shop = make_spec("shop")
    member = dataclasses.replace(make_spec("web"), service=ServiceRef("default", "web"))
    provider.ensure_service(shop)
    provider.ensure(DesiredLoadBalancer(SHOP, (member,)))

    assert len(sandbox.client("elbv2").describe_load_balancers()["LoadBalancers"]) == 2
    assert new_provider().sweep().owned == {LoadBalancerKey("default", "shop"): frozenset({shop.service}),
                                            SHOP: frozenset({member.service})}
    provider.delete(SHOP)
    provider.delete_service(shop.service)
    assert sandbox.leftovers() == []
