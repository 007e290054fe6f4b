"""cloudlb: cloud load balancers for Kubernetes Services of type LoadBalancer."""

__version__ = "0.1.0"
