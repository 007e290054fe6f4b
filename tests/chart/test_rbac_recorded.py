"""The ClusterRole grants exactly what the controller asks of the API server: nothing missing, nothing extra.

The real controller (kopf, peering on, garbage collection on) goes through a
Service's whole life against the emulated API server, which records every
request as an RBAC (group, resource, verb); the set must equal the rendered
ClusterRole's rules.
"""

from __future__ import annotations

from cloudlb_example import ExampleProvider, FakeLoadBalancer

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import FINALIZER
from cloudlb.testing import node_manifest, run_controller, service_manifest, wait_for
from tests.chart.rendering import clusterrole_rules, requested_rules


def test_recorded_requests_equal_the_rendered_cluster_role() -> None:
    with EmulatedKubernetes() as kube:
        kube.create(node_manifest("node-0", provider_id="example://z/vm-0", internal_ip="10.0.0.1", zone="z"))
        kube.create({"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": "cloudlb"}})
        with run_controller(kube, provider="example", standalone=False, gc_initial_delay=0.5,
                            gc_interval=0.5) as ctl:
            assert isinstance(ctl.provider, ExampleProvider)
            cloud = ctl.provider.cloud
            orphan = FakeLoadBalancer(owner="test/default/gone", spec=None, ip="192.0.2.1")
            cloud.load_balancers["test-default-gone"] = orphan
            kube.create(service_manifest("web", ports=[(80, "TCP"), (9000, "SCTP")]))
            ctl.wait_for_ingress("default", "web")
            kube.patch("v1", "services", "default", "web", {"spec": {"type": "ClusterIP"}})
            ctl.wait_for(lambda: FINALIZER not in (ctl.service("default", "web") or {})["metadata"]
                         .get("finalizers", []), message="cleanup after a type change")
            kube.create(service_manifest("api"))
            ctl.wait_for_ingress("default", "api")
            kube.delete("v1", "services", "default", "api")
            ctl.wait_for(lambda: ctl.service("default", "api") is None, message="the Service deleted")
            wait_for(lambda: "test-default-gone" not in cloud.load_balancers, message="the orphan collected")
            kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
                         "spec": {"providerID": "example://z/vm-1"}})
            ctl.wait_for(ctl.idle, message="an idle controller")

        used = requested_rules(kube.requests)
    granted = clusterrole_rules()
    assert used - granted == set(), "requests the ClusterRole does not grant"
    assert granted - used == set(), "grants the controller never used"
