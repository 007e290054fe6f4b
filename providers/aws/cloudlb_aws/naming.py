"""Deterministic AWS names and the ownership tags cloudlb puts on everything it creates. Pure.

Names are derived from cluster + namespace + name, so they are unique per
cluster and the same after a restart: a lost response or a crash never makes a
second copy. Ownership is proven by tags, never by the name alone: a resource
with the right name but without our tags belongs to someone else.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb_aws.tag_record import with_record

MAX_NAME = 32  # ELB, NLB and target-group names
# Every load-balancer and target-group name starts with this, so a scan by name skips everything else.
NAME_PREFIX = "cl-"
CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
SERVICE_NAME_TAG = "kubernetes.io/service-name"
MANAGED_BY_TAG = "cloudlb.io/managed-by"
CLUSTER_TAG = "cloudlb.io/cluster"
MANAGED_BY = "cloudlb"
# On a load balancer created to replace another one (a scheme or type change AWS
# cannot make in place): the names of those still to be deleted.
REPLACES_TAG = "cloudlb.io/replaces"
# On the Service's security group: every load balancer name it has been used for,
# so that stale ones are found without searching the whole account.
LOAD_BALANCERS_TAG = "cloudlb.io/load-balancers"


def _digest(*parts: str, length: int) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def _readable(text: str, length: int) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())[:length]


def service_hash(cluster: str, service: ServiceRef) -> str:
    """Ten hex digits that stand for one Service of one cluster in every name."""
    return _digest(cluster, service.namespace, service.name, length=10)


def load_balancer_name(cluster: str, service: ServiceRef, kind: str, internal: bool) -> str:
    """``cl-<ns>-<name>-<hash><kind><scheme>``, at most 32 characters.

    Kind and scheme are part of the name because AWS can change neither in
    place: the replacement must coexist with the old load balancer until the
    Service's status points at it.
    """
    suffix = service_hash(cluster, service) + kind[0] + ("i" if internal else "e")
    name = f"{NAME_PREFIX}{_readable(service.namespace, 7)}-{_readable(service.name, 7)}-{suffix}"
    assert len(name) <= MAX_NAME
    return name


def target_group_prefix(cluster: str, service: ServiceRef) -> str:
    """Every target group of a Service starts with this, so a scan by name finds strays."""
    return f"{NAME_PREFIX}{service_hash(cluster, service)}-"


def target_group_name(cluster: str, service: ServiceRef, *, load_balancer: str, listener_port: int,
                      protocol: str, node_port: int, target_type: str = "instance") -> str:
    """One name per (load balancer, listener port, protocol, nodePort): what AWS cannot change in place.

    A target group is attached to one load balancer only, so a replacement load
    balancer gets its own; a new nodePort or protocol gets a new target group
    and the listener is switched over to it.
    """
    letter = {"TCP": "t", "UDP": "u", "TCP_UDP": "x", "TLS": "s"}[protocol]
    # The target type is in the digest only for IP targets, so that instance groups keep their names;
    # AWS cannot change a group's target type in place, so a switch makes a new group.
    kind = () if target_type == "instance" else (target_type,)
    digest = _digest(load_balancer, str(listener_port), protocol, str(node_port), *kind, length=6)
    name = f"{target_group_prefix(cluster, service)}{listener_port}{letter}-{digest}"
    assert len(name) <= MAX_NAME
    return name


def security_group_name(cluster: str, service: ServiceRef) -> str:
    return f"cloudlb-{_readable(service.namespace, 20)}-{_readable(service.name, 20)}-{service_hash(cluster, service)}"


def ownership_tags(cluster: str, service: ServiceRef, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The upstream ownership tags plus cloudlb's own, then the user's additional tags (and their record)."""
    tags = with_record(extra)
    tags.update({
        CLUSTER_TAG_PREFIX + cluster: "owned",
        SERVICE_NAME_TAG: str(service),
        MANAGED_BY_TAG: MANAGED_BY,
        CLUSTER_TAG: cluster,
    })
    return tags


def is_owned(tags: Mapping[str, str], cluster: str, service: ServiceRef) -> bool:
    """True only when the tags name this cluster *and* this Service."""
    return (tags.get(CLUSTER_TAG) == cluster and tags.get(MANAGED_BY_TAG) == MANAGED_BY
            and tags.get(SERVICE_NAME_TAG) == str(service))


