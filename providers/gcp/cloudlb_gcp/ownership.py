"""The ownership mark on every GCE resource cloudlb creates.

Addresses and forwarding rules carry labels; every resource (labelled or not)
carries a JSON description naming the cluster and the Service, which is also
how ``list_owned`` finds the Service a resource belongs to. A resource whose
mark does not name this cluster and Service is never modified or deleted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cloudlb.model import ServiceRef
from cloudlb.provider import NotOwnedError
from cloudlb_gcp.names import digest

CLUSTER_KEY = "cloudlb.io/cluster"
SERVICE_KEY = "cloudlb.io/service"
CLUSTER_LABEL = "cloudlb-cluster"
SERVICE_LABEL = "cloudlb-service"
_LABEL_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def label_value(text: str) -> str:
    return _LABEL_NOT_ALLOWED.sub("-", text.lower())[:63]


@dataclass(frozen=True)
class OwnerMark:
    """Who owns a resource: a cluster, and the Service unless the resource is shared by the cluster."""

    cluster: str
    service: ServiceRef | None = None

    @property
    def description(self) -> str:
        mark = {CLUSTER_KEY: self.cluster}
        if self.service is not None:
            mark[SERVICE_KEY] = str(self.service)
        return json.dumps(mark, sort_keys=True)

    @property
    def labels(self) -> dict[str, str]:
        labels = {CLUSTER_LABEL: label_value(self.cluster)}
        if self.service is not None:
            labels[SERVICE_LABEL] = digest(self.cluster, self.service.namespace, self.service.name)
        return labels


def read_mark(description: str) -> OwnerMark | None:
    """The mark in a resource's description, or None when it has none (a resource cloudlb did not make)."""
    try:
        mark = json.loads(description or "")
    except ValueError:
        return None
    if not isinstance(mark, dict) or not isinstance(mark.get(CLUSTER_KEY), str):
        return None
    service = mark.get(SERVICE_KEY)
    if service is None:
        return OwnerMark(mark[CLUSTER_KEY])
    if not isinstance(service, str) or service.count("/") != 1:
        return None
    namespace, name = service.split("/")
    return OwnerMark(mark[CLUSTER_KEY], ServiceRef(namespace, name))


def is_owned(mark: OwnerMark, description: str, labels: Mapping[str, str] | None = None) -> bool:
    """Whether a resource carries exactly this mark (and, where it has labels, the matching labels)."""
    if read_mark(description) != mark:
        return False
    return labels is None or all(labels.get(k) == v for k, v in mark.labels.items())


def require_owned(mark: OwnerMark, what: str, description: str, labels: Mapping[str, str] | None = None) -> None:
    if not is_owned(mark, description, labels):
        raise NotOwnedError(what)
