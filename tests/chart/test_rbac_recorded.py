"""The chart's roles grant exactly what the controller asks of the API server: nothing missing, nothing extra.

The real controller (kopf, leader election on, garbage collection on) goes
through a Service's whole life against the emulated API server, which records
every request as an RBAC (group, resource, verb); the set must equal the
rendered ClusterRole's and leader-election Role's rules together. A failure
that repeats makes the controller update its Event, as it does in a cluster.
"""

from __future__ import annotations

from cloudlb_example import ExampleProvider, FakeLoadBalancer

from cloudlb.config import LeaderElection, LeaseTimings
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import FINALIZER
from cloudlb.provider import RetryLater
from cloudlb.testing import node_manifest, run_controller, service_manifest, wait_for
from tests.chart.rendering import RELEASE_NAMESPACE, granted_rules, requested_rules

# Short timings so that the run includes lease renewals.
ELECTION = LeaderElection(lease_namespace=RELEASE_NAMESPACE, timings=LeaseTimings(3.0, 2.0, 0.5))


def test_recorded_requests_equal_the_rendered_cluster_role() -> None:
    with EmulatedKubernetes() as kube:
        kube.create(node_manifest("node-0", provider_id="example://z/vm-0", internal_ip="10.0.0.1", zone="z"))
        with run_controller(kube, provider="example", leader_election=ELECTION, gc_initial_delay=0.5,
                            gc_interval=0.5) as ctl:
            assert isinstance(ctl.provider, ExampleProvider)
            cloud = ctl.provider.cloud
            cloud.fail("ensure", RetryLater("throttled"), RetryLater("throttled"))
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
            wait_for(lambda: any(r.resource == "leases" and r.verb == "update" for r in kube.requests),
                     message="a lease renewal")

        used = requested_rules(kube.requests)
    granted = granted_rules()
    assert used - granted == set(), "requests the ClusterRole does not grant"
    assert granted - used == set(), "grants the controller never used"
