"""A Service's ready endpoints, read from its EndpointSlices (discovery.k8s.io/v1). Pure, plus a small cache.

Only offerings that send traffic straight to Pods (``Offering.targets ==
"endpoints"``, such as an IP-target NLB) use them; the controller watches
EndpointSlices only when its provider has such an offering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudlb.model import Endpoint, EndpointPort, Protocol, ServiceRef

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ADDRESS_TYPES = frozenset({"IPv4", "IPv6"})  # FQDN slices name no address a cloud can target


@dataclass(frozen=True)
class SliceView:
    """What one EndpointSlice contributes: its ready endpoints and the ports they serve."""

    endpoints: tuple[Endpoint, ...]
    ports: tuple[EndpointPort, ...]


@dataclass(frozen=True)
class ServiceEndpoints:
    """All slices of one Service merged, sorted so that equal sets compare equal."""

    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()


NO_ENDPOINTS = ServiceEndpoints()


def slice_owner(endpoint_slice: Mapping[str, Any]) -> ServiceRef | None:
    """The Service a slice belongs to, by the label the EndpointSlice controller sets."""
    metadata = endpoint_slice.get("metadata") or {}
    name = (metadata.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not isinstance(name, str) or not name:
        return None
    return ServiceRef(str(metadata.get("namespace", "default")), name)


def _is_ready(endpoint: Mapping[str, Any]) -> bool:
    """Ready and not terminating; an unset ``ready`` means ready (the API's documented reading)."""
    conditions = endpoint.get("conditions") or {}
    return conditions.get("ready") is not False and conditions.get("terminating") is not True


def read_slice(endpoint_slice: Mapping[str, Any]) -> SliceView:
    if endpoint_slice.get("addressType") not in ADDRESS_TYPES:
        return SliceView((), ())
    endpoints: set[Endpoint] = set()
    for endpoint in endpoint_slice.get("endpoints") or []:
        if not isinstance(endpoint, Mapping) or not _is_ready(endpoint):
            continue
        node_name, zone = endpoint.get("nodeName"), endpoint.get("zone")
        for address in endpoint.get("addresses") or []:
            if isinstance(address, str) and address:
                endpoints.add(Endpoint(address, node_name if isinstance(node_name, str) else None,
                                       zone if isinstance(zone, str) else None))
    ports: set[EndpointPort] = set()
    for port in endpoint_slice.get("ports") or []:
        if not isinstance(port, Mapping):
            continue
        number, protocol = port.get("port"), port.get("protocol") or "TCP"
        if isinstance(number, int) and protocol in Protocol.__members__:
            ports.add(EndpointPort(str(port.get("name") or ""), Protocol(protocol), number))
    return SliceView(tuple(sorted(endpoints)), tuple(sorted(ports)))


class EndpointCache:
    """The latest slices of every Service, merged per Service on demand."""

    def __init__(self) -> None:
        self._slices: dict[ServiceRef, dict[str, SliceView]] = {}

    def update(self, event_type: str | None, endpoint_slice: Mapping[str, Any]) -> ServiceRef | None:
        """Record a slice event; returns the Service whose endpoints it concerns (None: no Service's)."""
        owner = slice_owner(endpoint_slice)
        if owner is None:
            return None
        name = str((endpoint_slice.get("metadata") or {}).get("name", ""))
        slices = self._slices.setdefault(owner, {})
        if event_type == "DELETED":
            slices.pop(name, None)
            if not slices:
                self._slices.pop(owner, None)
        else:
            slices[name] = read_slice(endpoint_slice)
        return owner

    def of(self, service: ServiceRef) -> ServiceEndpoints:
        slices = self._slices.get(service)
        if not slices:
            return NO_ENDPOINTS
        endpoints = sorted({e for view in slices.values() for e in view.endpoints})
        ports = sorted({p for view in slices.values() for p in view.ports})
        return ServiceEndpoints(tuple(endpoints), tuple(ports))
