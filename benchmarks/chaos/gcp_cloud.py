"""The chaos run's eyes on the GCP side: forwarding rules and whose they are, read from the GCE emulator directly.

Reads go to the emulator's own endpoint, not through the fault proxy. Ownership is read from
the mark cloudlb documents (the JSON description naming the cluster and the Service,
``cloudlb_gcp.ownership``). A Service's load balancer is its forwarding rules on one address;
two addresses for one Service are two load balancers.

Foreign resources planted before the controller starts: an address, a regional health check
and a firewall rule with names like the controller's and no mark, and an address marked by
another cluster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cloudlb_gcp.compute import Compute, ComputeError, Location, connect
from cloudlb_gcp.ownership import CLUSTER_KEY, SERVICE_KEY, read_mark

from benchmarks.chaos.aws_cloud import LoadBalancer
from cloudlb.model import ServiceRef
from cloudlb.sandbox_cloud import SandboxInstance

MARK_CLUSTER_TAG = "cloudlb.io/cluster"


class GcpCloud:
    def __init__(self, endpoint: str, cluster: str, project: str, region: str) -> None:
        self.compute: Compute = connect(Location(project, region), endpoint)
        self.cluster = cluster
        self.foreign: dict[str, str] = {}  # label -> API path of the planted resource
        self.foreign_reads: dict[str, str] = {}  # label -> the SDK method that reads it ("addresses.get")

    def load_balancers(self) -> list[LoadBalancer]:
        """One per (owner, address): the forwarding rules of a Service that share an address are one load balancer."""
        grouped: dict[tuple[str, str], LoadBalancer] = {}
        for rule in self.compute.items("forwardingRules.list", self.compute.regional("forwardingRules")):
            mark = read_mark(str(rule.get("description") or ""))
            owner = str(mark.service) if mark is not None and mark.cluster == self.cluster and mark.service else ""
            address = str(rule.get("IPAddress") or "")
            tags = {"cloudlb.io/cluster": mark.cluster, "cloudlb.io/managed-by": "cloudlb",
                    "kubernetes.io/service-name": owner} if mark is not None and owner else {}
            grouped[(owner or str(rule.get("name")), address)] = LoadBalancer(
                str(rule.get("name")), "passthrough", rule.get("loadBalancingScheme") == "INTERNAL", address, tags)
        return list(grouped.values())

    def by_service(self) -> dict[str, list[LoadBalancer]]:
        owned: dict[str, list[LoadBalancer]] = {}
        for lb in self.load_balancers():
            owner = lb.owner(self.cluster)
            if owner is not None:
                owned.setdefault(owner, []).append(lb)
        return owned

    def plant_foreign(self, instances: Sequence[SandboxInstance], services: Sequence[ServiceRef]) -> None:
        first, second, third, fourth = services[:4]
        compute = self.compute
        plants: list[tuple[str, str, str, dict[str, Any]]] = [
            ("unmarked address", "addresses.insert", compute.regional("addresses"),
             {"name": f"clb-default-{first.name}-ffffffffff", "addressType": "EXTERNAL"}),
            ("unmarked health check", "regionHealthChecks.insert", compute.regional("healthChecks"),
             {"name": f"clb-default-{second.name}-ffffffffff", "type": "TCP", "tcpHealthCheck": {"port": 30080}}),
            ("unmarked firewall", "firewalls.insert", compute.global_("firewalls"),
             {"name": f"clb-default-{third.name}-ffffffffff", "network": "global/networks/default",
              "sourceRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "tcp", "ports": ["30080"]}],
              "targetTags": ["nodes"]}),
            ("other cluster's address", "addresses.insert", compute.regional("addresses"),
             {"name": f"clb-default-{fourth.name}-eeeeeeeeee", "addressType": "EXTERNAL",
              "description": json.dumps({CLUSTER_KEY: "another-cluster", SERVICE_KEY: str(fourth)})}),
        ]
        for label, method, collection, body in plants:
            compute.write(method, "POST", collection, body)
            self.foreign[label] = f"{collection}/{body['name']}"
            self.foreign_reads[label] = method.replace(".insert", ".get")

    def foreign_snapshot(self) -> dict[str, str]:
        snapshot: dict[str, str] = {}
        for label, path in self.foreign.items():
            try:
                found = self.compute.get(self.foreign_reads[label], path)
            except ComputeError as error:
                found = {"error": str(error)}
            snapshot[label] = json.dumps(found, sort_keys=True) if found is not None else "deleted"
        return snapshot

    def foreign_identifiers(self) -> list[str]:
        return sorted({path.rsplit("/", 1)[-1] for path in self.foreign.values()})

    def is_foreign_leftover(self, line: str) -> bool:
        return any(name in line for name in self.foreign_identifiers())
