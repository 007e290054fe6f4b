"""What AWS load balancers can carry, as the core sees it. Static, so `cloudlb providers` needs no cloud."""

from cloudlb.model import Protocol
from cloudlb.provider import Capabilities, Offering

NLB_OFFERING = Offering(
    "nlb",
    "Network Load Balancer (TCP, UDP, TCP_UDP on one port, TLS)",
    frozenset({Protocol.TCP, Protocol.UDP}),
    same_port_tcp_udp=True,
    mixed_protocols=True,
    max_ports=50,  # listeners per NLB
    ingress="hostname",
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
CAPABILITIES = Capabilities(offerings=(NLB_OFFERING, CLB_OFFERING))
