"""``plugin.sandbox``: an emulated GCP for ``cloudlb sandbox``, usable by the provider through its options."""

from __future__ import annotations

import pytest
from cloudlb_gcp.plugin import plugin

from cloudlb.model import (
    KUBE_PROXY_HEALTH_CHECK,
    Backend,
    DesiredLoadBalancer,
    LoadBalancerKey,
    LoadBalancerSpec,
    Port,
    Protocol,
    ServiceRef,
)
from cloudlb.provider import ProviderSettings
from cloudlb.sandbox_cloud import SandboxCloud

pytestmark = pytest.mark.timeout(30)


def test_sandbox_serves_a_load_balancer_round_trip() -> None:
    assert plugin.sandbox is not None
    cloud = plugin.sandbox(nodes=3, cluster_name="sandbox-test")
    assert isinstance(cloud, SandboxCloud)
    with cloud:
        assert [i.zone for i in cloud.instances] == ["us-central1-a", "us-central1-b", "us-central1-a"]
        assert all(i.provider_id == f"gce://cloudlb-sandbox/{i.zone}/{i.name}" for i in cloud.instances)
        assert set(cloud.options) == {o.name for o in plugin.options}
        assert cloud.options["gcp-endpoint"] == cloud.endpoint and cloud.endpoint.startswith("http://127.0.0.1:")
        assert cloud.leftovers() == []

        options = {name.replace("-", "_"): value for name, value in cloud.options.items()}
        provider = plugin.create(ProviderSettings(cluster_name="sandbox-test", options=options))
        spec = LoadBalancerSpec(
            service=ServiceRef("demo", "echo"), uid="u1", ports=(Port(80, Protocol.TCP, 30080),),
            backends=tuple(Backend(i.name, i.provider_id, i.internal_ip, i.zone) for i in cloud.instances),
            health_check=KUBE_PROXY_HEALTH_CHECK,
        )
        assert provider.ensure(DesiredLoadBalancer.single(spec))[spec.service].ingress[0].ip
        kinds = {entry.split("/")[0] for entry in cloud.leftovers()}
        assert kinds == {"addresses", "backendServices", "firewalls", "forwardingRules", "healthChecks",
                         "instanceGroups"}
        provider.delete(LoadBalancerKey.of(spec.service))
        assert cloud.leftovers() == []
    cloud.close()  # idempotent
