"""Which Nodes may receive load-balancer traffic, following the service controller's rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from cloudlb.model import Backend

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
# Set by the cluster autoscaler on nodes it is about to remove; new connections
# should stop going there before the VM disappears.
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"
ZONE_LABEL = "topology.kubernetes.io/zone"
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"


def is_eligible(node: Mapping[str, Any]) -> bool:
    """A Node is a backend unless it is going away, opted out, or cannot be addressed by the cloud.

    NotReady nodes stay in (as upstream does since StableLoadBalancerNodeSet):
    the cloud's health check takes them out of rotation without churning the
    load balancer's membership every time a kubelet blips.
    """
    metadata = node.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return False
    if EXCLUDE_LABEL in (metadata.get("labels") or {}):
        return False
    spec = node.get("spec") or {}
    if not spec.get("providerID"):
        return False
    taints = spec.get("taints") or []
    return not any(t.get("key") == TO_BE_DELETED_TAINT for t in taints)


def backend_for(node: Mapping[str, Any], label_keys: AbstractSet[str] = frozenset()) -> Backend:
    """The node as a backend, carrying only the labels named in ``label_keys``."""
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    addresses = (node.get("status") or {}).get("addresses") or []
    internal_ip = next((a.get("address") for a in addresses if a.get("type") == "InternalIP"), None)
    return Backend(
        node_name=str(metadata.get("name", "")),
        provider_id=str((node.get("spec") or {}).get("providerID", "")),
        internal_ip=internal_ip,
        zone=labels.get(ZONE_LABEL) or labels.get(LEGACY_ZONE_LABEL),
        labels=tuple(sorted((key, str(value)) for key, value in labels.items() if key in label_keys)),
    )


def slim(node: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields eligibility and backends depend on.

    A Node's status carries its image list and more, often tens of kilobytes;
    a controller of thousands of nodes keeps only what it reads.
    """
    metadata = node.get("metadata") or {}
    spec = node.get("spec") or {}
    return {
        "metadata": {key: metadata[key] for key in ("name", "labels", "deletionTimestamp") if key in metadata},
        "spec": {key: spec[key] for key in ("providerID", "taints") if key in spec},
        "status": {"addresses": (node.get("status") or {}).get("addresses") or []},
    }


def eligible_backends(nodes: Iterable[Mapping[str, Any]],
                      label_keys: AbstractSet[str] = frozenset()) -> tuple[Backend, ...]:
    """The eligible nodes as backends, sorted so that equal sets compare equal."""
    return tuple(sorted(backend_for(n, label_keys) for n in nodes if is_eligible(n)))
