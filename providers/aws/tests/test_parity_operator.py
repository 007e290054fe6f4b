"""Issue 11's AWS annotations through the real operator: kopf against the emulated Kubernetes API over HTTP,
boto3 against moto over HTTP. Each sets the annotation, checks AWS, changes it, checks again, and removes
it (AWS back to its default)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws import classic_attributes as classic
from cloudlb_aws import frontend_groups as fg
from cloudlb_aws import ip_address_type as dual
from cloudlb_aws import ip_targets, tag_record, target_nodes
from cloudlb_aws import nlb_attributes as attrs
from cloudlb_aws.naming import backend_group_name, load_balancer_name, security_group_name
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import ServiceRef
from cloudlb.testing import run_controller, service_manifest

from . import support as state
from .support import CLUSTER, nlb_name, writes
from .test_operator import wait_gone

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("clean_cloud")]


def annotate(kube: EmulatedKubernetes, name: str, annotations: dict[str, str | None]) -> None:
    """A merge patch of the Service's annotations (None removes one)."""
    kube.patch("v1", "services", "default", name, {"metadata": {"annotations": annotations}})


def group_attributes(sandbox: MotoSandbox, arn: str) -> dict[str, str]:
    found = sandbox.client("elbv2").describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
    return {a["Key"]: a["Value"] for a in found}


def balancer_attributes(sandbox: MotoSandbox, arn: str) -> dict[str, str]:
    found = sandbox.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    return {a["Key"]: a["Value"] for a in found}


def only(wanted: dict[str, str], found: dict[str, str]) -> dict[str, str | None]:
    return {key: found.get(key) for key in wanted}


def test_proxy_protocol_and_nlb_attributes_are_set_changed_and_reset(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("attrs", ports=[(80, "TCP"), (53, "UDP")], annotations={
            attrs.PROXY_PROTOCOL: "*",
            attrs.TARGET_GROUP_ATTRIBUTES: "deregistration_delay.timeout_seconds=30,bogus.key=1",
            attrs.LOAD_BALANCER_ATTRIBUTES: "load_balancing.cross_zone.enabled=true"}))
        ctl.wait_for_ingress("default", "attrs")
        lb = state.load_balancer(sandbox, nlb_name("attrs"))
        assert lb is not None
        groups = list(state.target_groups(sandbox, lb["LoadBalancerArn"]))
        assert len(groups) == 2

        def settled(tg: dict[str, str], lb_wanted: dict[str, str]) -> bool:
            return all(only(tg, group_attributes(sandbox, g)) == tg for g in groups) and \
                only(lb_wanted, balancer_attributes(sandbox, lb["LoadBalancerArn"])) == lb_wanted

        ctl.wait_for(lambda: settled({"proxy_protocol_v2.enabled": "true",
                                      "deregistration_delay.timeout_seconds": "30"},
                                     {"load_balancing.cross_zone.enabled": "true"}), message="attributes set")
        ctl.wait_for(lambda: any("bogus.key" in e.get("message", "") and e.get("type") == "Warning"
                                 for e in ctl.events("default", "attrs")), message="a Warning naming bogus.key")

        # Changed: proxy protocol dropped (back to false), stickiness added, the delay kept.
        annotate(kube, "attrs", {attrs.PROXY_PROTOCOL: None, attrs.TARGET_GROUP_ATTRIBUTES:
                                 "deregistration_delay.timeout_seconds=30,stickiness.enabled=true"})
        ctl.wait_for(lambda: settled({"proxy_protocol_v2.enabled": "false", "stickiness.enabled": "true",
                                      "deregistration_delay.timeout_seconds": "30"},
                                     {"load_balancing.cross_zone.enabled": "true"}), message="attributes changed")

        # Removed: every attribute cloudlb set is back at AWS's default, and so are the record tags.
        annotate(kube, "attrs", {attrs.TARGET_GROUP_ATTRIBUTES: None, attrs.LOAD_BALANCER_ATTRIBUTES: None})
        ctl.wait_for(lambda: settled({"proxy_protocol_v2.enabled": "false", "stickiness.enabled": "false",
                                      "deregistration_delay.timeout_seconds": "300"},
                                     {"load_balancing.cross_zone.enabled": "false"}), message="attributes reset")
        ctl.wait_for(lambda: all(attrs.MANAGED_TAG not in state.tags(sandbox, arn)
                                 for arn in [*groups, lb["LoadBalancerArn"]]), message="record tags removed")

        kube.delete("v1", "services", "default", "attrs")
        wait_gone(ctl, "attrs")
        assert sandbox.leftovers() == []



