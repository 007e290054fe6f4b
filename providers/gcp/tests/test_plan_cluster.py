"""``cloudlb plan``'s engine with the GCP provider on the GCE emulator: a converged cluster plans nothing and
writes nothing, and a fact a plan still had to read (a joining node's instance) is read by ``resolve``, so the
exact change is listed instead of "to be planned after reading"."""

from __future__ import annotations

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.planner import LoadBalancerPlan
from cloudlb_gcp.provider import GCPProvider

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.model import DesiredLoadBalancer
from cloudlb.planning import NOTHING_TO_DO, exit_code, plan_cluster
from cloudlb.testing import run_controller, service_manifest

from .conftest import NODE_4, NODES, PROJECT, REGION, SpecFactory, ensure, new_provider, writes

pytestmark = pytest.mark.timeout(90)
CLUSTER = "plan-test"


def test_a_service_on_a_reserved_address_plans_nothing_once_converged(
        kube: EmulatedKubernetes, emulator: GCEEmulator) -> None:
    emulator.add_address("users-ip", ip="203.0.113.77")
    options = {"gcp-project": PROJECT, "gcp-region": REGION, "gcp-endpoint": emulator.url}
    with run_controller(kube, provider="gcp", cluster_name=CLUSTER, options=options) as ctl:
        kube.create(service_manifest("web", load_balancer_ip="203.0.113.77"))
        ctl.wait_for_ingress("default", "web")
        config = ctl.config
    before = len(writes(emulator))

    planned = plan_cluster(kube.list("v1", "services"), kube.list("v1", "nodes"),
                           new_provider(emulator, CLUSTER), config)

    assert [str(c) for item in planned for c in item.changes] == []
    assert exit_code(planned) == NOTHING_TO_DO
    assert len(writes(emulator)) == before, "planning never writes"


def test_resolve_reads_the_instances_of_a_new_zone_and_lists_the_exact_changes_without_writing(
        provider: GCPProvider, emulator: GCEEmulator, make_spec: SpecFactory) -> None:
    ensure(provider, make_spec("web", nodes=NODES[:1]))  # only us-central1-a has been listed
    desired = DesiredLoadBalancer.single(make_spec("web", nodes=(*NODES, NODE_4)))
    plan = provider.plan(desired.key, desired, provider.observe([desired.key])[desired.key])
    assert isinstance(plan, LoadBalancerPlan) and plan.lookups, "us-central1-b's instances are not known yet"
    before = len(writes(emulator))

    resolved = provider.resolve(plan)

    assert isinstance(resolved, LoadBalancerPlan) and not resolved.lookups
    listed = [str(c) for c in resolved.changes]
    assert [c for c in listed if "node-2" in c and "node-4" in c], listed
    assert not [c for c in listed if "to be planned" in c], listed
    assert len(writes(emulator)) == before, "resolving only reads"
