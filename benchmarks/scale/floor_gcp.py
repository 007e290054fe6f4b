"""The GCP floor: exactly the writes the GCP provider makes for a 2-port passthrough NLB, and nothing else.

Per Service (as ``cloudlb_gcp.provider`` creates it): a reserved address, a regional
health check, the traffic and health-check firewalls, a regional backend service and one
TCP forwarding rule: 6 writes. Once per cluster: an unmanaged instance group per zone and
one addInstances each. A node change is one add/removeInstances on its zone's group.
Every write is followed by one operation wait, as the provider waits (counted as polls).

The request bodies are built by the provider's own pure builders. The one difference:
the provider reads its new address back to learn the IP; the script names the IP when it
reserves the address (from the emulator's external pool), so it needs no read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudlb_gcp.compute import Location, connect
from cloudlb_gcp.emulator.rules import EXTERNAL_POOL
from cloudlb_gcp.instances import parse_provider_id
from cloudlb_gcp.names import LoadBalancerNames, instance_group_name, names_for
from cloudlb_gcp.ownership import OwnerMark
from cloudlb_gcp.resources import backend_service, firewalls, forwarding_rules, health_check
from google.cloud import compute_v1

from benchmarks.scale.cloud import CloudProcess
from benchmarks.scale.cluster import EDITED_PORT, NAMESPACE, PORTS
from benchmarks.scale.floor import FLOOR_CLUSTER
from cloudlb.model import KUBE_PROXY_HEALTH_CHECK, Port, Protocol, ServiceRef
from cloudlb.sandbox_cloud import SandboxInstance

# The emulator keeps the first addresses of its pool for itself (see its allocate_ip).
FREE_EXTERNAL_IPS = [str(ip) for ip in list(EXTERNAL_POOL.hosts())[9:]]


@dataclass(frozen=True)
class _LoadBalancer:
    ref: ServiceRef
    names: LoadBalancerNames
    mark: OwnerMark
    ip: str


class GCPFloor:
    def __init__(self, cloud: CloudProcess, services: list[str], nodes: list[SandboxInstance]) -> None:
        if len(services) > len(FREE_EXTERNAL_IPS):
            raise ValueError(f"the GCE emulator has {len(FREE_EXTERNAL_IPS)} external addresses, "
                             f"not {len(services)}")
        facts = cloud.facts
        self._compute = connect(Location(facts["project"], facts["region"]), cloud.doors["floor"])
        self._network = str(facts["network"])
        self._zones = list(facts["zones"])
        self._nodes = list(nodes)
        self._group = instance_group_name(FLOOR_CLUSTER)
        self._ports = [Port(port, Protocol(protocol), 30000 + offset) for offset, (port, protocol) in enumerate(PORTS)]
        self._balancers = [
            _LoadBalancer(ref, names_for(FLOOR_CLUSTER, ref), OwnerMark(FLOOR_CLUSTER, ref), ip)
            for ref, ip in zip((ServiceRef(NAMESPACE, name) for name in services), FREE_EXTERNAL_IPS, strict=False)
        ]

    def _write(self, doing: str, operation: compute_v1.Operation) -> None:
        self._compute.wait(operation, doing)

    def _members(self, instances: list[SandboxInstance], zone: str) -> list[compute_v1.InstanceReference]:
        return [compute_v1.InstanceReference(instance=ref.link) for i in instances
                if (ref := parse_provider_id(i.provider_id)) is not None and ref.zone == zone]

    def _traffic_rule(self, lb: _LoadBalancer, ports: list[Port]) -> compute_v1.Firewall:
        return firewalls.traffic_rule(lb.names.traffic_firewall, lb.mark, self._network, ports, lb.ip, [], [])

    def _forwarding_rule(self, lb: _LoadBalancer, ports: list[Port]) -> compute_v1.ForwardingRule:
        frontend = forwarding_rules.Frontend(
            ip=lb.ip, backend_service=self._compute.regional("backendServices", lb.names.backend_service),
            internal=False)
        return forwarding_rules.plan(lb.names, lb.mark, ports, frontend)[0]

    def create(self) -> None:
        compute, where = self._compute, self._compute.in_region
        cluster_mark = OwnerMark(FLOOR_CLUSTER)
        groups = []
        for zone in self._zones:
            group = compute_v1.InstanceGroup(name=self._group, description=cluster_mark.description,
                                             network=self._network)
            self._write("group", compute.instance_groups.insert_unary(
                project=compute.project, zone=zone, instance_group_resource=group))
            self._add(zone, self._members(self._nodes, zone))
            groups.append(compute.link(f"zones/{zone}/instanceGroups/{self._group}"))
        for lb in self._balancers:
            address = compute_v1.Address(name=lb.names.address, description=lb.mark.description,
                                         labels=lb.mark.labels, address_type="EXTERNAL", network_tier="PREMIUM",
                                         address=lb.ip)
            self._write("address", compute.addresses.insert_unary(address_resource=address, **where))
            check = health_check.desired(lb.names.health_check, lb.mark, KUBE_PROXY_HEALTH_CHECK)
            self._write("health check", compute.health_checks.insert_unary(health_check_resource=check, **where))
            self._write("traffic firewall", compute.firewalls.insert_unary(
                project=compute.project, firewall_resource=self._traffic_rule(lb, self._ports)))
            probes = firewalls.health_check_rule(lb.names.health_check_firewall, lb.mark, self._network,
                                                 KUBE_PROXY_HEALTH_CHECK.port, internal=False, target_tags=[])
            self._write("health-check firewall", compute.firewalls.insert_unary(
                project=compute.project, firewall_resource=probes))
            service = backend_service.desired(lb.names.backend_service, lb.mark, "EXTERNAL", "TCP",
                                              compute.regional("healthChecks", lb.names.health_check), groups)
            self._write("backend service", compute.backend_services.insert_unary(
                backend_service_resource=service, **where))
            self._write("forwarding rule", compute.forwarding_rules.insert_unary(
                forwarding_rule_resource=self._forwarding_rule(lb, self._ports), **where))

    def _add(self, zone: str, members: list[compute_v1.InstanceReference]) -> None:
        request = compute_v1.InstanceGroupsAddInstancesRequest(instances=members)
        self._write("add instances", self._compute.instance_groups.add_instances_unary(
            project=self._compute.project, zone=zone, instance_group=self._group,
            instance_groups_add_instances_request_resource=request))

    def add_node(self, instance: SandboxInstance) -> None:
        self._add(instance.zone, self._members([instance], instance.zone))
        self._nodes.append(instance)

    def remove_node(self, instance: SandboxInstance) -> None:
        request = compute_v1.InstanceGroupsRemoveInstancesRequest(instances=self._members([instance], instance.zone))
        self._write("remove instances", self._compute.instance_groups.remove_instances_unary(
            project=self._compute.project, zone=instance.zone, instance_group=self._group,
            instance_groups_remove_instances_request_resource=request))
        self._nodes.remove(instance)

    def edit_port(self, name: str) -> None:
        """Forwarding rules cannot change: the rule is replaced; the traffic firewall is patched."""
        compute, where = self._compute, self._compute.in_region
        old, new = EDITED_PORT
        lb = next(b for b in self._balancers if b.ref.name == name)
        self._ports = [Port(new, p.protocol, p.node_port) if p.port == old else p for p in self._ports]
        rule = self._forwarding_rule(lb, self._ports)
        self._write("delete rule", compute.forwarding_rules.delete_unary(forwarding_rule=rule.name, **where))
        self._write("insert rule", compute.forwarding_rules.insert_unary(forwarding_rule_resource=rule, **where))
        traffic = self._traffic_rule(lb, self._ports)
        self._write("patch firewall", compute.firewalls.patch_unary(
            project=compute.project, firewall=traffic.name, firewall_resource=traffic))

    def delete_all(self) -> None:
        compute, where = self._compute, self._compute.in_region
        project: dict[str, Any] = {"project": compute.project}
        for lb in self._balancers:
            names = lb.names
            self._write("rule", compute.forwarding_rules.delete_unary(
                forwarding_rule=names.forwarding_rule("TCP"), **where))
            self._write("backend", compute.backend_services.delete_unary(
                backend_service=names.backend_service, **where))
            self._write("check", compute.health_checks.delete_unary(health_check=names.health_check, **where))
            self._write("firewall", compute.firewalls.delete_unary(firewall=names.traffic_firewall, **project))
            self._write("firewall", compute.firewalls.delete_unary(firewall=names.health_check_firewall, **project))
            self._write("address", compute.addresses.delete_unary(address=names.address, **where))
        for zone in self._zones:
            self._write("group", compute.instance_groups.delete_unary(
                project=compute.project, zone=zone, instance_group=self._group))

    def close(self) -> None:
        """Nothing to undo: the script's setup made nothing."""
