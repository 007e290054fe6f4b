"""Starting an emulated cloud and reading its state back, for the checks that every Service converged.

Runs inside the cloud's own process (``cloud_host``), next to the emulator; its reads go
straight to the emulator, not through a door, so they are never counted. Each inspector
knows one cloud's names for the controller's resources (taken from the provider's own
naming functions, which are pure).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

from cloudlb_aws.naming import NAME_PREFIX, load_balancer_name
from cloudlb_aws.placement import instance_id
from cloudlb_aws.sandbox import MotoSandbox
from cloudlb_gcp.instances import parse_provider_id
from cloudlb_gcp.names import instance_group_name, names_for
from cloudlb_gcp.sandbox import start_sandbox
from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from cloudlb.model import ServiceRef
from cloudlb.sandbox_cloud import SandboxCloud

Facts = dict[str, Any]


class Inspector(Protocol):
    cloud: SandboxCloud

    def facts(self) -> Facts:
        """What a script needs to create load balancers without reading first (VPC, subnets, networks...)."""

    def backends(self, provider_ids: Sequence[str]) -> dict[str, Any]:
        """``{"groups": how many target/instance groups were checked, "mismatched": [...]}`` against these nodes."""

    def frontend_ports(self, namespace: str, name: str) -> list[int]:
        """The ports the Service's load balancer listens on now."""


class AWSInspector:
    def __init__(self, nodes: int, cluster: str) -> None:

        self.sandbox = MotoSandbox(nodes, cluster)
        self.cloud: SandboxCloud = self.sandbox
        self.cluster = cluster

    def facts(self) -> Facts:
        return {"vpc_id": self.sandbox.vpc_id, "subnets": sorted(self.sandbox.public_subnets.values()),
                "node_group_id": self.sandbox.node_group_id}

    def backends(self, provider_ids: Sequence[str]) -> dict[str, Any]:
        wanted = {iid for p in provider_ids if (iid := instance_id(p))}
        elbv2 = self.sandbox.client("elbv2")
        groups = [g for page in elbv2.get_paginator("describe_target_groups").paginate()
                  for g in page["TargetGroups"] if g["TargetGroupName"].startswith(NAME_PREFIX)]
        mismatched = []
        for group in groups:
            health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
            have = {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]
                    if (d.get("TargetHealth") or {}).get("State") != "draining"}
            if have != wanted:
                mismatched.append(f"{group['TargetGroupName']}: {sorted(have)}")
        return {"groups": len(groups), "mismatched": mismatched}

    def frontend_ports(self, namespace: str, name: str) -> list[int]:
        elbv2 = self.sandbox.client("elbv2")
        lb_name = load_balancer_name(self.cluster, ServiceRef(namespace, name), "nlb", internal=False)
        found = elbv2.describe_load_balancers(Names=[lb_name])["LoadBalancers"]
        listeners = elbv2.describe_listeners(LoadBalancerArn=found[0]["LoadBalancerArn"])["Listeners"]
        return sorted(int(listener["Port"]) for listener in listeners)


class GCPInspector:
    def __init__(self, nodes: int, cluster: str) -> None:

        self.sandbox = start_sandbox(nodes, cluster)
        self.cloud: SandboxCloud = self.sandbox
        self.cluster = cluster
        emulator = self.sandbox.emulator
        self.rules = compute_v1.ForwardingRulesClient(
            credentials=AnonymousCredentials(), transport="rest",  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": emulator.url})

    def facts(self) -> Facts:
        emulator = self.sandbox.emulator
        return {"project": emulator.project, "region": emulator.region,
                "network": f"projects/{emulator.project}/global/networks/default",
                "zones": sorted({i.zone for i in self.sandbox.instances})}

    def backends(self, provider_ids: Sequence[str]) -> dict[str, Any]:

        wanted: dict[str, set[str]] = defaultdict(set)
        for provider_id in provider_ids:
            if (ref := parse_provider_id(provider_id)) is not None:
                wanted[ref.zone].add(ref.name)
        group = instance_group_name(self.cluster)
        zones = sorted({i.zone for i in self.sandbox.instances})
        mismatched = [f"{zone}/{group}: {have}" for zone in zones
                      if set(have := self.sandbox.emulator.members(zone, group)) != wanted.get(zone, set())]
        return {"groups": len(zones), "mismatched": mismatched}

    def frontend_ports(self, namespace: str, name: str) -> list[int]:

        rule = names_for(self.cluster, ServiceRef(namespace, name)).forwarding_rule("TCP")
        emulator = self.sandbox.emulator
        try:
            found = self.rules.get(project=emulator.project, region=emulator.region, forwarding_rule=rule)
        except NotFound:
            return []  # between the old rule's delete and the new one's insert
        return sorted(int(port) for port in found.ports)


def start_inspector(provider: str, nodes: int, cluster: str) -> Inspector:
    inspectors: dict[str, type[AWSInspector] | type[GCPInspector]] = {"aws": AWSInspector, "gcp": GCPInspector}
    return inspectors[provider](nodes, cluster)
