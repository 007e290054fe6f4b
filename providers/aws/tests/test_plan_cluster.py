"""``cloudlb plan``'s engine with the AWS provider on moto: a fact the sweep does not list (an attribute) is read,
not left as "to be planned after reading", so a converged cluster plans nothing and a drift is listed exactly."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.planning import CHANGES_PENDING, NOTHING_TO_DO, as_json, exit_code, plan_cluster
from cloudlb.testing import run_controller, service_manifest

from . import support as state
from .support import CLUSTER, new_provider, nlb_name

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("clean_cloud")]


def test_an_attribute_the_sweep_does_not_list_is_read_so_the_plan_is_exact(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    annotations = {a.CROSS_ZONE: "true"}
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("zones", annotations=annotations))
        ctl.wait_for_ingress("default", "zones")
        config = ctl.config
    services, nodes = kube.list("v1", "services"), kube.list("v1", "nodes")
    planner = new_provider()  # as `cloudlb plan` starts: nothing known but what its sweep lists
    planned = plan_cluster(services, nodes, planner, config)
    assert [str(c) for item in planned for c in item.changes] == []
    assert exit_code(planned) == NOTHING_TO_DO

    lb = state.load_balancer(sandbox, nlb_name("zones"))
    assert lb is not None
    sandbox.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": "false"}])
    planner = new_provider()
    planned = plan_cluster(services, nodes, planner, config)
    assert exit_code(planned) == CHANGES_PENDING
    listed = [(change["action"], change["resource"], change["name"], change["reason"])
              for item in json.loads(as_json(planned)) for change in item["changes"]]
    assert len(listed) == 1 and listed[0][:3] == ("update", "load-balancer", nlb_name("zones")), listed
    assert "cross" in listed[0][3] and "to be planned" not in listed[0][3], listed
    writes = Counter({call: n for call, n in planner.calls.snapshot().items()
                      if not call.split(":")[1].startswith("Describe")})
    assert writes == Counter(), "planning only reads"
