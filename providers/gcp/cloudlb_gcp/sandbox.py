"""``cloudlb sandbox --provider gcp``: the GCE emulator seeded as a small cluster's VMs."""

from __future__ import annotations

from collections.abc import Sequence

from cloudlb.sandbox_cloud import SandboxCloud, SandboxInstance
from cloudlb_gcp.emulator import GCEEmulator

SANDBOX_PROJECT = "cloudlb-sandbox"
SANDBOX_REGION = "us-central1"
ZONES = ("a", "b")
SUBNET_CIDR = "10.128.0.0/20"


def seed_cluster(emulator: GCEEmulator, nodes: int) -> list[SandboxInstance]:
    """A network, a subnetwork and ``nodes`` instances spread over two zones of the region."""
    emulator.add_network("default")
    emulator.add_subnetwork("default", "default", SUBNET_CIDR)
    instances = []
    for index in range(nodes):
        zone = f"{emulator.region}-{ZONES[index % len(ZONES)]}"
        name = f"node-{index + 1}"
        ip = f"10.128.0.{index + 2}"
        emulator.add_instance(zone, name, ip)
        instances.append(SandboxInstance(name=name, provider_id=f"gce://{emulator.project}/{zone}/{name}",
                                         zone=zone, internal_ip=ip))
    return instances


class GCPSandbox(SandboxCloud):
    def __init__(self, emulator: GCEEmulator, instances: Sequence[SandboxInstance]) -> None:
        self.emulator = emulator
        self.instances = tuple(instances)
        self.endpoint = emulator.url
        self.options = {"gcp-project": emulator.project, "gcp-region": emulator.region,
                        "gcp-endpoint": emulator.url}
        self.environment = {}
        self._closed = False

    def leftovers(self) -> Sequence[str]:
        return self.emulator.leftovers()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.emulator.stop()


def start_sandbox(nodes: int = 3, cluster_name: str = "sandbox") -> GCPSandbox:
    emulator = GCEEmulator(project=SANDBOX_PROJECT, region=SANDBOX_REGION)
    instances = seed_cluster(emulator, nodes)
    emulator.start()
    return GCPSandbox(emulator, instances)
