"""Entry point of the ``aws`` provider: Network Load Balancers (default) and Classic ELBs through boto3.

Only static facts are imported here, so that ``cloudlb providers`` and
``cloudlb run --help`` do not load boto3 or moto.
"""

from typing import Any

from cloudlb.provider import Provider, ProviderOption, ProviderPlugin, ProviderSettings
from cloudlb_aws.capabilities import CAPABILITIES

DEFAULT_TYPE = ProviderOption(
    "aws-default-type",
    "load balancer for Services without service.beta.kubernetes.io/aws-load-balancer-type: "
    "nlb (Network Load Balancer) or clb (Classic ELB, the upstream default)",
    default="nlb",
)


def create(settings: ProviderSettings) -> Provider[Any]:
    """Region, endpoint and credentials come from boto3's own environment (AWS_REGION, AWS_ENDPOINT_URL, ...)."""
    from cloudlb_aws.provider import AWSProvider  # noqa: PLC0415

    return AWSProvider(settings)


def sandbox(nodes: int = 3, cluster_name: str = "sandbox") -> object:
    from cloudlb_aws.sandbox import MotoSandbox  # noqa: PLC0415

    return MotoSandbox(nodes, cluster_name)


plugin = ProviderPlugin(
    name="aws",
    description="AWS Network Load Balancers and Classic ELBs (boto3)",
    capabilities=CAPABILITIES,
    create=create,
    options=(DEFAULT_TYPE,),
    sandbox=sandbox,
)