def label(kube: EmulatedKubernetes, node: str, labels: dict[str, str | None]) -> None:
    kube.patch("v1", "nodes", None, node, {"metadata": {"labels": labels}})


def test_target_node_labels_choose_the_targets_and_a_label_change_writes_only_the_affected_groups(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    first, second = sandbox.instances[0], sandbox.instances[1]
    ids = {i.name: i.provider_id.rsplit("/", 1)[-1] for i in sandbox.instances}
    label(kube, first.name, {"role": "edge"})
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("edge", ports=[(80, "TCP"), (443, "TCP")],
                                     annotations={target_nodes.TARGET_NODE_LABELS: "role=edge"}))
        kube.create(service_manifest("every", ports=[(80, "TCP")]))
        ctl.wait_for_ingress("default", "edge")
        ctl.wait_for_ingress("default", "every")
        edge, every = state.load_balancer(sandbox, nlb_name("edge")), state.load_balancer(sandbox, nlb_name("every"))
        assert edge is not None and every is not None
        edge_groups = list(state.target_groups(sandbox, edge["LoadBalancerArn"]))
        [every_group] = state.target_groups(sandbox, every["LoadBalancerArn"])

        def targets_are(groups: list[str], wanted: set[str]) -> bool:
            return all(state.targets(sandbox, g) == wanted for g in groups)

        ctl.wait_for(lambda: targets_are(edge_groups, {ids[first.name]}), message="only the edge node")
        assert state.targets(sandbox, every_group) == {ids[first.name], ids[second.name]}
        ctl.wait_for(ctl.idle, message="an idle queue")

        # The second node gains the label: the edge Service's two groups get it, nothing else is written.
        provider = ctl.provider
        assert isinstance(provider, AWSProvider)
        before = provider.calls.snapshot()
        label(kube, second.name, {"role": "edge"})
        ctl.wait_for(lambda: targets_are(edge_groups, {ids[first.name], ids[second.name]}),
                     message="the newly labelled node registered")
        ctl.wait_for(ctl.idle, message="an idle queue")
        assert writes(provider.calls.snapshot() - before) == {"elasticloadbalancing:RegisterTargets": 2}

        # A label no Service selects by changes nothing at all.
        before = provider.calls.snapshot()
        label(kube, second.name, {"unrelated": "x"})
        time.sleep(1)
        ctl.wait_for(ctl.idle, message="an idle queue")
        assert writes(provider.calls.snapshot() - before) == {}

        # The annotation changes to a label only the second node has, then goes: every node again.
        label(kube, second.name, {"pool": "b"})
        annotate(kube, "edge", {target_nodes.TARGET_NODE_LABELS: "pool"})
        ctl.wait_for(lambda: targets_are(edge_groups, {ids[second.name]}), message="only the pool node")
        annotate(kube, "edge", {target_nodes.TARGET_NODE_LABELS: None})
        ctl.wait_for(lambda: targets_are(edge_groups, {ids[first.name], ids[second.name]}), message="every node")

        for name in ("edge", "every"):
            kube.delete("v1", "services", "default", name)
            wait_gone(ctl, name)
        assert sandbox.leftovers() == []


def endpoint_slice(service: str, name: str, ready: dict[str, bool], port: int = 8080) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": is_ready}} for ip, is_ready in ready.items()],
            "ports": [{"name": "tcp-80", "protocol": "TCP", "port": port}]}


def registered(sandbox: MotoSandbox, group_arn: str) -> set[tuple[str, int]]:
    health = sandbox.client("elbv2").describe_target_health(TargetGroupArn=group_arn)
    return {(d["Target"]["Id"], int(d["Target"]["Port"])) for d in health["TargetHealthDescriptions"]}


