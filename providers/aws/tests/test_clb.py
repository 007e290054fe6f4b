"""Classic ELBs against moto over HTTP: built when asked for, converged, removed."""

from __future__ import annotations

from typing import Any

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.naming import load_balancer_name
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.model import DesiredLoadBalancer, HealthCheck, ServiceRef
from cloudlb.provider import NotOwnedError, ProviderSettings

from . import support as state
from .support import CLUSTER, SpecFactory, backends_of, delete_and_expect_nothing_left

CLB = {a.TYPE: "clb"}


def clb_name(service: str, internal: bool = False) -> str:
    return load_balancer_name(CLUSTER, ServiceRef("default", service), "clb", internal)


def classic(sandbox: MotoSandbox, name: str) -> dict[str, Any] | None:
    found = [lb for lb in sandbox.client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
             if lb["LoadBalancerName"] == name]
    return found[0] if found else None


def listeners(lb: dict[str, Any]) -> set[tuple[str, int, int]]:
    return {(d["Listener"]["Protocol"], d["Listener"]["LoadBalancerPort"], d["Listener"]["InstancePort"])
            for d in lb["ListenerDescriptions"]}


def test_the_type_annotation_gets_a_classic_elb_with_tcp_listeners_instances_and_health_check(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    status = provider.ensure_service(make_spec("legacy", [(80, "TCP", 30080), (443, "TCP", 30443)], annotations=CLB))

    lb = classic(sandbox, clb_name("legacy"))
    assert lb is not None
    assert status.ingress[0].hostname == lb["DNSName"]
    assert listeners(lb) == {("TCP", 80, 30080), ("TCP", 443, 30443)}
    assert {i["InstanceId"] for i in lb["Instances"]} == state.instance_ids(sandbox)
    assert lb["HealthCheck"]["Target"] == "TCP:30080"
    tags = sandbox.client("elb").describe_tags(LoadBalancerNames=[clb_name("legacy")])["TagDescriptions"][0]
    assert {t["Key"]: t["Value"] for t in tags["Tags"]}["kubernetes.io/service-name"] == "default/legacy"
    assert state.elbv2_is_empty(sandbox)

    delete_and_expect_nothing_left(provider, sandbox, "legacy")


def test_the_default_type_option_clb_applies_to_services_without_the_annotation(
        sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider = AWSProvider(ProviderSettings(CLUSTER, {"aws-default-type": "clb"}))
    provider.ensure_service(make_spec("bydefault"))

    assert classic(sandbox, clb_name("bydefault")) is not None
    delete_and_expect_nothing_left(provider, sandbox, "bydefault")


def test_listeners_instances_and_health_check_converge_in_place(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("evolving", [(80, "TCP", 30080), (443, "TCP", 30443)], annotations=CLB,
                              backends=backends_of(sandbox, 1)))
    certificate = sandbox.client("acm").request_certificate(DomainName="legacy.example.com")["CertificateArn"]

    provider.ensure_service(make_spec("evolving", [(80, "TCP", 30080), (8443, "TCP", 30443)],
                              annotations={**CLB, a.SSL_CERT: certificate, a.SSL_PORTS: "8443"},
                              health_check=HealthCheck(port=32000, local=True)))

    lb = classic(sandbox, clb_name("evolving"))
    assert lb is not None
    assert listeners(lb) == {("TCP", 80, 30080), ("SSL", 8443, 30443)}
    assert {i["InstanceId"] for i in lb["Instances"]} == state.instance_ids(sandbox)
    assert lb["HealthCheck"]["Target"] == "HTTP:32000/healthz"

    delete_and_expect_nothing_left(provider, sandbox, "evolving")
    sandbox.client("acm").delete_certificate(CertificateArn=certificate)


def test_removed_nodes_are_deregistered_and_subnets_and_tags_follow_the_annotations(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    first, second = (sandbox.public_subnets[zone] for zone in sorted(sandbox.public_subnets))
    provider.ensure_service(make_spec("shrink", annotations={**CLB, a.SUBNETS: first}))

    remaining = backends_of(sandbox)[1:]
    provider.ensure_service(make_spec("shrink", backends=remaining,
                                      annotations={**CLB, a.SUBNETS: second, a.ADDITIONAL_RESOURCE_TAGS: "env=prod"}))

    lb = classic(sandbox, clb_name("shrink"))
    assert lb is not None
    assert {i["InstanceId"] for i in lb["Instances"]} == {b.provider_id.rsplit("/", 1)[-1] for b in remaining}
    assert lb["Subnets"] == [second]
    described = sandbox.client("elb").describe_tags(LoadBalancerNames=[clb_name("shrink")])["TagDescriptions"][0]
    assert {t["Key"]: t["Value"] for t in described["Tags"]}["env"] == "prod"
    delete_and_expect_nothing_left(provider, sandbox, "shrink")


def test_switching_from_nlb_to_clb_replaces_the_load_balancer_after_the_status_moved(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("switch"))
    desired = DesiredLoadBalancer.single(make_spec("switch", annotations=CLB))
    plan = provider.plan(desired.key, desired, provider.observe([desired.key])[desired.key])
    status = provider.apply(plan)[desired.first.service]
    assert state.load_balancer(sandbox, state.nlb_name("switch"))  # until the status names the new one

    provider.retire(plan)

    assert state.elbv2_is_empty(sandbox)
    found = classic(sandbox, clb_name("switch"))
    assert found is not None and status.ingress[0].hostname == found["DNSName"]
    assert classic(sandbox, clb_name("switch")) is not None
    delete_and_expect_nothing_left(provider, sandbox, "switch")


def test_a_foreign_classic_elb_with_our_name_is_left_alone(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    elb = sandbox.client("elb")
    elb.create_load_balancer(LoadBalancerName=clb_name("theirs"), Subnets=list(sandbox.public_subnets.values()),
                             SecurityGroups=[sandbox.node_group_id],
                             Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 22, "InstancePort": 22}])
    try:
        with pytest.raises(NotOwnedError, match=clb_name("theirs")):
            provider.ensure_service(make_spec("theirs", annotations=CLB))
        provider.delete_service(ServiceRef("default", "theirs"))
        lb = classic(sandbox, clb_name("theirs"))
        assert lb is not None and listeners(lb) == {("TCP", 22, 22)}
    finally:
        elb.delete_load_balancer(LoadBalancerName=clb_name("theirs"))
    assert sandbox.leftovers() == []
