"""The AWS provider driven by the real operator: kopf against the emulated Kubernetes API over HTTP, the
provider loaded through its entry point, boto3 talking to moto over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.naming import load_balancer_name
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.changes import run_changes
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import FINALIZER, LoadBalancerKey, ServiceRef
from cloudlb.testing import node_manifest, run_controller, service_manifest

from . import support as state
from .support import CLUSTER, SpecFactory, new_provider, nlb_name, writes

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("clean_cloud")]


def ingress(service: dict[str, Any]) -> list[dict[str, Any]]:
    return list(service["status"]["loadBalancer"]["ingress"])


def port_errors(service: dict[str, Any]) -> dict[tuple[int, str], str | None]:
    return {(p["port"], p["protocol"]): p.get("error") for entry in ingress(service) for p in entry.get("ports", [])}


def wait_gone(ctl: Any, name: str) -> None:
    ctl.wait_for(lambda: ctl.service("default", name) is None, message=f"Service {name} to be gone")


def test_a_service_round_trip_with_tcp_udp_on_one_port_and_sctp_refused(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("web", ports=[(80, "TCP"), (53, "TCP"), (53, "UDP"), (3868, "SCTP")]))
        service = ctl.wait_for_ingress("default", "web")

        lb = state.load_balancer(sandbox, nlb_name("web"))
        assert lb is not None
        assert [entry.get("hostname") for entry in ingress(service)] == [lb["DNSName"]]
        assert FINALIZER in service["metadata"]["finalizers"]
        assert port_errors(service)[(3868, "SCTP")] == "cloudlb.io/ProtocolNotSupported"
        assert port_errors(service).get((80, "TCP")) is None
        assert state.listener_protocols(sandbox, lb["LoadBalancerArn"]) == {80: "TCP", 53: "TCP_UDP"}
        node_ports = {(p["port"], p["protocol"]): p["nodePort"] for p in service["spec"]["ports"]}
        groups = state.target_groups(sandbox, lb["LoadBalancerArn"])
        assert sorted(g["Port"] for g in groups.values()) == sorted({node_ports[(80, "TCP")], node_ports[(53, "UDP")]})
        ctl.wait_for(lambda: "EnsuredLoadBalancer" in ctl.event_reasons("default", "web"), message="Ensured")

        kube.delete("v1", "services", "default", "web")
        wait_gone(ctl, "web")
        assert sandbox.leftovers() == []


def test_a_joining_node_costs_only_target_registrations(kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("grow", ports=[(80, "TCP"), (443, "TCP")]))
        service = ctl.wait_for_ingress("default", "grow")
        ctl.wait_for(ctl.idle, message="an idle queue")
        provider = ctl.provider
        assert isinstance(provider, AWSProvider)
        before = provider.calls.snapshot()
        joining = sandbox.instances[2]
        kube.create(node_manifest(joining.name, provider_id=joining.provider_id, internal_ip=joining.internal_ip,
                                  zone=joining.zone))

        lb = state.load_balancer(sandbox, nlb_name("grow"))
        assert lb is not None
        groups = list(state.target_groups(sandbox, lb["LoadBalancerArn"]))
        ctl.wait_for(lambda: all(state.targets(sandbox, g) == state.instance_ids(sandbox) for g in groups),
                     message="the new node in every target group")
        ctl.wait_for(ctl.idle, message="an idle queue")
        added = provider.calls.snapshot() - before
        assert writes(added) == {"elasticloadbalancing:RegisterTargets": 2}
        assert service["status"]["loadBalancer"]["ingress"] == ctl.service("default", "grow")["status"][  # type: ignore[index]
            "loadBalancer"]["ingress"]

        kube.delete("v1", "services", "default", "grow")
        wait_gone(ctl, "grow")
        assert sandbox.leftovers() == []


def test_upstream_annotations_give_an_internal_nlb_with_source_ranges(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("inside", annotations={"service.beta.kubernetes.io/aws-load-balancer-internal":
                                                            "true"}, source_ranges=["10.0.0.0/8"]))
        ctl.wait_for_ingress("default", "inside")
        lb = state.load_balancer(sandbox, nlb_name("inside", internal=True))
        assert lb is not None and lb["Scheme"] == "internal"
        own = state.security_group(sandbox, lb["SecurityGroups"][0])
        assert [r["CidrIp"] for p in own["IpPermissions"] for r in p["IpRanges"]] == ["10.0.0.0/8"]

        kube.delete("v1", "services", "default", "inside")
        wait_gone(ctl, "inside")
        assert sandbox.leftovers() == []


def test_the_default_type_option_builds_a_classic_elb(kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment,
                        options={"aws-default-type": "clb"}) as ctl:
        kube.create(service_manifest("legacy", ports=[(80, "TCP"), (53, "UDP")]))
        service = ctl.wait_for_ingress("default", "legacy")
        name = load_balancer_name(CLUSTER, ServiceRef("default", "legacy"), "clb", False)
        described = sandbox.client("elb").describe_load_balancers(LoadBalancerNames=[name])
        assert [entry["hostname"] for entry in ingress(service)] == [
            described["LoadBalancerDescriptions"][0]["DNSName"]]
        assert port_errors(service)[(53, "UDP")] == "cloudlb.io/ProtocolNotSupported"

        kube.delete("v1", "services", "default", "legacy")
        wait_gone(ctl, "legacy")
        assert sandbox.leftovers() == []


def test_a_foreign_load_balancer_with_our_name_gets_a_warning_and_is_untouched(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    elbv2 = sandbox.client("elbv2")
    foreign = elbv2.create_load_balancer(Name=nlb_name("taken"), Type="network",
                                         Subnets=list(sandbox.public_subnets.values()))["LoadBalancers"][0]
    try:
        with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
            kube.create(service_manifest("taken"))

            def warned() -> list[dict[str, Any]]:
                return [e for e in ctl.events("default", "taken")
                        if e.get("type") == "Warning" and nlb_name("taken") in e.get("message", "")]
            ctl.wait_for(warned, message="a Warning naming the foreign load balancer")
            assert state.listeners(sandbox, foreign["LoadBalancerArn"]) == {}
            assert sandbox.leftovers() == [f"load balancer {nlb_name('taken')}"]

            kube.delete("v1", "services", "default", "taken")
            wait_gone(ctl, "taken")
            assert state.load_balancer(sandbox, nlb_name("taken")) is not None
    finally:
        elbv2.delete_load_balancer(LoadBalancerArn=foreign["LoadBalancerArn"])
    assert sandbox.leftovers() == []


def test_an_orphan_whose_service_is_gone_is_garbage_collected_on_start(
        kube: EmulatedKubernetes, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    # A Service deleted while the controller was down left its load balancer behind.
    new_provider().ensure_service(make_spec("ghost", annotations={a.TYPE: "nlb"}))
    assert sandbox.leftovers() != []
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment,
                        gc_initial_delay=0.2) as ctl:
        kube.create(service_manifest("alive"))
        ctl.wait_for_ingress("default", "alive")
        ctl.wait_for(lambda: state.load_balancer(sandbox, nlb_name("ghost")) is None, message="the orphan collected")
        assert state.load_balancer(sandbox, nlb_name("alive")) is not None

        kube.delete("v1", "services", "default", "alive")
        wait_gone(ctl, "alive")
        ctl.wait_for(lambda: sandbox.leftovers() == [], message="nothing left")


def test_services_with_one_share_key_are_served_by_one_nlb(kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    share = {"cloudlb.io/share-key": "shop"}
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("front", ports=[(80, "TCP")], annotations=share))
        kube.create(service_manifest("back", ports=[(8080, "TCP")], annotations=share))
        front, back = ctl.wait_for_ingress("default", "front"), ctl.wait_for_ingress("default", "back")
        ctl.wait_for(lambda: ingress(ctl.service("default", "front") or front) == ingress(
            ctl.service("default", "back") or back), message="both statuses naming the shared load balancer")
        balancers = sandbox.client("elbv2").describe_load_balancers()["LoadBalancers"]
        assert len(balancers) == 1
        arn = balancers[0]["LoadBalancerArn"]
        ctl.wait_for(lambda: sorted(state.listeners(sandbox, arn)) == [80, 8080], message="a listener per member")

        kube.delete("v1", "services", "default", "back")
        wait_gone(ctl, "back")
        ctl.wait_for(lambda: sorted(state.listeners(sandbox, arn)) == [80], message="back's listener gone")
        assert state.load_balancer(sandbox, balancers[0]["LoadBalancerName"]) is not None

        kube.delete("v1", "services", "default", "front")
        wait_gone(ctl, "front")
        ctl.wait_for(lambda: sandbox.leftovers() == [], message="nothing left")


def test_a_clashing_member_loses_only_that_port_and_a_restarted_controller_finishes_the_group(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    """Issue 13 on AWS through the real operator: a clash costs one port; a restart mid-way changes nothing."""
    share = {"cloudlb.io/share-key": "mall"}
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("shoes", ports=[(80, "TCP"), (443, "TCP")], annotations=share))
        ctl.wait_for_ingress("default", "shoes")
    time.sleep(1.1)  # creationTimestamp has one-second resolution: "hats" is younger
    kube.create(service_manifest("hats", ports=[(443, "TCP"), (8443, "TCP")], annotations=share))
    # A new controller (empty caches, as after a restart) picks up the group from AWS and the cluster.
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        hats = ctl.wait_for_ingress("default", "hats")
        ctl.wait_for(lambda: port_errors(ctl.service("default", "hats") or hats).get((443, "TCP")),
                     message="a port error on the clashing port")
        hats = ctl.service("default", "hats") or hats
        assert port_errors(hats)[(443, "TCP")] == "cloudlb.io/PortInUseBySharedLoadBalancer"
        assert port_errors(hats).get((8443, "TCP")) is None
        shoes = ctl.service("default", "shoes") or {}
        assert [e.get("hostname") for e in ingress(hats)] == [e.get("hostname") for e in ingress(shoes)]
        balancers = sandbox.client("elbv2").describe_load_balancers()["LoadBalancers"]
        assert len(balancers) == 1
        arn = balancers[0]["LoadBalancerArn"]
        ctl.wait_for(lambda: sorted(state.listeners(sandbox, arn)) == [80, 443, 8443],
                     message="443 served once, for the older member")
        for name in ("hats", "shoes"):
            kube.delete("v1", "services", "default", name)
            wait_gone(ctl, name)
        ctl.wait_for(lambda: sandbox.leftovers() == [], message="nothing left")


def test_the_garbage_collector_removes_a_backend_group_no_load_balancer_uses(
        kube: EmulatedKubernetes, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    """What a controller killed between its last load balancer and the cluster's backend group leaves."""
    first = new_provider()
    first.ensure_service(make_spec("last"))
    key = LoadBalancerKey.of(ServiceRef("default", "last"))
    removal = first.plan(key, None, first.observe([key])[key])
    run_changes(key, [c for c in removal.changes if c.payload.op != "delete_backend"], first._writer.run)
    assert sandbox.leftovers() != []

    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment,
                        gc_initial_delay=0.2, gc_interval=0.5) as ctl:
        ctl.wait_for(lambda: sandbox.leftovers() == [], message="the unused backend group collected")
