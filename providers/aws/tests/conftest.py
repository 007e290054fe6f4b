"""Fixtures for the AWS provider tests: moto's HTTP server per module, a provider talking to it over HTTP.

Every AWS action the provider invokes in the whole session is recorded (through
botocore's ``before-call`` event) so that the final IAM test can compare it
with ``iam-policy.json``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from cloudlb_aws.calls import add_call_observer
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import (
    KUBE_PROXY_HEALTH_CHECK,
    Backend,
    HealthCheck,
    LoadBalancerSpec,
    Port,
    Protocol,
    ServiceRef,
)
from cloudlb.testing import node_manifest

from .faults import FaultyProxy
from .support import ACTIONS_USED, CLUSTER, IAM_TEST_NAME, SpecFactory, backends_of, new_provider


def pytest_configure(config: pytest.Config) -> None:
    add_call_observer(ACTIONS_USED.add)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The IAM test runs last, whatever else the session runs, so that it sees every action."""
    last = [item for item in items if item.name == IAM_TEST_NAME]
    for item in last:
        items.remove(item)
        items.append(item)


@pytest.fixture(scope="session")
def aws_actions_used() -> set[str]:
    return ACTIONS_USED


@pytest.fixture(scope="module")
def sandbox() -> Iterator[MotoSandbox]:
    cloud = MotoSandbox(nodes=3, cluster_name=CLUSTER)
    saved = {key: os.environ.get(key) for key in cloud.environment}
    os.environ.update(cloud.environment)
    try:
        yield cloud
    finally:
        cloud.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def provider(sandbox: MotoSandbox) -> AWSProvider:
    """A fresh provider per test: empty caches, as after a controller restart."""
    return new_provider()


@pytest.fixture
def make_spec(sandbox: MotoSandbox) -> SpecFactory:
    def make(name: str, ports: Sequence[tuple[int, str, int]] = ((80, "TCP", 30080),), *,
             annotations: dict[str, str] | None = None, backends: Sequence[Backend] | None = None,
             source_ranges: Sequence[str] = (), internal: bool = False, health_check: HealthCheck | None = None,
             namespace: str = "default", **extra: Any) -> LoadBalancerSpec:
        return LoadBalancerSpec(
            service=ServiceRef(namespace, name), uid=f"uid-{name}",
            ports=tuple(Port(port, Protocol(protocol), node_port, f"{protocol.lower()}-{port}")
                        for port, protocol, node_port in ports),
            backends=tuple(backends) if backends is not None else backends_of(sandbox),
            health_check=health_check or KUBE_PROXY_HEALTH_CHECK,
            source_ranges=tuple(source_ranges), internal=internal,
            annotations=annotations or {}, **extra)
    return make


@pytest.fixture
def proxy(sandbox: MotoSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyProxy]:
    """An HTTP proxy in front of moto that can fail chosen calls on the wire."""
    faulty = FaultyProxy(sandbox.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", faulty.url)
    yield faulty
    faulty.close()


@pytest.fixture
def kube(sandbox: MotoSandbox) -> Iterator[EmulatedKubernetes]:
    """The emulated Kubernetes API with two of the sandbox's three instances as Nodes (the third joins later)."""
    with EmulatedKubernetes() as emulated:
        for instance in sandbox.instances[:2]:
            emulated.create(node_manifest(instance.name, provider_id=instance.provider_id,
                                          internal_ip=instance.internal_ip, zone=instance.zone))
        yield emulated


@pytest.fixture
def clean_cloud(sandbox: MotoSandbox) -> Iterator[None]:
    """After a failed test, remove what it left, so that the next test starts from an empty cloud."""
    yield
    provider = new_provider()
    for key in provider.sweep().owned:
        provider.delete(key)
