"""The Kubernetes side of the benchmark: Nodes and LoadBalancer Services on the emulated API server."""

from __future__ import annotations

from typing import Any

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.sandbox_cloud import SandboxInstance
from cloudlb.testing import node_manifest, service_manifest

NAMESPACE = "default"
PORTS = ((80, "TCP"), (443, "TCP"))
EDITED_PORT = (80, 8080)  # the port edit: the first port of the first Service moves


def service_names(count: int) -> list[str]:
    return [f"svc-{index:04d}" for index in range(count)]


def _has_ingress(service: dict[str, Any]) -> bool:
    return bool(((service.get("status") or {}).get("loadBalancer") or {}).get("ingress"))


class Cluster:
    def __init__(self, kube: EmulatedKubernetes, provider: str) -> None:
        self.kube = kube
        # Named explicitly, so that the Services are ours whether or not unclassed ones are served.
        self.load_balancer_class = f"cloudlb.io/{provider}"

    def add_node(self, instance: SandboxInstance) -> None:
        self.kube.create(node_manifest(instance.name, provider_id=instance.provider_id,
                                       internal_ip=instance.internal_ip, zone=instance.zone))

    def remove_node(self, instance: SandboxInstance) -> None:
        self.kube.delete("v1", "nodes", None, instance.name)

    def create_services(self, names: list[str]) -> None:
        for name in names:
            self.kube.create(service_manifest(name, ports=PORTS, namespace=NAMESPACE,
                                              load_balancer_class=self.load_balancer_class))

    def services(self) -> list[dict[str, Any]]:
        """The benchmark's Services: those of type LoadBalancer (the cluster's own `kubernetes` Service is not)."""
        return [service for service in self.kube.list("v1", "services", NAMESPACE)
                if (service.get("spec") or {}).get("type") == "LoadBalancer"]

    def with_ingress(self) -> int:
        return sum(1 for service in self.services() if _has_ingress(service))

    def edit_port(self, name: str) -> None:
        """Move one port number, keeping its nodePort: the change is the listener alone."""
        old, new = EDITED_PORT
        service = self.kube.get("v1", "services", NAMESPACE, name)
        assert service is not None, name
        ports = [dict(port, port=new) if port["port"] == old else port for port in service["spec"]["ports"]]
        self.kube.patch("v1", "services", NAMESPACE, name, {"spec": {"ports": ports}})

    def edited_ports(self) -> list[int]:
        old, new = EDITED_PORT
        return sorted(new if port == old else port for port, _ in PORTS)

    def delete_services(self, names: list[str]) -> None:
        for name in names:
            self.kube.delete("v1", "services", NAMESPACE, name)
