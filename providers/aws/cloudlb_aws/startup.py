"""The AWS provider's start-up check: a region, and credentials that may make one cheap read.

Without it, a controller with no region starts "fine" and then fails every
Service with ``You must specify a region`` as a retryable error. The region is
found the way the provider's clients find it (``AWS_REGION``, else botocore's
own ``AWS_DEFAULT_REGION`` and config files); the read is
``DescribeLoadBalancers`` with a page size of one, which the IAM policy grants.
"""

from __future__ import annotations

import os

import boto3
import botocore.config
import botocore.exceptions

from cloudlb.provider import StartupCheckFailed

# A check must answer within seconds: no long retries, short timeouts.
CHECK_CONFIG = botocore.config.Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3,
                                      read_timeout=5, user_agent_extra="cloudlb")
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
REFUSED_CREDENTIALS = frozenset({"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
                                 "ExpiredToken", "ExpiredTokenException", "AuthFailure", "InvalidAccessKeyId",
                                 "IncompleteSignature"})


def region() -> str | None:
    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name


def check() -> None:
    """Raise StartupCheckFailed with the setting to fix, or return when AWS answers a read."""
    found = region()
    if not found:
        raise StartupCheckFailed("no AWS region is set: set AWS_REGION (the chart's aws.region), or run where "
                                 "IRSA or EKS Pod Identity sets it")
    client = boto3.session.Session().client("elbv2", region_name=found, config=CHECK_CONFIG)
    try:
        client.describe_load_balancers(PageSize=1)
    except botocore.exceptions.NoCredentialsError as exc:
        raise StartupCheckFailed("no AWS credentials found: give the service account an IAM role (IRSA or EKS Pod "
                                 "Identity), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the chart's "
                                 "staticCredentials)") from exc
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if code in DENIED:
            raise StartupCheckFailed(f"the AWS credentials may not call elasticloadbalancing:DescribeLoadBalancers "
                                     f"({code}): attach providers/aws/iam-policy.json to the controller's IAM "
                                     "role") from exc
        if code in REFUSED_CREDENTIALS:
            raise StartupCheckFailed(f"AWS refused the credentials ({code}: {message}): renew them, or fix the "
                                     "role or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY") from exc
        raise StartupCheckFailed(f"AWS answered {code} to DescribeLoadBalancers in {found}: {message}") from exc
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
            botocore.exceptions.ReadTimeoutError) as exc:
        raise StartupCheckFailed(f"cannot reach the AWS load balancing API in region {found} ({exc}): check "
                                 "AWS_REGION, AWS_ENDPOINT_URL and the network (a VPC endpoint or a NAT "
                                 "gateway)") from exc
