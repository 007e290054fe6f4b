"""The IP families a Service asks for (``spec.ipFamilies``, ``spec.ipFamilyPolicy``), as the core reads them.

Kubernetes fills ``ipFamilies`` from the policy and the cluster: ``["IPv4"]``, ``["IPv6"]``, or both in
the order of preference; ``PreferDualStack`` may be served with one family, ``RequireDualStack`` and a
single-stack IPv6 Service may not.
"""

from __future__ import annotations

from cloudlb.model import LoadBalancerSpec

IPV4, IPV6 = "IPv4", "IPv6"
SINGLE_STACK, PREFER_DUAL_STACK, REQUIRE_DUAL_STACK = "SingleStack", "PreferDualStack", "RequireDualStack"


def requested(spec: LoadBalancerSpec) -> tuple[str, ...]:
    """The families in the Service's order (IPv4 when it names none: a Service from before dual-stack)."""
    # getattr: the core's LoadBalancerSpec gains ip_families with issue 11 (until then every Service is IPv4).
    families = tuple(getattr(spec, "ip_families", None) or ())
    return tuple(f for f in families if f in (IPV4, IPV6)) or (IPV4,)


def policy(spec: LoadBalancerSpec) -> str:
    return str(getattr(spec, "ip_family_policy", None) or SINGLE_STACK)
