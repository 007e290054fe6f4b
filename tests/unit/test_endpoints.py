"""Ready endpoints from EndpointSlices: readiness, address types, ports, merging slices of one Service."""

from __future__ import annotations

from typing import Any

from cloudlb.endpoints import NO_ENDPOINTS, EndpointCache, read_slice, slice_owner
from cloudlb.model import Endpoint, EndpointPort, Protocol, ServiceRef


def endpoint_slice(name: str, endpoints: list[dict[str, Any]], service: str | None = "web",
                   address_type: str = "IPv4", ports: list[Any] | None = None) -> dict[str, Any]:
    labels = {"kubernetes.io/service-name": service} if service else {}
    return {"metadata": {"name": name, "namespace": "shop", "labels": labels}, "addressType": address_type,
            "endpoints": endpoints, "ports": ports if ports is not None else [{"name": "http", "port": 8080}]}


def test_only_ready_endpoints_that_are_not_terminating_count_and_unset_ready_means_ready() -> None:
    view = read_slice(endpoint_slice("a", [
        {"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "nodeName": "n1", "zone": "z1"},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
        {"addresses": ["10.0.0.3"], "conditions": {}},
        {"addresses": ["10.0.0.4"], "conditions": {"ready": True, "terminating": True}},
    ]))
    assert view.endpoints == (Endpoint("10.0.0.1", "n1", "z1"), Endpoint("10.0.0.3"))
    assert view.ports == (EndpointPort("http", Protocol.TCP, 8080),)


def test_fqdn_slices_and_odd_ports_are_ignored() -> None:
    assert read_slice(endpoint_slice("a", [{"addresses": ["db.example"]}], address_type="FQDN")).endpoints == ()
    view = read_slice(endpoint_slice("a", [], ports=[{"port": "x"}, {"port": 53, "protocol": "UDP"}, "junk"]))
    assert view.ports == (EndpointPort("", Protocol.UDP, 53),)


def test_a_slice_without_the_service_name_label_belongs_to_no_service() -> None:
    assert slice_owner(endpoint_slice("a", [], service=None)) is None
    assert EndpointCache().update("ADDED", endpoint_slice("a", [], service=None)) is None


def test_the_cache_merges_a_services_slices_and_forgets_deleted_ones() -> None:
    cache, web = EndpointCache(), ServiceRef("shop", "web")
    assert cache.update("ADDED", endpoint_slice("a", [{"addresses": ["10.0.0.2"]}])) == web
    cache.update("ADDED", endpoint_slice("b", [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]))
    assert [e.ip for e in cache.of(web).endpoints] == ["10.0.0.1", "10.0.0.2"]
    cache.update("DELETED", endpoint_slice("b", []))
    assert [e.ip for e in cache.of(web).endpoints] == ["10.0.0.2"]
    cache.update("DELETED", endpoint_slice("a", []))
    assert cache.of(web) == NO_ENDPOINTS
