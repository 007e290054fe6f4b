"""IP targets: an NLB that sends traffic straight to the Service's ready Pods. Pure.

aws-load-balancer-controller's names: ``aws-load-balancer-nlb-target-type: ip``,
or ``aws-load-balancer-type: nlb-ip`` (its older spelling); with
``aws-load-balancer-type: external`` the target type follows
``nlb-target-type`` (instance when unset). The targets are the ready
endpoints of the Service's EndpointSlices, on the port they serve the Service
port on (``spec.target_port``); no nodePort is needed, so a Service with
``allocateLoadBalancerNodePorts: false`` is served too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from cloudlb.model import IPV4, IPV6, LoadBalancerSpec, Protocol
from cloudlb.parsing import ascii_lower, quoted
from cloudlb.problems import Problem
from cloudlb.provider import Offering
from cloudlb_aws.annotation_values import present, problem
from cloudlb_aws.annotations import PREFIX, TYPE

NLB_TARGET_TYPE = PREFIX + "nlb-target-type"
INSTANCE, IP = "instance", "ip"
NLB_IP = "nlb-ip"
# A port whose target port is not known yet (no EndpointSlice names it): no listener until one does.
TARGET_PORT_UNKNOWN = "TargetPortUnknown"

NLB_IP_OFFERING = Offering(
    NLB_IP,
    "Network Load Balancer with IP targets: the Service's ready Pods (TCP, UDP, TCP_UDP on one port, TLS)",
    frozenset({Protocol.TCP, Protocol.UDP}),
    same_port_tcp_udp=True,
    mixed_protocols=True,
    max_ports=50,
    ingress="hostname",
    needs_node_ports=False,
    targets="endpoints",
    ip_families=frozenset({IPV4, IPV6}),
)


def target_type(annotations: Mapping[str, str]) -> str:
    """``ip`` or ``instance``, as aws-load-balancer-controller decides it from the two annotations."""
    if ascii_lower((annotations.get(TYPE) or "").strip()) == NLB_IP:
        return IP
    chosen = present(annotations, NLB_TARGET_TYPE)
    return IP if chosen is not None and ascii_lower(chosen) == IP else INSTANCE


def problems(annotations: Mapping[str, str]) -> list[Problem]:
    chosen = present(annotations, NLB_TARGET_TYPE)
    if chosen is None or ascii_lower(chosen) in (INSTANCE, IP):
        return []
    # Fatal: the other target type would send the traffic somewhere else than asked (nodes or Pods).
    return [problem(NLB_TARGET_TYPE, f"{quoted(chosen)} is not instance or ip")]


def target_ips(spec: LoadBalancerSpec) -> frozenset[str]:
    """The ready endpoints' IPv4 addresses (an IPv4 target group takes no other)."""
    found = set()
    for endpoint in spec.endpoints:
        try:
            if ipaddress.ip_address(endpoint.ip).version == 4:
                found.add(endpoint.ip)
        except ValueError:
            continue
    return frozenset(found)