def test_ip_targets_are_the_ready_pods_and_slice_churn_registers_exactly_the_changed_ips(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    manifest = service_manifest("pods", annotations={ip_targets.NLB_TARGET_TYPE: "ip", a.TYPE: "external"})
    manifest["spec"]["allocateLoadBalancerNodePorts"] = False
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(endpoint_slice("pods", "pods-a", {"10.0.1.11": True, "10.0.1.12": False}))
        kube.create(manifest)
        service = ctl.wait_for_ingress("default", "pods")
        assert "nodePort" not in service["spec"]["ports"][0]
        assert not [e for e in ctl.events("default", "pods") if e.get("type") == "Warning"]
        lb = state.load_balancer(sandbox, nlb_name("pods"))
        assert lb is not None
        [group] = state.target_groups(sandbox, lb["LoadBalancerArn"]).values()
        assert (group["TargetType"], group["Port"]) == ("ip", 8080)
        arn = group["TargetGroupArn"]
        ctl.wait_for(lambda: registered(sandbox, arn) == {("10.0.1.11", 8080)}, message="the ready Pod")
        ctl.wait_for(ctl.idle, message="an idle queue")

        # One Pod becomes ready, another slice brings a third, then that slice goes: exactly those IPs move.
        provider = ctl.provider
        assert isinstance(provider, AWSProvider)
        before = provider.calls.snapshot()
        kube.patch("discovery.k8s.io/v1", "endpointslices", "default", "pods-a",
                   {"endpoints": [{"addresses": ["10.0.1.11"], "conditions": {"ready": True}},
                                  {"addresses": ["10.0.1.12"], "conditions": {"ready": True}}]})
        ctl.wait_for(lambda: registered(sandbox, arn) == {("10.0.1.11", 8080), ("10.0.1.12", 8080)},
                     message="the Pod that became ready")
        kube.create(endpoint_slice("pods", "pods-b", {"10.0.1.13": True}))
        ctl.wait_for(lambda: len(registered(sandbox, arn)) == 3, message="the second slice's Pod")
        kube.delete("discovery.k8s.io/v1", "endpointslices", "default", "pods-a")
        ctl.wait_for(lambda: registered(sandbox, arn) == {("10.0.1.13", 8080)}, message="the first slice gone")
        ctl.wait_for(ctl.idle, message="an idle queue")
        assert writes(provider.calls.snapshot() - before) == {"elasticloadbalancing:RegisterTargets": 2,
                                                              "elasticloadbalancing:DeregisterTargets": 1}

        # Back to instance targets (the annotation gone, node ports allocated): a new instance group replaces
        # the IP group, which AWS cannot change in place, and is deleted.
        kube.patch("v1", "services", "default", "pods", {"spec": {"allocateLoadBalancerNodePorts": True}})
        annotate(kube, "pods", {ip_targets.NLB_TARGET_TYPE: None})

        def instance_group() -> dict[str, Any] | None:
            groups = list(state.target_groups(sandbox, lb["LoadBalancerArn"]).values())
            return groups[0] if len(groups) == 1 and groups[0]["TargetType"] == "instance" else None
        ctl.wait_for(instance_group, message="an instance target group")
        node_port = (ctl.service("default", "pods") or {})["spec"]["ports"][0]["nodePort"]
        assert instance_group()["Port"] == node_port  # type: ignore[index]
        ctl.wait_for(lambda: state.targets(sandbox, instance_group()["TargetGroupArn"])  # type: ignore[index]
                     == {i.provider_id.rsplit("/", 1)[-1] for i in sandbox.instances[:2]}, message="the nodes")
        ctl.wait_for(lambda: all(g["TargetGroupArn"] != arn
                                 for g in sandbox.client("elbv2").describe_target_groups()["TargetGroups"]),
                     message="the IP group gone")
        kube.delete("v1", "services", "default", "pods")
        wait_gone(ctl, "pods")
        assert sandbox.leftovers() == []


def test_security_groups_replace_cloudlbs_own_and_extra_ones_come_beside_it_on_nlb_and_clb(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    ec2 = sandbox.client("ec2")
    mine, extra = (ec2.create_security_group(GroupName=f"users-{n}", Description="the user's", VpcId=sandbox.vpc_id)
                   ["GroupId"] for n in ("own", "extra"))
    own_name = security_group_name(CLUSTER, ServiceRef("default", "guarded"))
    backend = backend_group_name(CLUSTER)

    def groups_of(names: list[str]) -> dict[str, str]:
        found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": names}])["SecurityGroups"]
        return {g["GroupName"]: g["GroupId"] for g in found}

    try:
        with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
            kube.create(service_manifest("guarded", annotations={fg.EXTRA_SECURITY_GROUPS: extra}))
            ctl.wait_for_ingress("default", "guarded")
            ours = groups_of([own_name, backend])

            def attached() -> set[str]:
                lb = state.load_balancer(sandbox, nlb_name("guarded"))
                return set(lb["SecurityGroups"]) if lb else set()

            ctl.wait_for(lambda: attached() == {ours[own_name], ours[backend], extra}, message="extra beside ours")
            # security-groups replaces cloudlb's own group (whose rules cloudlb then leaves alone).
            annotate(kube, "guarded", {fg.SECURITY_GROUPS: mine, fg.EXTRA_SECURITY_GROUPS: None})
            ctl.wait_for(lambda: attached() == {mine, ours[backend]}, message="the user's group instead of ours")
            assert state.security_group(sandbox, mine).get("IpPermissions") == []
            annotate(kube, "guarded", {fg.SECURITY_GROUPS: None})
            ctl.wait_for(lambda: attached() == {ours[own_name], ours[backend]}, message="ours again")

            # A Classic ELB asked for the user's group from the start: cloudlb creates no front-end group.
            kube.create(service_manifest("classic", annotations={a.TYPE: "clb", fg.SECURITY_GROUPS: mine,
                                                                 fg.EXTRA_SECURITY_GROUPS: extra}))
            ctl.wait_for_ingress("default", "classic")
            clb = sandbox.client("elb").describe_load_balancers(LoadBalancerNames=[
                load_balancer_name(CLUSTER, ServiceRef("default", "classic"), "clb", False)])
            assert set(clb["LoadBalancerDescriptions"][0]["SecurityGroups"]) == {mine, ours[backend], extra}
            assert security_group_name(CLUSTER, ServiceRef("default", "classic")) not in groups_of(
                [security_group_name(CLUSTER, ServiceRef("default", "classic"))])

            for name in ("guarded", "classic"):
                kube.delete("v1", "services", "default", name)
                wait_gone(ctl, name)
    finally:
        for group in (mine, extra):
            ec2.delete_security_group(GroupId=group)
    assert sandbox.leftovers() == []


def test_security_groups_named_by_their_name_tag_are_resolved_in_the_vpc_and_an_unknown_name_waits_for_it(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    """As the AWS Load Balancer Controller: a value that is not an id is a group's Name tag (not its group name).

    A name no group carries yet is the cloud's state, not the Service's fault: named, and retried on the slow
    schedule, so the Service is served once the group exists, without an edit.
    """
    ec2 = sandbox.client("ec2")

    def group_tagged(value: str, group_name: str) -> str:
        tags = [{"ResourceType": "security-group", "Tags": [{"Key": "Name", "Value": value}]}]
        return str(ec2.create_security_group(GroupName=group_name, Description="the user's", VpcId=sandbox.vpc_id,
                                             TagSpecifications=tags)["GroupId"])

    created = [group_tagged("office-only", "any-group-name")]
    try:
        with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment,
                            cloud_state_retry=1.0) as ctl:
            kube.create(service_manifest("named", annotations={fg.SECURITY_GROUPS: "office-only"}))
            ctl.wait_for_ingress("default", "named")
            lb = state.load_balancer(sandbox, nlb_name("named"))
            assert lb is not None and created[0] in lb["SecurityGroups"]
            assert security_group_name(CLUSTER, ServiceRef("default", "named")) not in {
                g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]}, "ours replaced"

            kube.create(service_manifest("later", annotations={fg.SECURITY_GROUPS: "vpn-only"}))
            ctl.wait_for(lambda: "SyncLoadBalancerFailed" in ctl.event_reasons("default", "later"),
                         message="the unknown name reported")
            assert "Name tag 'vpn-only'" in " ".join(str(e.get("message")) for e in ctl.events("default", "later"))
            assert state.load_balancer(sandbox, nlb_name("later")) is None, "nothing built for it"
            created.append(group_tagged("vpn-only", "made-after-the-service"))
            ctl.wait_for_ingress("default", "later")
            lb = state.load_balancer(sandbox, nlb_name("later"))
            assert lb is not None and created[1] in lb["SecurityGroups"]
            for name in ("named", "later"):
                kube.delete("v1", "services", "default", name)
                wait_gone(ctl, name)
    finally:
        for group in created:
            ec2.delete_security_group(GroupId=group)
    assert sandbox.leftovers() == []


def test_classic_elb_attributes_proxy_protocol_and_backend_protocol_are_set_changed_and_reset(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    elb = sandbox.client("elb")
    name = load_balancer_name(CLUSTER, ServiceRef("default", "old"), "clb", False)

    def described() -> dict[str, Any]:
        found: dict[str, Any] = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
        return found

    def attributes() -> dict[str, Any]:
        found: dict[str, Any] = elb.describe_load_balancer_attributes(LoadBalancerName=name)["LoadBalancerAttributes"]
        return found

    def proxied() -> set[int]:
        return {b["InstancePort"] for b in described().get("BackendServerDescriptions", [])
                if classic.PROXY_PROTOCOL_POLICY in b.get("PolicyNames", [])}

    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("old", ports=[(80, "TCP")], annotations={
            a.TYPE: "clb", attrs.PROXY_PROTOCOL: "*", classic.CONNECTION_IDLE_TIMEOUT: "300",
            classic.CONNECTION_DRAINING_ENABLED: "true", classic.CONNECTION_DRAINING_TIMEOUT: "45",
            attrs.ACCESS_LOG_ENABLED: "true", attrs.ACCESS_LOG_BUCKET: "logs", classic.ACCESS_LOG_EMIT_INTERVAL: "5",
            classic.BACKEND_PROTOCOL: "http"}))
        service = ctl.wait_for_ingress("default", "old")
        node_port = service["spec"]["ports"][0]["nodePort"]
        ctl.wait_for(lambda: proxied() == {node_port}, message="the proxy-protocol policy on the instance port")
        ctl.wait_for(lambda: attributes()["ConnectionSettings"]["IdleTimeout"] == 300, message="idle timeout")
        found = attributes()
        assert found["ConnectionDraining"] == {"Enabled": True, "Timeout": 45}
        assert (found["AccessLog"]["Enabled"], found["AccessLog"]["S3BucketName"],
                found["AccessLog"]["EmitInterval"]) == (True, "logs", 5)
        [listener] = [d["Listener"] for d in described()["ListenerDescriptions"]]
        assert (listener["Protocol"], listener["InstanceProtocol"]) == ("HTTP", "HTTP")

        # Changed: no proxy protocol, another idle timeout, TCP listeners again.
        annotate(kube, "old", {attrs.PROXY_PROTOCOL: None, classic.CONNECTION_IDLE_TIMEOUT: "120",
                               classic.BACKEND_PROTOCOL: None})
        ctl.wait_for(lambda: attributes()["ConnectionSettings"]["IdleTimeout"] == 120, message="idle timeout 120")
        ctl.wait_for(lambda: proxied() == set(), message="the policy off the instance port")
        ctl.wait_for(lambda: [(d["Listener"]["Protocol"], d["Listener"]["InstanceProtocol"])
                              for d in described()["ListenerDescriptions"]] == [("TCP", "TCP")],
                     message="a TCP listener")

        # Removed: the in-tree defaults again.
        annotate(kube, "old", {key: None for key in (
            classic.CONNECTION_IDLE_TIMEOUT, classic.CONNECTION_DRAINING_ENABLED, classic.CONNECTION_DRAINING_TIMEOUT,
            attrs.ACCESS_LOG_ENABLED, attrs.ACCESS_LOG_BUCKET, classic.ACCESS_LOG_EMIT_INTERVAL)})
        ctl.wait_for(lambda: attributes()["ConnectionSettings"]["IdleTimeout"] == 60, message="idle timeout 60")
        found = attributes()
        assert found["ConnectionDraining"]["Enabled"] is False and found["AccessLog"]["Enabled"] is False
        ctl.wait_for(lambda: attrs.MANAGED_TAG not in {t["Key"] for t in elb.describe_tags(
            LoadBalancerNames=[name])["TagDescriptions"][0]["Tags"]}, message="the record tag removed")

        kube.delete("v1", "services", "default", "old")
        wait_gone(ctl, "old")
        assert sandbox.leftovers() == []


def test_tags_removed_from_additional_resource_tags_are_removed_from_aws_and_no_others(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("tagged", annotations={a.ADDITIONAL_RESOURCE_TAGS: "team=web,cost=42"}))
        ctl.wait_for_ingress("default", "tagged")
        lb = state.load_balancer(sandbox, nlb_name("tagged"))
        assert lb is not None
        [group] = state.target_groups(sandbox, lb["LoadBalancerArn"])
        own = state.security_group(sandbox, groups_named(sandbox, security_group_name(
            CLUSTER, ServiceRef("default", "tagged"))))

        def group_tags() -> dict[str, str]:
            found = state.security_group(sandbox, own["GroupId"]).get("Tags", [])
            return {t["Key"]: t["Value"] for t in found}

        def everywhere() -> list[dict[str, str]]:
            return [state.tags(sandbox, lb["LoadBalancerArn"]), state.tags(sandbox, group), group_tags()]

        assert all(t["team"] == "web" and t["cost"] == "42" for t in everywhere())
        # A tag some other tool added (cost allocation) is never cloudlb's to remove.
        sandbox.client("elbv2").add_tags(ResourceArns=[lb["LoadBalancerArn"]], Tags=[{"Key": "billing",
                                                                                       "Value": "x"}])

        annotate(kube, "tagged", {a.ADDITIONAL_RESOURCE_TAGS: "team=api"})
        ctl.wait_for(lambda: all(t.get("team") == "api" and "cost" not in t for t in everywhere()),
                     message="cost removed, team changed")
        annotate(kube, "tagged", {a.ADDITIONAL_RESOURCE_TAGS: None})
        ctl.wait_for(lambda: all("team" not in t and tag_record.RECORD_TAG not in t for t in everywhere()),
                     message="every additional tag removed")
        assert state.tags(sandbox, lb["LoadBalancerArn"])["billing"] == "x"
        assert all(t["cloudlb.io/managed-by"] == "cloudlb" for t in everywhere())

        kube.delete("v1", "services", "default", "tagged")
        wait_gone(ctl, "tagged")
        assert sandbox.leftovers() == []


def groups_named(sandbox: MotoSandbox, name: str) -> str:
    found = sandbox.client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    return str(found["SecurityGroups"][0]["GroupId"])


def test_dualstack_needs_ipv6_subnets_then_gives_a_dualstack_nlb_open_to_both_families(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    annotations = {dual.IP_ADDRESS_TYPE: "dualstack"}
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("both", annotations=annotations))

        def named_error() -> list[dict[str, Any]]:
            return [e for e in ctl.events("default", "both")
                    if e.get("type") == "Warning" and "IPv6 CIDR" in e.get("message", "")]
        ctl.wait_for(named_error, message="a Warning naming the subnets without IPv6")
        assert state.load_balancer(sandbox, nlb_name("both")) is None

    # The subnets gain IPv6 CIDRs; a controller started now sees them (as its next sweep would).
    ec2 = sandbox.client("ec2")
    vpc = ec2.associate_vpc_cidr_block(VpcId=sandbox.vpc_id, AmazonProvidedIpv6CidrBlock=True)
    prefix = vpc["Ipv6CidrBlockAssociation"]["Ipv6CidrBlock"].split("::", 1)[0]
    for index, subnet in enumerate(sorted([*sandbox.public_subnets.values(), *sandbox.private_subnets.values()])):
        ec2.associate_subnet_cidr_block(SubnetId=subnet, Ipv6CidrBlock=f"{prefix}:{index:x}::/64")
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        ctl.wait_for_ingress("default", "both")
        lb = state.load_balancer(sandbox, nlb_name("both"))
        assert lb is not None and lb["IpAddressType"] == "dualstack"
        own = state.security_group(sandbox, groups_named(sandbox, security_group_name(
            CLUSTER, ServiceRef("default", "both"))))
        permission = own["IpPermissions"][0]
        assert [r["CidrIp"] for r in permission["IpRanges"]] == ["0.0.0.0/0"]
        assert [r["CidrIpv6"] for r in permission["Ipv6Ranges"]] == ["::/0"]

        def address_type() -> str | None:
            found = state.load_balancer(sandbox, nlb_name("both"))
            return str(found["IpAddressType"]) if found else None

        # Changed to ipv4, then the annotation removed: IPv4 only (the default), open to IPv4 only.
        annotate(kube, "both", {dual.IP_ADDRESS_TYPE: "ipv4"})
        ctl.wait_for(lambda: address_type() == "ipv4", message="ipv4")
        annotate(kube, "both", {dual.IP_ADDRESS_TYPE: "dualstack"})
        ctl.wait_for(lambda: address_type() == "dualstack", message="dualstack again")
        annotate(kube, "both", {dual.IP_ADDRESS_TYPE: None})
        ctl.wait_for(lambda: address_type() == "ipv4", message="back to ipv4")
        ctl.wait_for(lambda: not state.security_group(sandbox, own["GroupId"])["IpPermissions"][0].get(
            "Ipv6Ranges"), message="::/0 no longer allowed")

        kube.delete("v1", "services", "default", "both")
        wait_gone(ctl, "both")
        assert sandbox.leftovers() == []
