"""The GCP floor: exactly the writes the GCP provider makes for a 2-port passthrough NLB, and nothing else.

Per Service (as ``cloudlb_gcp.provider`` creates it): a reserved address, a regional
health check, the traffic and health-check firewalls, a regional backend service and one
TCP forwarding rule: 6 writes. Once per cluster: an unmanaged instance group per zone and
one addInstances each. A node change is one add/removeInstances on its zone's group.
Every write is followed by one operation wait, as the provider waits (counted as polls).

A straight-line sequence of google-cloud-compute calls (``*_unary``, then the operations
client's ``wait``), one client per collection, none of the provider's request plumbing. The
request bodies are built by the provider's own pure builders (the API's JSON, parsed into the
SDK's messages). The one difference: the provider reads its new address back to learn the IP;
the script names the IP when it reserves the address (from the emulator's external pool), so
it needs no read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from cloudlb_gcp.emulator.rules import EXTERNAL_POOL
from cloudlb_gcp.instances import parse_provider_id
from cloudlb_gcp.names import LoadBalancerNames, instance_group_name, names_for
from cloudlb_gcp.ownership import OwnerMark
from cloudlb_gcp.resources import address, backend_service, firewalls, forwarding_rules, health_check, instance_groups
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1
from google.protobuf import json_format  # type: ignore[import-untyped]

from benchmarks.scale.cloud import CloudProcess
from benchmarks.scale.cluster import EDITED_PORT, NAMESPACE, PORTS
from benchmarks.scale.floor import FLOOR_CLUSTER
from cloudlb.model import KUBE_PROXY_HEALTH_CHECK, Port, Protocol, ServiceRef
from cloudlb.sandbox_cloud import SandboxInstance

# The emulator keeps the first addresses of its pool for itself (see its allocate_ip).
FREE_EXTERNAL_IPS = [str(ip) for ip in list(EXTERNAL_POOL.hosts())[9:]]
DONE = compute_v1.Operation.Status.DONE
M = TypeVar("M")


def message(cls: type[M], body: dict[str, Any]) -> M:
    """A resource message from the API's JSON, as the provider's builders make it."""
    proto_plus: Any = cls
    parsed: M = proto_plus.wrap(json_format.ParseDict(body, proto_plus.pb()()))
    return parsed


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
        options: dict[str, Any] = {"credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
                                   "transport": "rest", "client_options": {"api_endpoint": cloud.doors["floor"]}}
        self._addresses = compute_v1.AddressesClient(**options)
        self._checks = compute_v1.RegionHealthChecksClient(**options)
        self._firewalls = compute_v1.FirewallsClient(**options)
        self._services = compute_v1.RegionBackendServicesClient(**options)
        self._rules = compute_v1.ForwardingRulesClient(**options)
        self._groups = compute_v1.InstanceGroupsClient(**options)
        self._region_operations = compute_v1.RegionOperationsClient(**options)
        self._zone_operations = compute_v1.ZoneOperationsClient(**options)
        self._global_operations = compute_v1.GlobalOperationsClient(**options)
        self._project, self._region = str(facts["project"]), str(facts["region"])
        self._where: dict[str, Any] = {"project": self._project, "region": self._region}
        self._network = str(facts["network"])
        self._zones = list(facts["zones"])
        self._nodes = list(nodes)
        self._group = instance_group_name(FLOOR_CLUSTER)
        self._ports = [Port(port, Protocol(protocol), 30000 + offset) for offset, (port, protocol) in enumerate(PORTS)]
        self._balancers = [
            _LoadBalancer(ref, names_for(FLOOR_CLUSTER, ref), OwnerMark(FLOOR_CLUSTER, ref), ip)
            for ref, ip in zip((ServiceRef(NAMESPACE, name) for name in services), FREE_EXTERNAL_IPS, strict=False)
        ]

    def _link(self, relative: str) -> str:
        return f"projects/{self._project}/{relative}"

    def _wait(self, operation: compute_v1.Operation) -> None:
        """Wait on the operation's own scope until it is done, as the provider does; raise if it failed."""
        while operation.status != DONE:
            if operation.zone:
                operation = self._zone_operations.wait(project=self._project, zone=operation.zone.rsplit("/", 1)[1],
                                                       operation=operation.name)
            elif operation.region:
                operation = self._region_operations.wait(operation=operation.name, **self._where)
            else:
                operation = self._global_operations.wait(project=self._project, operation=operation.name)
        if operation.error.errors:
            raise RuntimeError(f"operation {operation.name} failed: {operation.error.errors[0].message}")

    def _members(self, instances: list[SandboxInstance], zone: str) -> list[compute_v1.InstanceReference]:
        return [compute_v1.InstanceReference(instance=ref.link) for i in instances
                if (ref := parse_provider_id(i.provider_id)) is not None and ref.zone == zone]

    def _traffic_rule(self, lb: _LoadBalancer, ports: list[Port]) -> compute_v1.Firewall:
        return message(compute_v1.Firewall, firewalls.body(firewalls.traffic_rule(
            lb.names.traffic_firewall, lb.mark, self._network, ports, lb.ip, [], [])))

    def _forwarding_rule(self, lb: _LoadBalancer, ports: list[Port]) -> compute_v1.ForwardingRule:
        frontend = forwarding_rules.Frontend(
            ip=lb.ip, backend_service=self._link(f"regions/{self._region}/backendServices/{lb.names.backend_service}"),
            internal=False)
        return message(compute_v1.ForwardingRule,
                       forwarding_rules.body(forwarding_rules.desired(lb.names, lb.mark, ports, frontend)[0]))

    def create(self) -> None:
        cluster_mark = OwnerMark(FLOOR_CLUSTER)
        groups = []
        for zone in self._zones:
            group = instance_groups.GroupRecord(self._group, cluster_mark, zone, self._network)
            self._wait(self._groups.insert_unary(project=self._project, zone=zone, instance_group_resource=message(
                compute_v1.InstanceGroup, instance_groups.body(group))))
            self._add(zone, self._members(self._nodes, zone))
            groups.append(self._link(f"zones/{zone}/instanceGroups/{self._group}"))
        for lb in self._balancers:
            reserved = address.desired(lb.names.address, lb.mark, False, None, lb.ip)
            self._wait(self._addresses.insert_unary(
                address_resource=message(compute_v1.Address, address.body(reserved)), **self._where))
            check = health_check.desired(lb.names.health_check, lb.mark, KUBE_PROXY_HEALTH_CHECK)
            self._wait(self._checks.insert_unary(
                health_check_resource=message(compute_v1.HealthCheck, health_check.body(check)), **self._where))
            self._wait(self._firewalls.insert_unary(project=self._project,
                                                    firewall_resource=self._traffic_rule(lb, self._ports)))
            probes = firewalls.health_check_rule(lb.names.health_check_firewall, lb.mark, self._network,
                                                 KUBE_PROXY_HEALTH_CHECK.port, internal=False, target_tags=[])
            self._wait(self._firewalls.insert_unary(project=self._project, firewall_resource=message(
                compute_v1.Firewall, firewalls.body(probes))))
            service = backend_service.desired(
                lb.names.backend_service, lb.mark, "EXTERNAL", "TCP",
                self._link(f"regions/{self._region}/healthChecks/{lb.names.health_check}"), groups)
            self._wait(self._services.insert_unary(backend_service_resource=message(
                compute_v1.BackendService, backend_service.body(service)), **self._where))
            self._wait(self._rules.insert_unary(forwarding_rule_resource=self._forwarding_rule(lb, self._ports),
                                                **self._where))

    def _add(self, zone: str, members: list[compute_v1.InstanceReference]) -> None:
        request = compute_v1.InstanceGroupsAddInstancesRequest(instances=members)
        self._wait(self._groups.add_instances_unary(project=self._project, zone=zone, instance_group=self._group,
                                                    instance_groups_add_instances_request_resource=request))

    def add_node(self, instance: SandboxInstance) -> None:
        self._add(instance.zone, self._members([instance], instance.zone))
        self._nodes.append(instance)

    def remove_node(self, instance: SandboxInstance) -> None:
        request = compute_v1.InstanceGroupsRemoveInstancesRequest(instances=self._members([instance], instance.zone))
        self._wait(self._groups.remove_instances_unary(
            project=self._project, zone=instance.zone, instance_group=self._group,
            instance_groups_remove_instances_request_resource=request))
        self._nodes.remove(instance)

    def edit_port(self, name: str) -> None:
        """Forwarding rules cannot change: the rule is replaced; the traffic firewall is patched."""
        old, new = EDITED_PORT
        lb = next(b for b in self._balancers if b.ref.name == name)
        self._ports = [Port(new, p.protocol, p.node_port) if p.port == old else p for p in self._ports]
        rule = self._forwarding_rule(lb, self._ports)
        self._wait(self._rules.delete_unary(forwarding_rule=rule.name, **self._where))
        self._wait(self._rules.insert_unary(forwarding_rule_resource=rule, **self._where))
        traffic = self._traffic_rule(lb, self._ports)
        self._wait(self._firewalls.patch_unary(project=self._project, firewall=traffic.name,
                                               firewall_resource=traffic))

    def delete_all(self) -> None:
        project = self._project
        for lb in self._balancers:
            names = lb.names
            self._wait(self._rules.delete_unary(forwarding_rule=names.forwarding_rule("TCP"), **self._where))
            self._wait(self._services.delete_unary(backend_service=names.backend_service, **self._where))
            self._wait(self._checks.delete_unary(health_check=names.health_check, **self._where))
            self._wait(self._firewalls.delete_unary(project=project, firewall=names.traffic_firewall))
            self._wait(self._firewalls.delete_unary(project=project, firewall=names.health_check_firewall))
            self._wait(self._addresses.delete_unary(address=names.address, **self._where))
        for zone in self._zones:
            self._wait(self._groups.delete_unary(project=project, zone=zone, instance_group=self._group))

    def close(self) -> None:
        """Nothing to undo: the script's setup made nothing."""
