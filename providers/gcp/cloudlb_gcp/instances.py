"""Nodes as GCE instances: parsing ``gce://PROJECT/ZONE/NAME`` and what an instance tells a load balancer.

An instance's network, subnetwork and network tags are what firewalls, instance
groups and internal forwarding rules must name. They are learnt by listing the
instances of a zone (one call for a whole zone), never one instance at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudlb_gcp.resources.common import Json, relative_link

PROVIDER_ID_PREFIX = "gce://"


@dataclass(frozen=True, order=True)
class InstanceRef:
    project: str
    zone: str
    name: str

    @property
    def link(self) -> str:
        return f"projects/{self.project}/zones/{self.zone}/instances/{self.name}"


def parse_provider_id(provider_id: str) -> InstanceRef | None:
    """The instance of ``gce://PROJECT/ZONE/INSTANCE``, or None for any other provider id.

    Nodes are shared by every load balancer, so one node of another kind (``kind://``, ``aws://``) in a
    mixed cluster is left out, as an instance that does not exist is, rather than failing them all.
    """
    parts = provider_id.removeprefix(PROVIDER_ID_PREFIX).split("/")
    if not provider_id.startswith(PROVIDER_ID_PREFIX) or len(parts) != 3 or not all(parts):
        return None
    return InstanceRef(*parts)


@dataclass(frozen=True)
class InstanceNetwork:
    """Where an instance's first interface is, and its network tags."""

    network: str
    subnetwork: str
    tags: tuple[str, ...]


def parse_instance(project: str, zone: str, item: Json) -> tuple[InstanceRef, InstanceNetwork] | None:
    """An instance of a zone listing; None for one without a network interface (it cannot be a backend)."""
    interfaces = item.get("networkInterfaces") or ()
    if not interfaces:
        return None
    nic = interfaces[0]
    return InstanceRef(project, zone, item["name"]), InstanceNetwork(
        relative_link(nic.get("network", "")), relative_link(nic.get("subnetwork", "")),
        tuple((item.get("tags") or {}).get("items") or ()))
