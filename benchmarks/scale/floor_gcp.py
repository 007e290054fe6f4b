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
from cloudlb_gcp.resources import address, backend_service, firewalls, forwarding_rules, health_check, instance_groups

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

    def _write(self, method: str, http_method: str, path: str, body: dict[str, Any] | None = None) -> None:
        self._compute.write(method, http_method, path, body)

    def _members(self, instances: list[SandboxInstance], zone: str) -> list[dict[str, str]]:
        return [{"instance": ref.link} for i in instances
                if (ref := parse_provider_id(i.provider_id)) is not None and ref.zone == zone]

    def _traffic_rule(self, lb: _LoadBalancer, ports: list[Port]) -> dict[str, Any]:
        return firewalls.body(firewalls.traffic_rule(lb.names.traffic_firewall, lb.mark, self._network, ports,
                                                     lb.ip, [], []))

    def _forwarding_rule(self, lb: _LoadBalancer, ports: list[Port]) -> dict[str, Any]:
        frontend = forwarding_rules.Frontend(
            ip=lb.ip, backend_service=self._compute.regional("backendServices", lb.names.backend_service),
            internal=False)
        return forwarding_rules.body(forwarding_rules.desired(lb.names, lb.mark, ports, frontend)[0])

    def create(self) -> None:
        compute = self._compute
        cluster_mark = OwnerMark(FLOOR_CLUSTER)
        groups = []
        for zone in self._zones:
            group = instance_groups.GroupRecord(self._group, cluster_mark, zone, self._network)
            self._write("instanceGroups.insert", "POST", compute.zonal(zone, "instanceGroups"),
                        instance_groups.body(group))
            self._add(zone, self._members(self._nodes, zone))
            groups.append(compute.link(f"zones/{zone}/instanceGroups/{self._group}"))
        for lb in self._balancers:
            reserved = address.desired(lb.names.address, lb.mark, False, None, lb.ip)
            self._write("addresses.insert", "POST", compute.regional("addresses"), address.body(reserved))
            check = health_check.desired(lb.names.health_check, lb.mark, KUBE_PROXY_HEALTH_CHECK)
            self._write("regionHealthChecks.insert", "POST", compute.regional("healthChecks"), health_check.body(check))
            self._write("firewalls.insert", "POST", compute.global_("firewalls"), self._traffic_rule(lb, self._ports))
            probes = firewalls.health_check_rule(lb.names.health_check_firewall, lb.mark, self._network,
                                                 KUBE_PROXY_HEALTH_CHECK.port, internal=False, target_tags=[])
            self._write("firewalls.insert", "POST", compute.global_("firewalls"), firewalls.body(probes))
            service = backend_service.desired(lb.names.backend_service, lb.mark, "EXTERNAL", "TCP",
                                              compute.regional("healthChecks", lb.names.health_check), groups)
            self._write("regionBackendServices.insert", "POST", compute.regional("backendServices"),
                        backend_service.body(service))
            self._write("forwardingRules.insert", "POST", compute.regional("forwardingRules"),
                        self._forwarding_rule(lb, self._ports))

    def _add(self, zone: str, members: list[dict[str, str]]) -> None:
        self._write("instanceGroups.addInstances", "POST",
                    self._compute.zonal(zone, "instanceGroups", self._group) + "/addInstances", {"instances": members})

    def add_node(self, instance: SandboxInstance) -> None:
        self._add(instance.zone, self._members([instance], instance.zone))
        self._nodes.append(instance)

    def remove_node(self, instance: SandboxInstance) -> None:
        self._write("instanceGroups.removeInstances", "POST",
                    self._compute.zonal(instance.zone, "instanceGroups", self._group) + "/removeInstances",
                    {"instances": self._members([instance], instance.zone)})
        self._nodes.remove(instance)

    def edit_port(self, name: str) -> None:
        """Forwarding rules cannot change: the rule is replaced; the traffic firewall is patched."""
        compute = self._compute
        old, new = EDITED_PORT
        lb = next(b for b in self._balancers if b.ref.name == name)
        self._ports = [Port(new, p.protocol, p.node_port) if p.port == old else p for p in self._ports]
        rule = self._forwarding_rule(lb, self._ports)
        self._write("forwardingRules.delete", "DELETE", compute.regional("forwardingRules", rule["name"]))
        self._write("forwardingRules.insert", "POST", compute.regional("forwardingRules"), rule)
        traffic = self._traffic_rule(lb, self._ports)
        self._write("firewalls.patch", "PATCH", compute.global_("firewalls", traffic["name"]), traffic)

    def delete_all(self) -> None:
        compute = self._compute
        for lb in self._balancers:
            names = lb.names
            self._write("forwardingRules.delete", "DELETE", compute.regional("forwardingRules",
                                                                             names.forwarding_rule("TCP")))
            self._write("regionBackendServices.delete", "DELETE", compute.regional("backendServices",
                                                                                   names.backend_service))
            self._write("regionHealthChecks.delete", "DELETE", compute.regional("healthChecks", names.health_check))
            self._write("firewalls.delete", "DELETE", compute.global_("firewalls", names.traffic_firewall))
            self._write("firewalls.delete", "DELETE", compute.global_("firewalls", names.health_check_firewall))
            self._write("addresses.delete", "DELETE", compute.regional("addresses", names.address))
        for zone in self._zones:
            self._write("instanceGroups.delete", "DELETE", compute.zonal(zone, "instanceGroups", self._group))

    def close(self) -> None:
        """Nothing to undo: the script's setup made nothing."""
