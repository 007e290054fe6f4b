"""The IP families a Service asks for (``spec.ipFamilies``, ``spec.ipFamilyPolicy``), as the core read them.

Kubernetes fills ``ipFamilies`` from the policy and the cluster: ``["IPv4"]``, ``["IPv6"]``, or both in
the order of preference. The core has already dropped a family no GCP offering serves; what is left
to decide here is what the cloud itself allows (a subnetwork's IPv6 range, the tier): ``PreferDualStack``
may then be served with one family, ``RequireDualStack`` and a single-stack IPv6 Service may not.
"""

from __future__ import annotations

from cloudlb.model import IPV4, IPV6, PREFER_DUAL_STACK, REQUIRE_DUAL_STACK, SINGLE_STACK, LoadBalancerSpec

__all__ = ["IPV4", "IPV6", "PREFER_DUAL_STACK", "REQUIRE_DUAL_STACK", "SINGLE_STACK", "policy", "requested"]


def requested(spec: LoadBalancerSpec) -> tuple[str, ...]:
    """The families in the Service's order (IPv4 when it names none)."""
    return tuple(f for f in spec.ip_families if f in (IPV4, IPV6)) or (IPV4,)


def policy(spec: LoadBalancerSpec) -> str:
    return spec.ip_family_policy
