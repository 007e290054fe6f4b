"""Entry point of the ``aws`` provider: Network Load Balancers (default) and Classic ELBs through boto3."""

from cloudlb.provider import ProviderOption, ProviderPlugin
from cloudlb_aws.capabilities import CAPABILITIES
from cloudlb_aws.provider import DEFAULT_TYPE_OPTION, create_provider
from cloudlb_aws.sandbox import start_sandbox

plugin = ProviderPlugin(
    name="aws",
    description="AWS Network Load Balancers and Classic ELBs (boto3; region and endpoint from the AWS environment)",
    capabilities=CAPABILITIES,
    create=create_provider,
    options=(
        ProviderOption(
            DEFAULT_TYPE_OPTION,
            "load balancer for Services without service.beta.kubernetes.io/aws-load-balancer-type: "
            "nlb (Network Load Balancer) or clb (Classic ELB, the upstream default)",
            default="nlb",
        ),
    ),
    sandbox=start_sandbox,
)
