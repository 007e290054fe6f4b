"""The few Kubernetes writes cloudlb makes itself: finalizers, status, and reads for garbage collection.

They go through kopf's own API client so that they share its authentication,
retries and TLS setup. That client is not part of kopf's public API, so this is
the one module that touches it; kopf is pinned to a minor version for this reason.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import errors as kopf_errors

from cloudlb.model import FINALIZER, ServiceRef

logger = logging.getLogger(__name__)


class ServiceGone(Exception):
    """The Service disappeared while we were working on it."""


class ServiceConflict(Exception):
    """The Service changed under us (resourceVersion moved on); a newer event will bring it back."""


class ServiceInvalid(ServiceConflict):
    """The API server refuses every write to the Service (422): it holds a value that today's validation rejects.

    Stored by an older API server or written around validation; no retry can
    succeed until someone fixes the Service.
    """


def _url(ref: ServiceRef, subresource: str | None = None) -> str:
    url = f"/api/v1/namespaces/{ref.namespace}/services/{ref.name}"
    return f"{url}/{subresource}" if subresource else url


class KubeClient:
    def __init__(self, settings: kopf.OperatorSettings) -> None:
        self._settings = settings

    async def _patch(self, url: str, payload: object, content_type: str) -> dict[str, Any]:
        try:
            response = await kopf_api.patch(url=url, payload=payload, headers={"Content-Type": content_type},
                                            settings=self._settings, logger=logger)
        except kopf_errors.APINotFoundError as exc:
            raise ServiceGone(url) from exc
        except kopf_errors.APIUnprocessableEntityError as exc:
            # Field validation names the fields (details.causes); a failed resourceVersion test of our JSON
            # patch is a 422 too, but only says the Service moved on: that one is a conflict.
            causes = exc.details.get("causes") or [] if exc.details else []
            if any(cause.get("field") for cause in causes):
                raise ServiceInvalid(exc.message or str(exc)) from exc
            raise ServiceConflict(str(exc)) from exc
        except kopf_errors.APIConflictError as exc:
            raise ServiceConflict(str(exc)) from exc
        return cast(dict[str, Any], response)

    async def get_service(self, ref: ServiceRef) -> dict[str, Any] | None:
        try:
            body = await kopf_api.get(url=_url(ref), settings=self._settings, logger=logger)
        except kopf_errors.APINotFoundError:
            return None
        return cast(dict[str, Any], body)

    async def list_nodes(self) -> list[dict[str, Any]]:
        body = await kopf_api.get(url="/api/v1/nodes", settings=self._settings, logger=logger)
        return list(cast(dict[str, Any], body).get("items") or [])

    async def add_finalizer(self, service: Mapping[str, Any]) -> dict[str, Any]:
        """Add our finalizer, guarded by resourceVersion so that a concurrent change is never overwritten."""
        metadata = service["metadata"]
        finalizers = list(metadata.get("finalizers") or [])
        if FINALIZER in finalizers:
            return dict(service)
        ops: list[dict[str, Any]] = [{"op": "test", "path": "/metadata/resourceVersion",
                                      "value": metadata.get("resourceVersion")}]
        if finalizers:
            ops.append({"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER})
        else:
            ops.append({"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]})
        return await self._patch(_url(_ref(service)), ops, "application/json-patch+json")

    async def remove_finalizer(self, service: Mapping[str, Any]) -> None:
        metadata = service["metadata"]
        finalizers = list(metadata.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return
        path = f"/metadata/finalizers/{finalizers.index(FINALIZER)}"
        ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": metadata.get("resourceVersion")},
               {"op": "test", "path": path, "value": FINALIZER},
               {"op": "remove", "path": path}]
        with contextlib.suppress(ServiceGone):
            await self._patch(_url(_ref(service)), ops, "application/json-patch+json")

    async def patch_status(self, service: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
        # A merge patch cannot empty a map by sending {}: ingress is set to null to remove it.
        load_balancer = dict(status.get("loadBalancer") or {})
        payload = {"status": {"loadBalancer": {"ingress": load_balancer.get("ingress")},
                              "conditions": list(status.get("conditions") or [])}}
        return await self._patch(_url(_ref(service), "status"), payload, "application/merge-patch+json")


def _ref(service: Mapping[str, Any]) -> ServiceRef:
    metadata = service["metadata"]
    return ServiceRef(namespace=str(metadata.get("namespace", "default")), name=str(metadata["name"]))
