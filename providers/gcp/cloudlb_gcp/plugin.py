"""Entry point of the ``gcp`` provider (placeholder until the GCP provider lands)."""

from cloudlb.model import Protocol
from cloudlb.provider import Capabilities, Offering, Provider, ProviderOption, ProviderPlugin, ProviderSettings

CAPABILITIES = Capabilities(
    offerings=(
        Offering("external", "External passthrough Network Load Balancer",
                 frozenset({Protocol.TCP, Protocol.UDP})),
        Offering("internal", "Internal passthrough Network Load Balancer",
                 frozenset({Protocol.TCP, Protocol.UDP, Protocol.SCTP})),
    )
)


def _create(settings: ProviderSettings) -> Provider:
    raise NotImplementedError("the GCP provider is not built yet")


plugin = ProviderPlugin(
    name="gcp", description="GCP passthrough Network Load Balancers (google-cloud-compute)",
    capabilities=CAPABILITIES, create=_create,
    options=(
        ProviderOption("gcp-project", "GCP project id (default: from the metadata server)"),
        ProviderOption("gcp-region", "GCP region (default: from the metadata server)"),
        ProviderOption("gcp-endpoint", "Compute API endpoint, e.g. an emulator's http://127.0.0.1:PORT"),
    ),
)
