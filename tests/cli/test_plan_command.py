"""``cloudlb plan`` as a user runs it: the same options as ``run``, a table or JSON, terraform's exit codes.

The example plugin's cloud lives in the planning process, so it starts empty: every Service of ours is a
load balancer to create, and nothing else is listed.
"""

from __future__ import annotations

import json
from pathlib import Path

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import service_manifest
from tests.cli.support import clean_environment, run_to_end, write_kubeconfig

PLAN = ["plan", "--provider", "example", "--cluster-name", "test"]


def test_plan_lists_what_run_would_create_for_our_services_only(tmp_path: Path) -> None:
    with EmulatedKubernetes() as kube:
        kube.create(service_manifest("web", ports=[(80, "TCP")], load_balancer_class="cloudlb.io/example"))
        kube.create(service_manifest("theirs", load_balancer_class="example.com/other"))
        kube.create(service_manifest("internal", service_type="ClusterIP"))
        kube.create(service_manifest("unclassed"))
        env = clean_environment(tmp_path, KUBECONFIG=str(write_kubeconfig(tmp_path / "config", kube.url)))

        done = run_to_end([*PLAN, "--output", "json"], env)
        assert done.returncode == 2, done.stderr
        planned = json.loads(done.stdout)
        assert [(p["loadBalancer"], [c["action"] for c in p["changes"]]) for p in planned] == [
            ("default/web", ["create"])]

        done = run_to_end([*PLAN, "--serve-unclassed"], env)
        assert done.returncode == 2, done.stderr
        assert "default/unclassed" in done.stdout and "default/theirs" not in done.stdout
        assert "2 changes to 2 of 2 load balancers" in done.stdout


def test_plan_with_nothing_to_do_exits_zero(tmp_path: Path) -> None:
    with EmulatedKubernetes() as kube:
        env = clean_environment(tmp_path, KUBECONFIG=str(write_kubeconfig(tmp_path / "config", kube.url)))
        done = run_to_end(PLAN, env)
        assert done.returncode == 0, done.stderr
        assert "nothing to change: 0 load balancers up to date" in done.stdout


def test_plan_that_cannot_reach_the_cluster_says_so_in_one_line(tmp_path: Path) -> None:
    env = clean_environment(tmp_path, KUBECONFIG=str(tmp_path / "missing-config"))
    done = run_to_end(PLAN, env)
    assert done.returncode == 1
    assert len(done.lines) == 1 and "KUBECONFIG" in done.stderr and "Traceback" not in done.stderr
