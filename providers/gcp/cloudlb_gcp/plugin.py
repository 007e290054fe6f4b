"""Entry point of the ``gcp`` provider (group ``cloudlb.providers``)."""

from __future__ import annotations

from typing import Any

from cloudlb.provider import Provider, ProviderOption, ProviderPlugin, ProviderSettings
from cloudlb_gcp.capabilities import CAPABILITIES

OPTIONS = (
    ProviderOption("gcp-project", "GCP project id (default: from the metadata server)"),
    ProviderOption("gcp-region", "GCP region (default: from the metadata server)"),
    ProviderOption("gcp-endpoint", "Compute API endpoint, e.g. an emulator's http://127.0.0.1:PORT"),
)


def create(settings: ProviderSettings) -> Provider[Any]:
    """Clients on the given endpoint (anonymous) or Google's (default credentials); project and region from
    the options, else from the metadata server of the VM the controller runs on."""
    # Imported here so that listing plugins does not import google-cloud-compute.
    from cloudlb_gcp import metadata  # noqa: PLC0415
    from cloudlb_gcp.compute import Location, connect  # noqa: PLC0415
    from cloudlb_gcp.provider import GCPProvider  # noqa: PLC0415

    options = settings.options
    project = options.get("gcp_project") or metadata.discover_project()
    region = options.get("gcp_region") or metadata.discover_region()
    compute = connect(Location(project, region), options.get("gcp_endpoint") or None)
    return GCPProvider(settings.cluster_name, compute)


def sandbox(nodes: int = 3, cluster_name: str = "sandbox") -> object:
    from cloudlb_gcp.sandbox import start_sandbox  # noqa: PLC0415

    return start_sandbox(nodes=nodes, cluster_name=cluster_name)


plugin = ProviderPlugin(
    name="gcp",
    description="GCP passthrough Network Load Balancers, external and internal (google-cloud-compute)",
    capabilities=CAPABILITIES,
    create=create,
    options=OPTIONS,
    sandbox=sandbox,
)
