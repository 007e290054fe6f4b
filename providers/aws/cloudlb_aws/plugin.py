"""Entry point of the ``aws`` provider (placeholder until the AWS provider lands)."""

from cloudlb.model import Protocol
from cloudlb.provider import Capabilities, Offering, Provider, ProviderPlugin, ProviderSettings

CAPABILITIES = Capabilities(
    offerings=(
        Offering("nlb", "Network Load Balancer", frozenset({Protocol.TCP, Protocol.UDP}), ingress="hostname"),
        Offering("clb", "Classic Elastic Load Balancer", frozenset({Protocol.TCP}),
                 same_port_tcp_udp=False, mixed_protocols=False, max_ports=100, ingress="hostname"),
    )
)


def _create(settings: ProviderSettings) -> Provider:
    raise NotImplementedError("the AWS provider is not built yet")


plugin = ProviderPlugin(name="aws", description="AWS NLB and Classic ELB (boto3)",
                        capabilities=CAPABILITIES, create=_create)
