"""Fixtures: a seeded GCE emulator on 127.0.0.1 and a GCP provider talking to it over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.plugin import plugin
from cloudlb_gcp.provider import GCPProvider
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import (
    KUBE_PROXY_HEALTH_CHECK,
    Backend,
    DesiredLoadBalancer,
    HealthCheck,
    LoadBalancerKey,
    LoadBalancerSpec,
    LoadBalancerStatus,
    Port,
    Protocol,
    ServiceRef,
)
from cloudlb.provider import ProviderSettings
from cloudlb.testing import node_manifest

PROJECT = "test-project"
REGION = "us-central1"
CLUSTER = "test-cluster"
NODES = (("us-central1-a", "node-1", "10.128.0.2"), ("us-central1-b", "node-2", "10.128.0.3"),
         ("us-central1-a", "node-3", "10.128.0.4"))
# An instance that exists but is not one of NODES: a node that joins later.
NODE_4 = ("us-central1-b", "node-4", "10.128.0.5")
WHERE = {"project": PROJECT, "region": REGION}

SpecFactory = Callable[..., LoadBalancerSpec]


def compute_client(emulator: GCEEmulator, cls: type[Any]) -> Any:
    """A google-cloud-compute client of the kind the provider uses, pointed at the emulator."""
    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    return cls(credentials=credentials, transport="rest", client_options=ClientOptions(api_endpoint=emulator.url))


def backend(zone: str, name: str, ip: str) -> Backend:
    return Backend(node_name=name, provider_id=f"gce://{PROJECT}/{zone}/{name}", internal_ip=ip, zone=zone)


def ensure(provider: GCPProvider, spec: LoadBalancerSpec) -> LoadBalancerStatus:
    """The contract's ensure for a Service's own load balancer; the Service's status."""
    return provider.ensure(DesiredLoadBalancer.single(spec))[spec.service]


def delete(provider: GCPProvider, service: ServiceRef) -> None:
    provider.delete(LoadBalancerKey.of(service))


def owned(provider: GCPProvider) -> list[ServiceRef]:
    """The Services whose load balancers a fresh sweep finds."""
    return sorted(service for services in provider.sweep().owned.values() for service in services)


def writes(emulator: GCEEmulator) -> list[str]:
    return [call.method for call in emulator.requests if call.is_write]


def reads(emulator: GCEEmulator) -> list[str]:
    """Reads of resources: everything but writes and operation polls."""
    return [call.method for call in emulator.requests if not call.is_write and not call.method.endswith("s.wait")]


def new_provider(emulator: GCEEmulator, cluster: str = CLUSTER) -> GCPProvider:
    settings = ProviderSettings(cluster_name=cluster, options={
        "gcp_project": PROJECT, "gcp_region": REGION, "gcp_endpoint": emulator.url})
    created = plugin.create(settings)
    assert isinstance(created, GCPProvider)
    return created


LABELLED = {"address": compute_v1.AddressesClient, "forwarding_rule": compute_v1.ForwardingRulesClient}


def relabel(emulator: GCEEmulator, kind: str, name: str, labels: dict[str, str]) -> None:
    """Replace the labels of an ``address`` or ``forwarding_rule`` behind the controller's back."""
    labelled = compute_client(emulator, LABELLED[kind])
    current = labelled.get(**{kind: name}, **WHERE)
    request = compute_v1.RegionSetLabelsRequest(labels=labels, label_fingerprint=current.label_fingerprint)
    labelled.set_labels_unary(resource=name, region_set_labels_request_resource=request, **WHERE)


def seeded(emulator: GCEEmulator) -> GCEEmulator:
    """The network, subnetworks and instances (NODES and NODE_4) of the test cluster."""
    emulator.add_network("default")
    emulator.add_subnetwork("default", "default", "10.128.0.0/20")
    emulator.add_subnetwork("lb-subnet", "default", "10.130.0.0/24")
    for zone, name, ip in (*NODES, NODE_4):
        emulator.add_instance(zone, name, ip)
    return emulator


@pytest.fixture
def emulator() -> Iterator[GCEEmulator]:
    with seeded(GCEEmulator(project=PROJECT, region=REGION)) as emu:
        yield emu


@pytest.fixture
def provider(emulator: GCEEmulator) -> GCPProvider:
    return new_provider(emulator)


@pytest.fixture
def make_spec() -> SpecFactory:
    def build(
        name: str = "web",
        ports: Sequence[tuple[int, str]] = ((80, "TCP"),),
        nodes: Sequence[tuple[str, str, str]] = NODES,
        health_check: HealthCheck = KUBE_PROXY_HEALTH_CHECK,
        source_ranges: Sequence[str] = (),
        internal: bool = False,
        requested_ips: Sequence[str] = (),
        annotations: dict[str, str] | None = None,
    ) -> LoadBalancerSpec:
        return LoadBalancerSpec(
            service=ServiceRef("default", name),
            uid=f"uid-{name}",
            ports=tuple(Port(port, Protocol(proto), 30000 + i, f"p{i}") for i, (port, proto) in enumerate(ports)),
            backends=tuple(sorted(backend(*n) for n in nodes)),
            health_check=health_check,
            source_ranges=tuple(source_ranges),
            internal=internal,
            requested_ips=tuple(requested_ips),
            annotations=annotations or {},
        )

    return build


@pytest.fixture
def kube(emulator: GCEEmulator) -> Iterator[EmulatedKubernetes]:
    """The emulated Kubernetes API with NODES as Nodes (NODE_4 exists in the cloud only, to join later)."""
    with EmulatedKubernetes() as emulated:
        for zone, name, ip in NODES:
            emulated.create(node_manifest(name, provider_id=f"gce://{PROJECT}/{zone}/{name}", internal_ip=ip,
                                          zone=zone))
        yield emulated