def owner_of(tags: Mapping[str, str], cluster: str) -> ServiceRef | None:
    """The Service of this cluster that a resource belongs to, from its tags."""
    if tags.get(CLUSTER_TAG) != cluster or tags.get(MANAGED_BY_TAG) != MANAGED_BY:
        return None
    namespace, slash, name = tags.get(SERVICE_NAME_TAG, "").partition("/")
    if not slash or not namespace or not name:
        return None
    return ServiceRef(namespace, name)


def tags_to_add(desired: Mapping[str, str], observed: Mapping[str, str]) -> dict[str, str]:
    """Desired tags that are missing or different. Extra tags are kept: other tools (cost allocation) add them."""
    return {key: value for key, value in desired.items() if observed.get(key) != value}


def as_tag_list(tags: Mapping[str, str]) -> list[Any]:
    """Tags as AWS takes them (``Any``: each service's stubs have their own, equal, Tag type)."""
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def from_tag_list(tags: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(tag.get("Key", "")): str(tag.get("Value", "")) for tag in tags or []}


# The one security group every load balancer of the cluster carries besides its own: the nodes'
# groups admit this group (one rule per port range), so their rule count does not grow with Services.
ROLE_TAG = "cloudlb.io/role"
BACKEND_ROLE = "backend"


def backend_group_name(cluster: str) -> str:
    return f"cloudlb-{_readable(cluster, 40)}-backend-{_digest(cluster, 'backend', length=10)}"


def backend_group_tags(cluster: str) -> dict[str, str]:
    return {CLUSTER_TAG_PREFIX + cluster: "owned", MANAGED_BY_TAG: MANAGED_BY, CLUSTER_TAG: cluster,
            ROLE_TAG: BACKEND_ROLE}


def is_cluster_owned(tags: Mapping[str, str], cluster: str) -> bool:
    """Tagged by cloudlb for this cluster (a Service's resource or one the cluster shares)."""
    return tags.get(CLUSTER_TAG) == cluster and tags.get(MANAGED_BY_TAG) == MANAGED_BY


# On every resource of a load balancer that several Services share (``cloudlb.io/share-key``): the
# shared key as ``<namespace>/<key>``. Its member Services are recorded one per target group (each
# target group serves one member's port and carries that member's ``kubernetes.io/service-name``),
# so there is no limit of 50 tags to the members: a restarted controller finds them all from AWS.
LOAD_BALANCER_TAG = "cloudlb.io/load-balancer"


def key_ref(key: LoadBalancerKey) -> ServiceRef:
    """The identity a load balancer's names are hashed from: its Service, or its shared key.

    ``shared:`` cannot appear in a Service's name, so a shared key never names what a Service would.
    """
    return key.service or ServiceRef(key.namespace, f"shared:{key.name}")


def key_tags(cluster: str, key: LoadBalancerKey, member: ServiceRef | None = None,
             extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ownership tags of a resource of ``key``; a shared key's target groups also name their member."""
    if key.service is not None:
        return ownership_tags(cluster, key.service, extra)
    tags = with_record(extra)
    tags.update({CLUSTER_TAG_PREFIX + cluster: "owned", MANAGED_BY_TAG: MANAGED_BY, CLUSTER_TAG: cluster,
                 LOAD_BALANCER_TAG: f"{key.namespace}/{key.name}"})
    if member is not None:
        tags[SERVICE_NAME_TAG] = str(member)
    return tags


def owner_key(tags: Mapping[str, str], cluster: str) -> LoadBalancerKey | None:
    """The load balancer of this cluster a resource belongs to, from its tags."""
    if not is_cluster_owned(tags, cluster):
        return None
    shared = tags.get(LOAD_BALANCER_TAG)
    if shared is not None:
        namespace, slash, name = shared.partition("/")
        return LoadBalancerKey(namespace, name, shared=True) if slash and namespace and name else None
    owner = owner_of(tags, cluster)
    return LoadBalancerKey.of(owner) if owner is not None else None


def owned_by(tags: Mapping[str, str], cluster: str, key: LoadBalancerKey) -> bool:
    return owner_key(tags, cluster) == key
