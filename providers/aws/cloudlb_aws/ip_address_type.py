"""Dual-stack NLBs: ``aws-load-balancer-ip-address-type: dualstack``, or a Service whose ``ipFamilies`` include IPv6.

aws-load-balancer-controller's annotation takes ``ipv4`` (the default) and
``dualstack``. A Service asking for IPv6 through ``ipFamilies`` gets a
dual-stack NLB too (an NLB has no IPv6-only form); its DNS name then answers
A and AAAA records. AWS needs an IPv6 CIDR on every subnet of a dual-stack
NLB: without one the Service gets the named error ``SubnetWithoutIPv6``. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from cloudlb.model import IPV6, REQUIRE_DUAL_STACK, LoadBalancerSpec
from cloudlb.parsing import ascii_lower, quoted
from cloudlb.problems import Problem
from cloudlb_aws.annotation_values import present, problem
from cloudlb_aws.annotations import PREFIX
from cloudlb_aws.records import Subnet

IP_ADDRESS_TYPE = PREFIX + "ip-address-type"
IPV4_TYPE, DUALSTACK = "ipv4", "dualstack"
SUBNET_WITHOUT_IPV6 = "SubnetWithoutIPv6"
# A dual-stack load balancer's listeners are open to both families when no source range is given (LBC's default).
OPEN_TO_ALL = ("0.0.0.0/0", "::/0")


def _annotated(spec: LoadBalancerSpec) -> str | None:
    value = present(spec.annotations, IP_ADDRESS_TYPE)
    return None if value is None else ascii_lower(value)


def wanted(spec: LoadBalancerSpec) -> str:
    """``dualstack`` when the annotation or the Service's IP families ask for IPv6; else ``ipv4``."""
    annotated = _annotated(spec)
    if annotated == DUALSTACK or (annotated != IPV4_TYPE and IPV6 in spec.ip_families):
        return DUALSTACK
    return IPV4_TYPE


def problems(spec: LoadBalancerSpec) -> list[Problem]:
    annotated = _annotated(spec)
    if annotated is None:
        return []
    if annotated not in (IPV4_TYPE, DUALSTACK):
        return [problem(IP_ADDRESS_TYPE, f"{quoted(annotated)} is not ipv4 or dualstack")]
    if annotated == IPV4_TYPE and IPV6 in spec.ip_families:
        # A conflicting pair: fatal when the Service cannot do without IPv6, else served on IPv4 and said.
        needs = spec.ip_families[0] == IPV6 or spec.ip_family_policy == REQUIRE_DUAL_STACK
        return [problem(IP_ADDRESS_TYPE, f"ipv4 conflicts with spec.ipFamilies {list(spec.ip_families)}"
                        + ("" if needs else "; the load balancer serves IPv4 only"), fatal=needs)]
    return []


def subnets_without_ipv6(subnets: Iterable[Subnet]) -> list[str]:
    return sorted(s.subnet_id for s in subnets if not s.ipv6)
