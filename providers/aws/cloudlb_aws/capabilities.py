"""What AWS load balancers can carry, as the core sees it. Static, so `cloudlb providers` needs no cloud."""

from cloudlb.model import IPV4, IPV6, Protocol
from cloudlb.provider import Capabilities, Offering
from cloudlb.translate import AWS_INTERNAL_ANNOTATION, AWS_SCHEME_ANNOTATION
from cloudlb_aws import annotations as a
from cloudlb_aws import classic_attributes, frontend_groups, ip_address_type, ip_targets, nlb_attributes, target_nodes

NLB_OFFERING = Offering(
    "nlb",
    "Network Load Balancer (TCP, UDP, TCP_UDP on one port, TLS)",
    frozenset({Protocol.TCP, Protocol.UDP}),
    same_port_tcp_udp=True,
    mixed_protocols=True,
    max_ports=50,  # listeners per NLB
    ingress="hostname",
    ip_families=frozenset({IPV4, IPV6}),  # dual-stack (ip-address-type); the DNS name answers A and AAAA
)
CLB_OFFERING = Offering(
    "clb",
    "Classic Elastic Load Balancer (TCP, SSL)",
    frozenset({Protocol.TCP}),
    same_port_tcp_udp=False,
    mixed_protocols=False,
    max_ports=100,  # listeners per Classic ELB
    ingress="hostname",
)
CAPABILITIES = Capabilities(
    offerings=(NLB_OFFERING, CLB_OFFERING, ip_targets.NLB_IP_OFFERING),
    annotation_prefixes=(a.PREFIX,),
    # What the provider acts on today: its own parsed annotations (some on NLBs only, said per Service)
    # and the scheme annotations the core's translation reads into spec.internal. Every other
    # aws-load-balancer-* annotation gets a Warning naming it.
    annotations=frozenset({*a.PARSED, AWS_INTERNAL_ANNOTATION, AWS_SCHEME_ANNOTATION,
                           target_nodes.TARGET_NODE_LABELS, *nlb_attributes.PARSED, ip_targets.NLB_TARGET_TYPE,
                           *frontend_groups.PARSED, *classic_attributes.PARSED,
                           ip_address_type.IP_ADDRESS_TYPE}),
)
