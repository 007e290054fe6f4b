"""Leader election against the emulated API server: one leader, fast hand-over, restart, loss, start-up checks.

The electors talk HTTP to the emulated API (coordination.k8s.io/v1 leases with
resourceVersion conflicts, as a real server); the last test runs two whole
controllers and checks that only the leader calls the cloud.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

import kopf
import pytest
from cloudlb_example import ExampleProvider

from cloudlb.config import LeaderElection, LeaseTimings
from cloudlb.connection import ApiSession
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.leadership import LeaderElector, LeaseApi, join_election
from cloudlb.model import ServiceRef
from cloudlb.provider import RetryLater
from cloudlb.startup import StartupError
from cloudlb.testing import RunningController, run_controller, service_manifest, wait_for

pytestmark = pytest.mark.timeout(120)

FAST = LeaseTimings(lease_duration=3.0, renew_deadline=2.0, retry_period=0.5)


@asynccontextmanager
async def session(kube: EmulatedKubernetes) -> AsyncIterator[ApiSession]:
    async with ApiSession(kopf.OperatorSettings(), api_server=kube.url) as opened:
        yield opened


def elector(api_session: ApiSession, identity: str, timings: LeaseTimings = FAST) -> LeaderElector:
    return LeaderElector(LeaseApi(api_session, "kube-system", "cloudlb", timings.request_timeout), identity, timings)


def lease(kube: EmulatedKubernetes) -> dict[str, Any]:
    found = kube.get("coordination.k8s.io/v1", "leases", "kube-system", "cloudlb")
    assert found is not None
    spec: dict[str, Any] = found["spec"]
    return spec


async def until(condition: asyncio.Event, seconds: float) -> float:
    """Seconds until ``condition`` is set (fails after ``seconds``)."""
    started = time.monotonic()
    await asyncio.wait_for(condition.wait(), seconds)
    return time.monotonic() - started


@pytest.mark.asyncio
async def test_one_leader_and_a_released_lease_is_taken_at_once(kube: EmulatedKubernetes) -> None:
    async with session(kube) as api_session:
        first, second = elector(api_session, "pod-a"), elector(api_session, "pod-b")
        await first.campaign_once()
        await second.campaign_once()
        assert first.leading and not second.leading
        assert lease(kube)["holderIdentity"] == "pod-a"
        tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
        await asyncio.sleep(4 * FAST.retry_period)  # several renewals: the standby must not take over
        assert first.leading and not second.leading
        tasks[0].cancel()
        await first.release()
        assert lease(kube)["holderIdentity"] == ""
        # Taken on the standby's next try, not a lease duration later.
        assert await until(second.active, 10) <= FAST.retry_period + 0.5
        assert lease(kube)["holderIdentity"] == "pod-b" and lease(kube)["leaseTransitions"] == 1
        tasks[1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
async def test_a_restarted_replica_takes_back_its_own_claim_at_once(kube: EmulatedKubernetes) -> None:
    async with session(kube) as api_session:
        slow = LeaseTimings(lease_duration=60, renew_deadline=40, retry_period=2)
        before = elector(api_session, "pod-a", slow)
        await before.campaign_once()
        assert before.leading
        # The process dies without releasing; the container restarts in the same pod, under the same name.
        after = elector(api_session, "pod-a", slow)
        started = time.monotonic()
        await after.campaign_once()
        assert after.leading and time.monotonic() - started < 2
        # A replacement pod (another name) would have to wait for the claim to lapse.
        stranger = elector(api_session, "pod-b", slow)
        await stranger.campaign_once()
        assert not stranger.leading


@pytest.mark.asyncio
async def test_a_dead_leaders_claim_lapses_one_lease_duration_after_its_last_renewal(kube: EmulatedKubernetes) -> None:
    async with session(kube) as api_session:
        dead, standby = elector(api_session, "pod-a"), elector(api_session, "pod-b")
        await dead.campaign_once()
        await standby.campaign_once()
        waiting = asyncio.create_task(standby.run())
        await asyncio.sleep(1.2)  # the standby has seen the claim for a while; the holder never renews (dead)
        took = await until(standby.active, 10) + 1.2
        # Within a lease duration of the last renewal, give or take the loop's timing: never before the old
        # holder's renew deadline, never much after the lease duration.
        assert FAST.renew_deadline <= took <= FAST.lease_duration + 0.5
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)


@pytest.mark.asyncio
async def test_a_leader_that_cannot_renew_stops_leading_after_the_renew_deadline() -> None:
    kube = EmulatedKubernetes().start()
    try:
        async with session(kube) as api_session:
            leader = elector(api_session, "pod-a")
            await leader.campaign_once()
            running = asyncio.create_task(leader.run())
            await asyncio.sleep(FAST.retry_period * 2)
            kube.stop()  # the API server goes away: no renewal can succeed
            lost_after = await until(leader.lost, 15)
            assert not leader.leading
            assert lost_after <= FAST.renew_deadline + FAST.request_timeout * 2 + FAST.retry_period
            await asyncio.wait_for(running, 5)
    finally:
        kube.stop()


@pytest.mark.asyncio
async def test_a_lease_in_a_missing_namespace_stops_an_explicit_setup_and_is_skipped_by_default(
        kube: EmulatedKubernetes) -> None:
    async with session(kube) as api_session:
        explicit = LeaderElection(lease_name="cloudlb", lease_namespace="nowhere", explicit=True)
        with pytest.raises(StartupError, match=r"the namespace .nowhere. does not exist.*--leader-elect"):
            await join_election(api_session, explicit, "nowhere", "pod-a", on_change=lambda leading: None)
        implicit = LeaderElection(lease_name="cloudlb")
        assert await join_election(api_session, implicit, "nowhere", "pod-a", on_change=lambda leading: None) is None


def leader_metric(replica: RunningController) -> float | None:
    return replica.reconciler.metrics.registry.get_sample_value("cloudlb_leader")


def ensures(replica: RunningController) -> int:
    assert isinstance(replica.provider, ExampleProvider)
    return replica.provider.cloud.count("ensure")


def test_only_the_leader_reconciles_and_the_other_takes_over_when_it_stops(kube: EmulatedKubernetes) -> None:
    election = LeaderElection(lease_namespace="kube-system", timings=FAST)
    stacks = [ExitStack(), ExitStack()]
    with stacks[0], stacks[1]:
        replicas = [stack.enter_context(run_controller(kube, provider="example", leader_election=election))
                    for stack in stacks]
        for index in range(3):
            kube.create(service_manifest(f"svc-{index}"))
        for index in range(3):
            replicas[0].wait_for_ingress("default", f"svc-{index}")
        counts = [ensures(replica) for replica in replicas]
        assert min(counts) == 0 and max(counts) >= 3, f"ensure calls per replica: {counts}"
        leader = counts.index(max(counts))
        assert (leader_metric(replicas[leader]), leader_metric(replicas[1 - leader])) == (1, 0)

        stacks[leader].close()  # a clean stop releases the lease
        kube.create(service_manifest("after-handover"))
        started = time.monotonic()
        replicas[1 - leader].wait_for_ingress("default", "after-handover", timeout=20)
        assert time.monotonic() - started < FAST.lease_duration
        assert ensures(replicas[1 - leader]) >= 1
        wait_for(lambda: leader_metric(replicas[1 - leader]) == 1, timeout=5, message="the new leader's metric")


@pytest.mark.parametrize("standby_saw", ["a listing", "watch events"])
def test_a_new_leader_serves_a_service_created_meanwhile_before_re_checking_the_others(
        kube: EmulatedKubernetes, standby_saw: str) -> None:
    """The standby's queue holds every Service of its initial listing; one created since is handled first.

    One worker each, so that the order is the queue's. The leader cannot build the new Service (its cloud
    refuses), so that it is still waiting when the lease changes hands. Each replica has a cloud of its own,
    so the new leader builds every Service again, in the order it handles them (of our class, so that an
    address it did not make is not taken for another controller's). The standby saw the others either in its
    initial listing or as they were created and served (then only their status tells they are done).
    """
    election = LeaderElection(lease_namespace="kube-system", timings=FAST)
    stacks = [ExitStack(), ExitStack()]
    def create_others(replicas: list[RunningController] | None = None) -> None:
        first = ServiceRef("default", "svc-00")
        kube.create(service_manifest(first.name, load_balancer_class="cloudlb.io/example"))
        if replicas:  # both watching: the rest reach the standby as watch events
            wait_for(lambda: all(first in replica.reconciler.services for replica in replicas),
                     timeout=10, message="both replicas watching")
        for index in range(1, 12):
            kube.create(service_manifest(f"svc-{index:02d}", load_balancer_class="cloudlb.io/example"))

    if standby_saw == "a listing":
        create_others()
    with stacks[0], stacks[1]:
        replicas = [stack.enter_context(run_controller(kube, provider="example", leader_election=election,
                                                       workers=1)) for stack in stacks]
        if standby_saw == "watch events":
            create_others(replicas)
        for index in range(12):
            replicas[0].wait_for_ingress("default", f"svc-{index:02d}")
        counts = [ensures(replica) for replica in replicas]
        leader = counts.index(max(counts))
        standby = replicas[1 - leader]
        assert isinstance(standby.provider, ExampleProvider)
        standby_cloud = standby.provider.cloud
        leading = replicas[leader].provider
        assert isinstance(leading, ExampleProvider)
        leading.cloud.fail("ensure", *[RetryLater("the cloud is down", delay=600)] * 5)
        kube.create(service_manifest("zz-created-meanwhile", load_balancer_class="cloudlb.io/example"))
        wait_for(lambda: leading.cloud.count("ensure", ServiceRef("default", "zz-created-meanwhile")) >= 1,
                 timeout=10, message="the leader tried the new Service")
        stacks[leader].close()
        standby.wait_for_ingress("default", "zz-created-meanwhile", timeout=20)
        ensured = [subject for method, subject in standby_cloud.calls if method == "ensure"]
        assert ensured[0] == "default/zz-created-meanwhile", ensured
        wait_for(lambda: standby_cloud.count("ensure") >= 13, timeout=20,
                 message="the others re-checked after it")


@pytest.mark.asyncio
async def test_the_leader_renews_with_one_write_and_reads_the_lease_only_when_that_write_fails(
        kube: EmulatedKubernetes) -> None:
    """As client-go's fast path: half the requests, and a failed write is followed by a read in the same try."""
    def lease_requests() -> list[str]:
        return [request.method for request in kube.requests if request.resource == "leases"]

    async with session(kube) as api_session:
        leader = elector(api_session, "pod-a")
        await leader.campaign_once()
        assert leader.leading
        before = len(lease_requests())
        assert await leader.try_acquire_or_renew()
        assert lease_requests()[before:] == ["PUT"]
        kube.patch("coordination.k8s.io/v1", "leases", "kube-system", "cloudlb",
                   {"metadata": {"labels": {"touched": "by-someone-else"}}})  # its resourceVersion moves on
        before = len(lease_requests())
        assert await leader.try_acquire_or_renew()
        assert lease_requests()[before:] == ["PUT", "GET", "PUT"]
        assert lease(kube)["holderIdentity"] == "pod-a"
