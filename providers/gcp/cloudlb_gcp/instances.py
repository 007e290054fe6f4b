"""Nodes as GCE instances: parsing ``gce://PROJECT/ZONE/NAME`` and learning each instance's network and tags.

An instance's network, subnetwork and network tags do not change while it
lives, so they are read once per instance and cached: a resync or a node
joining costs at most one ``instances.get`` for the new instance.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cloudlb.provider import PermanentError
from cloudlb_gcp.compute import READ_RETRY, REQUEST_TIMEOUT, Compute
from cloudlb_gcp.resources.calls import read

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
    """Where an instance's first interface is: what firewalls and internal rules must name."""

    network: str
    subnetwork: str
    tags: tuple[str, ...]


def relative_link(link: str) -> str:
    """A full Compute URL as ``projects/...``, so that links compare equal however they were written."""
    return "projects/" + link.split("projects/", 1)[1] if "projects/" in link else link


class InstanceDirectory:
    """Looks up instances once and remembers them; safe to use from several threads."""

    def __init__(self, compute: Compute) -> None:
        self._compute = compute
        self._known: dict[InstanceRef, InstanceNetwork] = {}
        self._lock = threading.Lock()

    def network_of(self, ref: InstanceRef) -> InstanceNetwork | None:
        """The instance's network, or None when the instance does not exist (a Node outliving its VM)."""
        with self._lock:
            known = self._known.get(ref)
        if known is not None:
            return known
        instance = read(f"reading instance {ref.link}", lambda: self._compute.instances.get(
            project=ref.project, zone=ref.zone, instance=ref.name, retry=READ_RETRY, timeout=REQUEST_TIMEOUT))
        if instance is None:
            return None
        if not instance.network_interfaces:
            raise PermanentError(f"instance {ref.link} has no network interface")
        nic = instance.network_interfaces[0]
        found = InstanceNetwork(relative_link(nic.network), relative_link(nic.subnetwork),
                                tuple(instance.tags.items) if instance.tags else ())
        with self._lock:
            self._known[ref] = found
        return found
