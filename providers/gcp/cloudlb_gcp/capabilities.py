"""What GCP's passthrough Network Load Balancers carry (static, so the CLI can show it without credentials)."""

from cloudlb.model import IPV4, IPV6, Protocol
from cloudlb.provider import Capabilities, Offering
from cloudlb.translate import GKE_TYPE_ANNOTATION, LEGACY_GKE_TYPE_ANNOTATION
from cloudlb_gcp import gke_annotations

# One rule per protocol on one address serves TCP and UDP (also on one port number) on one IP.
# Five listed ports per rule; more become a port range (external) or all ports (internal), so
# the count of Service ports is bounded only by Kubernetes.
MAX_SERVICE_PORTS = 100

# Passthrough: packets reach the nodes with the load balancer's IP and the Service port, which kube-proxy
# serves, so nodePorts are never used (upstream's e2e "LoadBalancer Service without NodePort" runs on GCE).
# Both IP families: IPv6 comes from a dual-stack subnetwork's range (a Service whose subnetwork has none
# gets a named error, or IPv4 alone with PreferDualStack).
BOTH_FAMILIES = frozenset({IPV4, IPV6})

CAPABILITIES = Capabilities(
    offerings=(
        Offering("external", "External passthrough Network Load Balancer (backend service based)",
                 frozenset({Protocol.TCP, Protocol.UDP}), max_ports=MAX_SERVICE_PORTS,
                 needs_node_ports=False, ip_families=BOTH_FAMILIES),
        # SCTP is carried by an L3_DEFAULT forwarding rule, which internal passthrough balancers accept.
        Offering("internal", "Internal passthrough Network Load Balancer",
                 frozenset({Protocol.TCP, Protocol.UDP, Protocol.SCTP}), max_ports=MAX_SERVICE_PORTS,
                 needs_node_ports=False, ip_families=BOTH_FAMILIES),
    ),
    annotation_prefixes=gke_annotations.PREFIXES,
    # What the provider acts on today: its own options and the type annotations the core's translation
    # reads into spec.internal. Every other cloud.google.com/ or networking.gke.io/ annotation gets a
    # Warning naming it.
    annotations=frozenset({*gke_annotations.PARSED, GKE_TYPE_ANNOTATION, LEGACY_GKE_TYPE_ANNOTATION}),
)
