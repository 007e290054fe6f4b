"""The ownership mark on every GCE resource cloudlb creates.

Every resource carries a JSON description naming the cluster and what it
belongs to: the Service whose own load balancer it is, or (later) a shared
load balancer and, on a forwarding rule, the member Service it serves. The
description is the mark: a resource whose description does not name this
cluster and load balancer is never modified or deleted. Addresses and
forwarding rules carry labels as well, for people and billing reports; labels
can be changed by anyone, so they are repaired, never trusted (nor filtered
on: a rule whose labels were removed must still be found).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb_gcp.names import SHARED, digest

CLUSTER_KEY = "cloudlb.io/cluster"
SERVICE_KEY = "cloudlb.io/service"
LOAD_BALANCER_KEY = "cloudlb.io/load-balancer"
CLUSTER_LABEL = "cloudlb-cluster"
SERVICE_LABEL = "cloudlb-service"
# A shared address lists its member Services in labels, for people and billing reports: GCE allows 64
# labels, so at most 50 members are named and the count of the rest is given. What a controller rebuilds a
# group from is never these labels but each member's own resources, whose description names the member.
MEMBER_LABEL_PREFIX = "cloudlb-member-"
MORE_MEMBERS_LABEL = "cloudlb-more-members"
MAX_MEMBER_LABELS = 50
_LABEL_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def label_value(text: str) -> str:
    return _LABEL_NOT_ALLOWED.sub("-", text.lower())[:63]


@dataclass(frozen=True)
class OwnerMark:
    """Who owns a resource: a cluster, and the Service unless the resource is shared by the cluster.

    ``shared`` names a load balancer several Services share; its resources then name it, and a
    forwarding rule also names its member ``service``.
    """

    cluster: str
    service: ServiceRef | None = None
    shared: LoadBalancerKey | None = None

    @classmethod
    def of(cls, cluster: str, key: LoadBalancerKey) -> OwnerMark:
        """The mark of a load balancer's own resources."""
        return cls(cluster, key.service) if key.service is not None else cls(cluster, shared=key)

    @property
    def key(self) -> LoadBalancerKey | None:
        """The load balancer the resource belongs to; None for the cluster's shared instance groups."""
        if self.shared is not None:
            return self.shared
        return LoadBalancerKey.of(self.service) if self.service is not None else None

    @property
    def description(self) -> str:
        mark = {CLUSTER_KEY: self.cluster}
        if self.service is not None:
            mark[SERVICE_KEY] = str(self.service)
        if self.shared is not None:
            mark[LOAD_BALANCER_KEY] = f"{self.shared.namespace}/{self.shared.name}"
        return json.dumps(mark, sort_keys=True)

    @property
    def labels(self) -> dict[str, str]:
        labels = {CLUSTER_LABEL: label_value(self.cluster)}
        key = self.key
        if key is not None:
            labels[SERVICE_LABEL] = digest(self.cluster, *((SHARED,) if key.shared else ()), key.namespace, key.name)
        return labels


def member_labels(cluster: str, services: Sequence[ServiceRef]) -> dict[str, str]:
    """The labels naming a shared address's members (key: a hash of the member; value: ``namespace_name``)."""
    labels = {MEMBER_LABEL_PREFIX + digest(cluster, service.namespace, service.name):
              label_value(f"{service.namespace}_{service.name}") for service in sorted(services)[:MAX_MEMBER_LABELS]}
    if len(services) > MAX_MEMBER_LABELS:
        labels[MORE_MEMBERS_LABEL] = str(len(services) - MAX_MEMBER_LABELS)
    return labels


def _ref(text: object) -> ServiceRef | None:
    if not isinstance(text, str) or text.count("/") != 1:
        return None
    namespace, name = text.split("/")
    return ServiceRef(namespace, name)


def read_mark(description: str) -> OwnerMark | None:
    """The mark in a resource's description, or None when it has none (a resource cloudlb did not make)."""
    try:
        mark = json.loads(description or "")
    except ValueError:
        return None
    if not isinstance(mark, dict) or not isinstance(mark.get(CLUSTER_KEY), str):
        return None
    service, shared = mark.get(SERVICE_KEY), mark.get(LOAD_BALANCER_KEY)
    if (service is not None and _ref(service) is None) or (shared is not None and _ref(shared) is None):
        return None
    shared_ref = _ref(shared)
    return OwnerMark(mark[CLUSTER_KEY], _ref(service),
                     LoadBalancerKey(shared_ref.namespace, shared_ref.name, shared=True) if shared_ref else None)
