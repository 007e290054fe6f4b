"""Two replicas with kopf peering: exactly one acts on the cloud, and the other takes over when it stops."""

from __future__ import annotations

from contextlib import ExitStack

from cloudlb_example import ExampleProvider

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import RunningController, run_controller, service_manifest, wait_for


def ensures(replica: RunningController) -> int:
    assert isinstance(replica.provider, ExampleProvider)
    return replica.provider.cloud.count("ensure")


def test_only_one_replica_reconciles_and_the_other_takes_over(kube: EmulatedKubernetes) -> None:
    kube.create({"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": "cloudlb"}})
    stacks = [ExitStack(), ExitStack()]
    with stacks[0], stacks[1]:
        replicas = [stack.enter_context(run_controller(kube, provider="example", standalone=False))
                    for stack in stacks]

        def peers() -> int:
            peering = kube.get("kopf.dev/v1", "clusterkopfpeerings", None, "cloudlb") or {}
            return len(peering.get("status") or {})
        wait_for(lambda: peers() == 2, message="both replicas in the peering object")

        for index in range(3):
            kube.create(service_manifest(f"svc-{index}"))
        for index in range(3):
            replicas[0].wait_for_ingress("default", f"svc-{index}")
        counts = [ensures(replica) for replica in replicas]
        assert min(counts) == 0 and max(counts) >= 3, f"ensure calls per replica: {counts}"

        active = counts.index(max(counts))
        passive = 1 - active
        stacks[active].close()  # the active replica stops and leaves the peering object
        wait_for(lambda: peers() == 1, message="the stopped replica gone from the peering object")
        kube.create(service_manifest("after-handover"))
        replicas[passive].wait_for_ingress("default", "after-handover")
        assert ensures(replicas[passive]) >= 1
