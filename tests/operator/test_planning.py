"""``cloudlb plan``'s engine: after convergence nothing is pending; a change made behind the controller's back
is listed exactly; orphans are listed for deletion; planning never writes to the cloud."""

from __future__ import annotations

import dataclasses
import json

from cloudlb_example import ExampleProvider, FakeLoadBalancer

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.planning import CHANGES_PENDING, NOTHING_TO_DO, as_json, as_table, exit_code, plan_cluster
from cloudlb.testing import run_controller, service_manifest


def test_plan_after_convergence_is_empty_and_a_drift_is_listed_exactly(kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web", ports=[(80, "TCP"), (443, "TCP")]))
        kube.create(service_manifest("dns", ports=[(53, "UDP")]))
        ctl.wait_for_ingress("default", "web")
        ctl.wait_for_ingress("default", "dns")
        the_cloud = ctl.provider.cloud  # type: ignore[attr-defined]
    services, nodes = kube.list("v1", "services"), kube.list("v1", "nodes")
    planner = ExampleProvider("test", the_cloud)

    planned = plan_cluster(services, nodes, planner, ctl.config)
    assert exit_code(planned) == NOTHING_TO_DO
    assert "nothing to change: 2 load balancers up to date" in as_table(planned)

    lb = the_cloud.load_balancers["test-default-web"]
    lb.members = (dataclasses.replace(lb.members[0], ports=lb.members[0].ports[:1]),)
    the_cloud.load_balancers["test-default-gone"] = FakeLoadBalancer("test/default/gone", None, "192.0.2.7")
    writes_before = the_cloud.count("ensure") + the_cloud.count("delete")

    planned = plan_cluster(services, nodes, planner, ctl.config)
    assert exit_code(planned) == CHANGES_PENDING
    listed = {(item["loadBalancer"], change["action"], change["name"], change["reason"], item["orphan"])
              for item in json.loads(as_json(planned)) for change in item["changes"]}
    assert listed == {
        ("default/web", "update", "test-default-web", "default/web: ports 80/TCP -> 80/TCP,443/TCP", False),
        ("default/gone", "delete", "test-default-gone", "no Service wants it", True),
    }
    assert the_cloud.count("ensure") + the_cloud.count("delete") == writes_before, "planning never writes"


def test_invalid_input_is_shown_with_the_plan_and_a_broken_service_is_left_as_it_is(
        kube: EmulatedKubernetes) -> None:
    with run_controller(kube, provider="example") as ctl:
        kube.create(service_manifest("web"))
        ctl.wait_for_ingress("default", "web")
        the_cloud = ctl.provider.cloud  # type: ignore[attr-defined]
    kube.patch("v1", "services", "default", "web", {"spec": {"loadBalancerSourceRanges": ["10.0.0.0/33"]}})
    planned = plan_cluster(kube.list("v1", "services"), kube.list("v1", "nodes"),
                           ExampleProvider("test", the_cloud), ctl.config)
    assert exit_code(planned) == NOTHING_TO_DO
    table = as_table(planned)
    assert "left as it is: default/web cannot be read" in table
    assert "default/web: InvalidSourceRange" in table
