"""What a new cluster holds before anyone writes to it: its Namespaces and the ``kubernetes`` Service."""

from __future__ import annotations

import ipaddress
from typing import Any

from cloudlb.kubeapi import namespaces
from cloudlb.kubeapi.store import ObjectStore
from cloudlb.kubeapi.writes import WriteOptions

Obj = dict[str, Any]

# What the real control plane writes itself, recorded under its name in managedFields.
_CONTROL_PLANE = WriteOptions(manager="kube-apiserver")


def kubernetes_service() -> Obj:
    """The ``default/kubernetes`` Service every cluster has (the first address of the service range)."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}


def kubernetes_endpoint_slice(host: str, port: int) -> Obj:
    """Where the ``kubernetes`` Service leads: this server."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}


def seed(store: ObjectStore, host: str, port: int) -> None:
    """The initial Namespaces, the ``kubernetes`` Service and (for an IPv4 host) its EndpointSlice."""
    catalogue = store.catalogue
    namespaces_type = catalogue.find("", "v1", "namespaces")
    if namespaces_type is not None:
        for namespace in namespaces.initial_namespaces():
            store.create(namespaces_type, None, namespace, _CONTROL_PLANE)
    services = catalogue.find("", "v1", "services")
    if services is not None:
        store.create(services, "default", kubernetes_service(), _CONTROL_PLANE)
    slices = catalogue.find("discovery.k8s.io", "v1", "endpointslices")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return  # an IPv4 slice cannot name a host name; the Service stays without one
    if slices is not None:
        store.create(slices, "default", kubernetes_endpoint_slice(host, port), _CONTROL_PLANE)
