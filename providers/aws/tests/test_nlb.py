"""The provider against moto over HTTP: Network Load Balancers built, converged and removed."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.naming import backend_group_name, security_group_name
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.changes import run_changes
from cloudlb.model import Backend, DesiredLoadBalancer, HealthCheck, LoadBalancerKey, PortKey, Protocol, ServiceRef
from cloudlb.provider import NotOwnedError, PermanentError

from . import support as state
from .support import CLUSTER, SpecFactory, backends_of, delete_and_expect_nothing_left, new_provider, nlb_name


def test_two_port_tcp_service_gets_listeners_target_groups_targets_tags_and_hostname(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    status = provider.ensure_service(make_spec("web", [(80, "TCP", 30080), (443, "TCP", 30443)],
                                       annotations={a.ADDITIONAL_RESOURCE_TAGS: "team=payments"}))

    lb = state.load_balancer(sandbox, nlb_name("web"))
    assert lb is not None and lb["Type"] == "network" and lb["Scheme"] == "internet-facing"
    assert [i.hostname for i in status.ingress] == [lb["DNSName"]]
    found = state.listeners(sandbox, lb["LoadBalancerArn"])
    assert {port: item["Protocol"] for port, item in found.items()} == {80: "TCP", 443: "TCP"}
    groups = state.target_groups(sandbox, lb["LoadBalancerArn"])
    assert sorted((g["Protocol"], g["Port"], g["TargetType"]) for g in groups.values()) == [
        ("TCP", 30080, "instance"), ("TCP", 30443, "instance")]
    for port, listener in found.items():
        group = groups[listener["DefaultActions"][0]["TargetGroupArn"]]
        assert group["Port"] == {80: 30080, 443: 30443}[port]
        assert (group["HealthCheckProtocol"], group["HealthCheckPort"]) == ("TCP", "traffic-port")
        assert state.targets(sandbox, group["TargetGroupArn"]) == state.instance_ids(sandbox)
    for arn in [lb["LoadBalancerArn"], *groups]:
        tags = state.tags(sandbox, arn)
        assert tags[f"kubernetes.io/cluster/{CLUSTER}"] == "owned"
        assert tags["kubernetes.io/service-name"] == "default/web"
        assert tags["team"] == "payments"
    assert len(lb["LoadBalancerName"]) <= 32

    delete_and_expect_nothing_left(provider, sandbox, "web")


def test_tcp_and_udp_on_one_port_become_one_tcp_udp_listener(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("dns", [(53, "TCP", 30053), (53, "UDP", 30053)]))

    lb = state.load_balancer(sandbox, nlb_name("dns"))
    assert lb is not None
    assert state.listener_protocols(sandbox, lb["LoadBalancerArn"]) == {53: "TCP_UDP"}
    (group,) = state.target_groups(sandbox, lb["LoadBalancerArn"]).values()
    assert (group["Protocol"], group["Port"]) == ("TCP_UDP", 30053)
    # A UDP nodePort cannot answer a TCP probe: the group asks kube-proxy's health port instead.
    assert (group["HealthCheckProtocol"], group["HealthCheckPort"], group["HealthCheckPath"]) == (
        "HTTP", "10256", "/healthz")

    delete_and_expect_nothing_left(provider, sandbox, "dns")


def test_mixed_tcp_and_udp_ports_each_get_their_own_listener(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("mixed", [(80, "TCP", 30080), (5353, "UDP", 31353)]))

    lb = state.load_balancer(sandbox, nlb_name("mixed"))
    assert lb is not None
    assert state.listener_protocols(sandbox, lb["LoadBalancerArn"]) == {80: "TCP", 5353: "UDP"}
    groups = state.target_groups(sandbox, lb["LoadBalancerArn"])
    assert sorted((g["Protocol"], g["Port"]) for g in groups.values()) == [("TCP", 30080), ("UDP", 31353)]
    own = state.security_group(sandbox, lb["SecurityGroups"][0])
    assert sorted((p["IpProtocol"], p["FromPort"]) for p in own["IpPermissions"]) == [("tcp", 80), ("udp", 5353)]

    delete_and_expect_nothing_left(provider, sandbox, "mixed")


def test_tcp_and_udp_on_one_port_with_different_node_ports_report_the_udp_port(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    status = provider.ensure_service(make_spec("split", [(53, "TCP", 30053), (53, "UDP", 30054)]))

    assert status.port_errors == {PortKey(53, Protocol.UDP): "TCPAndUDPNeedSameNodePort"}
    lb = state.load_balancer(sandbox, nlb_name("split"))
    assert lb is not None
    assert state.listener_protocols(sandbox, lb["LoadBalancerArn"]) == {53: "TCP"}

    delete_and_expect_nothing_left(provider, sandbox, "split")


def test_source_ranges_are_rules_of_the_load_balancers_own_group_and_nodes_admit_the_clusters_backend_group(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("ranged", [(80, "TCP", 30080), (81, "TCP", 30081)],
                              source_ranges=("203.0.113.0/24", "198.51.100.0/25", "198.51.100.128/25")))

    lb = state.load_balancer(sandbox, nlb_name("ranged"))
    assert lb is not None and len(lb["SecurityGroups"]) == 2
    by_name = {state.security_group(sandbox, g)["GroupName"]: g for g in lb["SecurityGroups"]}
    own_id = by_name[security_group_name(CLUSTER, ServiceRef("default", "ranged"))]
    backend_id = by_name[backend_group_name(CLUSTER)]
    own = state.security_group(sandbox, own_id)
    rules = sorted((p["IpProtocol"], p["FromPort"], p["ToPort"], r["CidrIp"])
                   for p in own["IpPermissions"] for r in p["IpRanges"])
    # Ports 80-81 are one range and the two /25s one /24: two rules instead of six.
    assert rules == [("tcp", 80, 81, "198.51.100.0/24"), ("tcp", 80, 81, "203.0.113.0/24")]
    # The nodes admit the backend group that every load balancer of the cluster carries, on the nodePort range.
    nodes = state.security_group(sandbox, sandbox.node_group_id)
    pairs = [(p["IpProtocol"], p["FromPort"], p["ToPort"], pair["GroupId"])
             for p in nodes["IpPermissions"] for pair in p["UserIdGroupPairs"]]
    assert pairs == [("tcp", 30000, 32767, backend_id)]
    assert state.security_group(sandbox, backend_id)["IpPermissions"] == []

    # Narrowing the ranges revokes exactly the dropped rule.
    provider.ensure_service(make_spec("ranged", [(80, "TCP", 30080), (81, "TCP", 30081)],
                                      source_ranges=("203.0.113.0/24",)))
    own = state.security_group(sandbox, own_id)
    assert [(p["FromPort"], r["CidrIp"]) for p in own["IpPermissions"] for r in p["IpRanges"]] == [
        (80, "203.0.113.0/24")]

    delete_and_expect_nothing_left(provider, sandbox, "ranged")


def test_internal_service_gets_an_internal_nlb_in_the_private_subnets(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("inside", internal=True))

    lb = state.load_balancer(sandbox, nlb_name("inside", internal=True))
    assert lb is not None and lb["Scheme"] == "internal"
    assert {z["SubnetId"] for z in lb["AvailabilityZones"]} == set(sandbox.private_subnets.values())

    delete_and_expect_nothing_left(provider, sandbox, "inside")


def test_eip_allocations_pin_public_addresses_that_the_status_reports(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    (first, first_ip), (second, second_ip) = sandbox.allocate_addresses(2)
    annotations = {a.EIP_ALLOCATIONS: f"{first},{second}",
                   a.SUBNETS: ",".join(sandbox.public_subnets[z] for z in sorted(sandbox.public_subnets))}
    status = provider.ensure_service(make_spec("fixed", annotations=annotations))

    assert [i.ip for i in status.ingress if i.ip] == [first_ip, second_ip]
    assert all(i.ip_mode == "VIP" for i in status.ingress if i.ip)
    assert status.ingress[0].hostname is not None

    delete_and_expect_nothing_left(provider, sandbox, "fixed")
    sandbox.client("ec2").release_address(AllocationId=first)
    sandbox.client("ec2").release_address(AllocationId=second)


def test_private_ipv4_addresses_of_an_internal_nlb_are_in_the_status(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    annotations = {a.PRIVATE_IPV4_ADDRESSES: "10.0.100.50,10.0.101.50"}
    status = provider.ensure_service(make_spec("privy", internal=True, annotations=annotations))

    assert [i.ip for i in status.ingress if i.ip] == ["10.0.100.50", "10.0.101.50"]

    delete_and_expect_nothing_left(provider, sandbox, "privy")


def test_eip_count_that_does_not_match_the_discovered_subnets_is_a_permanent_error(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    ((allocation, _),) = sandbox.allocate_addresses(1)
    with pytest.raises(PermanentError, match="one per subnet"):
        provider.ensure_service(make_spec("onlyone", annotations={a.EIP_ALLOCATIONS: allocation}))

    delete_and_expect_nothing_left(provider, sandbox, "onlyone")
    sandbox.client("ec2").release_address(AllocationId=allocation)


def test_targets_follow_nodes_as_they_are_added_and_removed(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    ports = [(80, "TCP", 30080), (53, "UDP", 30053)]
    provider.ensure_service(make_spec("follow", ports, backends=backends_of(sandbox, 1)))
    lb = state.load_balancer(sandbox, nlb_name("follow"))
    assert lb is not None
    groups = list(state.target_groups(sandbox, lb["LoadBalancerArn"]))
    first = {sandbox.instances[0].provider_id.rsplit("/", 1)[-1]}
    assert all(state.targets(sandbox, g) == first for g in groups)

    provider.ensure_service(make_spec("follow", ports))  # all three nodes
    assert all(state.targets(sandbox, g) == state.instance_ids(sandbox) for g in groups)

    remaining = backends_of(sandbox)[1:]
    provider.ensure_service(make_spec("follow", ports, backends=remaining))
    wanted = {b.provider_id.rsplit("/", 1)[-1] for b in remaining}
    assert all(state.targets(sandbox, g) == wanted for g in groups)

    delete_and_expect_nothing_left(provider, sandbox, "follow")


def test_a_changed_port_replaces_only_that_listener_and_target_group(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("moving", [(80, "TCP", 30080), (443, "TCP", 30443)]))
    lb = state.load_balancer(sandbox, nlb_name("moving"))
    assert lb is not None
    before = state.listeners(sandbox, lb["LoadBalancerArn"])

    provider.ensure_service(make_spec("moving", [(8080, "TCP", 30080), (443, "TCP", 30443)]))

    after = state.listeners(sandbox, lb["LoadBalancerArn"])
    assert sorted(after) == [443, 8080]
    assert after[443]["ListenerArn"] == before[443]["ListenerArn"]
    assert after[443]["DefaultActions"] == before[443]["DefaultActions"]
    assert after[8080]["DefaultActions"][0]["TargetGroupArn"] != before[80]["DefaultActions"][0]["TargetGroupArn"]
    remaining = {g["TargetGroupArn"] for g in sandbox.client("elbv2").describe_target_groups()["TargetGroups"]}
    assert before[80]["DefaultActions"][0]["TargetGroupArn"] not in remaining

    delete_and_expect_nothing_left(provider, sandbox, "moving")


def test_a_changed_node_port_switches_the_listener_to_a_new_target_group(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("renode", [(80, "TCP", 30080)]))
    lb = state.load_balancer(sandbox, nlb_name("renode"))
    assert lb is not None
    before = state.listeners(sandbox, lb["LoadBalancerArn"])[80]

    provider.ensure_service(make_spec("renode", [(80, "TCP", 30099)]))

    after = state.listeners(sandbox, lb["LoadBalancerArn"])[80]
    assert after["ListenerArn"] == before["ListenerArn"]
    (group,) = state.target_groups(sandbox, lb["LoadBalancerArn"]).values()
    assert group["Port"] == 30099 and after["DefaultActions"][0]["TargetGroupArn"] == group["TargetGroupArn"]
    assert len(sandbox.client("elbv2").describe_target_groups()["TargetGroups"]) == 1

    delete_and_expect_nothing_left(provider, sandbox, "renode")


def test_local_traffic_policy_probes_the_health_check_node_port(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("local", health_check=HealthCheck(port=32100, path="/healthz", local=True)))

    lb = state.load_balancer(sandbox, nlb_name("local"))
    assert lb is not None
    (group,) = state.target_groups(sandbox, lb["LoadBalancerArn"]).values()
    assert (group["HealthCheckProtocol"], group["HealthCheckPort"], group["HealthCheckPath"]) == (
        "HTTP", "32100", "/healthz")

    delete_and_expect_nothing_left(provider, sandbox, "local")


def test_health_check_annotations_override_and_are_converged_in_place(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("probed"))
    lb = state.load_balancer(sandbox, nlb_name("probed"))
    assert lb is not None
    (before,) = state.target_groups(sandbox, lb["LoadBalancerArn"]).values()

    provider.ensure_service(make_spec("probed", annotations={
        a.HEALTHCHECK_PROTOCOL: "http", a.HEALTHCHECK_PATH: "/ready", a.HEALTHCHECK_INTERVAL: "30",
        a.HEALTHCHECK_HEALTHY_THRESHOLD: "5"}))

    (after,) = state.target_groups(sandbox, lb["LoadBalancerArn"]).values()
    assert after["TargetGroupArn"] == before["TargetGroupArn"]
    assert (after["HealthCheckProtocol"], after["HealthCheckPath"], after["HealthCheckIntervalSeconds"],
            after["HealthyThresholdCount"]) == ("HTTP", "/ready", 30, 5)

    delete_and_expect_nothing_left(provider, sandbox, "probed")


def test_tls_ports_get_tls_listeners_with_the_certificate(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    certificate = sandbox.client("acm").request_certificate(DomainName="shop.example.com")["CertificateArn"]
    provider.ensure_service(make_spec("secure", [(80, "TCP", 30080), (443, "TCP", 30443)], annotations={
        a.SSL_CERT: certificate, a.SSL_PORTS: "443"}))

    lb = state.load_balancer(sandbox, nlb_name("secure"))
    assert lb is not None
    found = state.listeners(sandbox, lb["LoadBalancerArn"])
    assert found[80]["Protocol"] == "TCP"
    assert found[443]["Protocol"] == "TLS"
    assert [c["CertificateArn"] for c in found[443]["Certificates"]] == [certificate]

    delete_and_expect_nothing_left(provider, sandbox, "secure")
    sandbox.client("acm").delete_certificate(CertificateArn=certificate)


def test_an_unknown_certificate_is_a_permanent_error_that_leaves_nothing_behind(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    missing = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    with pytest.raises(PermanentError, match="CertificateNotFound"):
        provider.ensure_service(make_spec("badcert", [(443, "TCP", 30443)], annotations={a.SSL_CERT: missing}))

    lb = state.load_balancer(sandbox, nlb_name("badcert"))
    assert lb is not None and state.target_groups(sandbox, lb["LoadBalancerArn"]) == {}
    assert not sandbox.client("elbv2").describe_target_groups()["TargetGroups"]
    delete_and_expect_nothing_left(provider, sandbox, "badcert")


def test_a_foreign_load_balancer_with_our_name_is_never_modified_or_deleted(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    elbv2 = sandbox.client("elbv2")
    foreign = elbv2.create_load_balancer(Name=nlb_name("taken"), Type="network",
                                         Subnets=list(sandbox.public_subnets.values()),
                                         Tags=[{"Key": "owner", "Value": "someone-else"}])["LoadBalancers"][0]

    try:
        with pytest.raises(NotOwnedError, match=nlb_name("taken")):
            provider.ensure_service(make_spec("taken"))
        provider.delete_service(ServiceRef("default", "taken"))

        after = state.load_balancer(sandbox, nlb_name("taken"))
        assert after is not None
        unchanged = ("LoadBalancerArn", "Scheme", "SecurityGroups", "AvailabilityZones", "DNSName")
        assert {k: after.get(k) for k in unchanged} == {k: foreign.get(k) for k in unchanged}
        assert state.listeners(sandbox, foreign["LoadBalancerArn"]) == {}
        assert state.tags(sandbox, foreign["LoadBalancerArn"]) == {"owner": "someone-else"}
        assert sandbox.leftovers() == [f"load balancer {nlb_name('taken')}"]
    finally:
        elbv2.delete_load_balancer(LoadBalancerArn=foreign["LoadBalancerArn"])


def test_a_scheme_change_creates_the_new_load_balancer_and_retires_the_old_once_the_status_can_name_it(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    old = provider.ensure_service(make_spec("flip"))
    desired = DesiredLoadBalancer.single(make_spec("flip", internal=True))
    key = desired.key

    plan = provider.plan(key, desired, provider.observe([key])[key])
    assert [str(c) for c in plan.retire] and all(c.action == "delete" for c in plan.retire)
    assert {c.name for c in plan.retire if c.resource == "load-balancer"} == {nlb_name("flip")}
    new = provider.apply(plan)[desired.first.service]

    # Both exist until the status has been written (the core calls retire after that).
    assert new.ingress[0].hostname != old.ingress[0].hostname
    assert state.load_balancer(sandbox, nlb_name("flip")) is not None
    provider.retire(plan)

    assert state.load_balancer(sandbox, nlb_name("flip")) is None
    inside = state.load_balancer(sandbox, nlb_name("flip", internal=True))
    assert inside is not None and inside["Scheme"] == "internal"
    assert inside["DNSName"] == new.ingress[0].hostname
    assert len(sandbox.client("elbv2").describe_target_groups()["TargetGroups"]) == 1
    # Nothing is left to do: the next plan is empty.
    assert provider.plan(key, desired, provider.observe([key])[key]).empty

    delete_and_expect_nothing_left(provider, sandbox, "flip")


def test_a_service_in_another_namespace_gets_its_own_load_balancer(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("same")
    other = dataclasses.replace(spec, service=ServiceRef("other", "same"))
    first, second = provider.ensure_service(spec), provider.ensure_service(other)

    assert first.ingress[0].hostname != second.ingress[0].hostname
    provider.delete_service(other.service)
    assert state.load_balancer(sandbox, nlb_name("same")) is not None
    delete_and_expect_nothing_left(provider, sandbox, "same")


def test_cross_zone_annotation_is_applied_and_changed_in_place(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    def cross_zone() -> str:
        lb = state.load_balancer(sandbox, nlb_name("zones"))
        assert lb is not None
        attributes = sandbox.client("elbv2").describe_load_balancer_attributes(
            LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
        return str({x["Key"]: x["Value"] for x in attributes}["load_balancing.cross_zone.enabled"])

    provider.ensure_service(make_spec("zones", annotations={a.CROSS_ZONE: "true"}))
    assert cross_zone() == "true"
    provider.ensure_service(make_spec("zones", annotations={a.CROSS_ZONE: "false"}))
    assert cross_zone() == "false"
    # A restarted controller does not know the attribute (sweeps do not read it): read once, nothing written
    # (beside the load balancer's listeners and its target group's targets, unknown after a restart too).
    restarted = new_provider()
    restarted.sweep()
    before = restarted.calls.snapshot()
    restarted.ensure_service(make_spec("zones", annotations={a.CROSS_ZONE: "false"}))
    assert restarted.calls.snapshot() - before == Counter({
        "elasticloadbalancing:DescribeLoadBalancerAttributes": 1, "elasticloadbalancing:DescribeListeners": 1,
        "elasticloadbalancing:DescribeTargetHealth": 1})

    delete_and_expect_nothing_left(provider, sandbox, "zones")


def test_annotated_subnets_are_followed_when_they_change(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    first, second = (sandbox.public_subnets[zone] for zone in sorted(sandbox.public_subnets))
    provider.ensure_service(make_spec("placed", annotations={a.SUBNETS: first}))
    lb = state.load_balancer(sandbox, nlb_name("placed"))
    assert lb is not None and {z["SubnetId"] for z in lb["AvailabilityZones"]} == {first}

    # By Name tag this time, as upstream allows.
    provider.ensure_service(make_spec("placed", annotations={a.SUBNETS: "public-us-east-1a,public-us-east-1b"}))

    lb = state.load_balancer(sandbox, nlb_name("placed"))
    assert lb is not None and {z["SubnetId"] for z in lb["AvailabilityZones"]} == {first, second}
    delete_and_expect_nothing_left(provider, sandbox, "placed")


def test_an_annotated_subnet_that_does_not_exist_is_a_permanent_error(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    with pytest.raises(PermanentError, match="public-us-west-9z"):
        provider.ensure_service(make_spec("nowhere", annotations={a.SUBNETS: "public-us-west-9z"}))
    assert sandbox.leftovers() == []


def test_changed_additional_tags_reach_every_existing_resource(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("tagged", [(80, "TCP", 30080), (53, "UDP", 30053)],
                              annotations={a.ADDITIONAL_RESOURCE_TAGS: "team=payments"}))
    provider.ensure_service(make_spec("tagged", [(80, "TCP", 30080), (53, "UDP", 30053)],
                              annotations={a.ADDITIONAL_RESOURCE_TAGS: "team=checkout,env=prod"}))

    lb = state.load_balancer(sandbox, nlb_name("tagged"))
    assert lb is not None
    for arn in [lb["LoadBalancerArn"], *state.target_groups(sandbox, lb["LoadBalancerArn"])]:
        assert {k: v for k, v in state.tags(sandbox, arn).items() if k in ("team", "env")} == {
            "team": "checkout", "env": "prod"}
    group_tags = {t["Key"]: t["Value"] for t in state.security_group(sandbox, lb["SecurityGroups"][0])["Tags"]}
    assert (group_tags["team"], group_tags["env"]) == ("checkout", "prod")

    delete_and_expect_nothing_left(provider, sandbox, "tagged")


def test_stopped_and_unknown_instances_are_not_registered_and_come_back_when_running(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    ec2 = sandbox.client("ec2")
    stopped = sandbox.instances[0].provider_id.rsplit("/", 1)[-1]
    ghost = Backend("ghost", "aws:///us-east-1a/i-0123456789abcdef0", "10.0.9.9", "us-east-1a")
    ports = [(80, "TCP", 30080)]
    ec2.stop_instances(InstanceIds=[stopped])
    try:
        status = provider.ensure_service(make_spec("stopped", ports, backends=(*backends_of(sandbox), ghost)))
        lb = state.load_balancer(sandbox, nlb_name("stopped"))
        assert lb is not None
        (group,) = state.target_groups(sandbox, lb["LoadBalancerArn"])
        assert state.targets(sandbox, group) == state.instance_ids(sandbox) - {stopped}
        assert any(stopped in w and "i-0123456789abcdef0" in w and "not registered" in w for w in status.warnings)
    finally:
        ec2.start_instances(InstanceIds=[stopped])
    # The next sweep sees the instance running: the load balancer that wants it is re-planned, and registers it.
    assert LoadBalancerKey.of(ServiceRef("default", "stopped")) in provider.sweep().drifted
    status = provider.ensure_service(make_spec("stopped", ports, backends=backends_of(sandbox)))
    assert state.targets(sandbox, group) == state.instance_ids(sandbox)
    assert not any("not registered" in w for w in status.warnings)
    delete_and_expect_nothing_left(provider, sandbox, "stopped")


def test_delete_finds_our_group_even_when_a_foreign_group_with_its_name_lives_in_another_vpc(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    ec2 = sandbox.client("ec2")
    provider.ensure_service(make_spec("twin", [(80, "TCP", 30080)]))
    name = security_group_name(CLUSTER, ServiceRef("default", "twin"))
    other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    foreign = ec2.create_security_group(GroupName=name, Description="someone else's", VpcId=other_vpc)["GroupId"]
    try:
        provider.delete_service(ServiceRef("default", "twin"))
        remaining = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
        assert [g["GroupId"] for g in remaining["SecurityGroups"]] == [foreign], "ours deleted, the foreign kept"
    finally:
        ec2.delete_security_group(GroupId=foreign)
        ec2.delete_vpc(VpcId=other_vpc)
    assert sandbox.leftovers() == []


def test_a_scheme_change_that_had_to_read_a_new_node_first_still_names_what_to_retire(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    """The plan is made again inside apply, after the read: the core learns the replaced one from it."""
    # Last in this module: it adds a node to the module's sandbox.
    provider.ensure_service(make_spec("late"))
    sandbox.add_instances(1)
    desired = DesiredLoadBalancer.single(make_spec("late", internal=True))  # and a node it has not read
    key = desired.key
    plan = provider.plan(key, desired, provider.observe([key])[key])
    assert plan.lookups and not plan.retire, "deferred: what it replaces is known only after the read"

    provider.apply(plan)
    assert {c.name for c in plan.retiring() if c.resource == "load-balancer"} == {nlb_name("late")}
    assert state.load_balancer(sandbox, nlb_name("late")) is not None
    provider.retire(plan)

    assert state.load_balancer(sandbox, nlb_name("late")) is None
    assert state.load_balancer(sandbox, nlb_name("late", internal=True)) is not None
    delete_and_expect_nothing_left(provider, sandbox, "late")


def test_a_backend_group_left_by_a_controller_killed_after_its_last_load_balancer_is_collected(
        provider: AWSProvider, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    provider.ensure_service(make_spec("last"))
    key = LoadBalancerKey.of(ServiceRef("default", "last"))
    removal = provider.plan(key, None, provider.observe([key])[key])
    # Killed right before the last step: everything of the load balancer is gone but the cluster's backend group.
    run_changes(key, [c for c in removal.changes if c.payload.op != "delete_backend"], provider._writer.run)
    assert sandbox.leftovers() != [] and all("security group" in x or "rule" in x for x in sandbox.leftovers())

    restarted = new_provider()
    restarted.sweep()
    restarted.collect_garbage()

    assert sandbox.leftovers() == []
    restarted.collect_garbage()  # nothing left: nothing to do, no error
