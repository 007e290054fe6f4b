"""Kubernetes Events on Services, with the reasons the upstream service controller uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

ENSURING = "EnsuringLoadBalancer"
ENSURED = "EnsuredLoadBalancer"
UPDATED = "UpdatedLoadBalancer"
SYNC_FAILED = "SyncLoadBalancerFailed"
DELETING = "DeletingLoadBalancer"
DELETED = "DeletedLoadBalancer"
DELETE_FAILED = "DeleteLoadBalancerFailed"
UNAVAILABLE = "UnAvailableLoadBalancer"
NOT_OWNED = "LoadBalancerNotOwned"
PROVIDER_WARNING = "LoadBalancerWarning"


def _reference(service: Mapping[str, Any]) -> kopf.Body:
    metadata = service.get("metadata") or {}
    return kopf.Body({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": str(metadata.get("name", "")),
                                   "namespace": str(metadata.get("namespace", "")),
                                   "uid": str(metadata.get("uid", ""))}})


def normal(service: Mapping[str, Any], reason: str, message: str) -> None:
    kopf.event(_reference(service), type="Normal", reason=reason, message=message)


def warning(service: Mapping[str, Any], reason: str, message: str) -> None:
    kopf.event(_reference(service), type="Warning", reason=reason, message=message)
