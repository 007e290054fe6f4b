"""The chaos run of issue 12 at CI size, through the same code as ``python -m benchmarks.chaos``.

20 Services on moto behind a proxy that fails 10 % of requests (500, 503, throttling, connection
resets, lost responses), two ``cloudlb run`` processes with lease leader election, 3 SIGKILLs of the
leader (while a replacement is created, while a Service is deleted, and a fail-over with the leader
held down), node churn, edits, scheme and type changes, deletes; on the Kubernetes side 500s and 409s,
watch streams cut mid-event and an API-server restart; then 40 generated Services through the running
controller, and delete-all. One run (a module fixture), one test per target.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.chaos.results import ChaosResult, RunSettings
from benchmarks.chaos.runner import ChaosRun

pytestmark = pytest.mark.timeout(600)

SETTINGS = RunSettings(provider="aws", services=20, fault_rate=0.1, kube_fault_rate=0.05, kube_conflict_rate=0.02,
                       watch_cut_rate=0.02, kills=3, seed=1, fuzz=40, fuzz_batch=40, garbage_collection=False,
                       sample_seconds=4.0, converge_timeout=120.0, apiserver_restarts=1)


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> ChaosResult:
    logs: Path = tmp_path_factory.mktemp("chaos-aws")
    return ChaosRun(SETTINGS, logs, log=lambda line: None).run()


def test_the_chaos_happened(chaos: ChaosResult) -> None:
    """The run is only evidence if the faults it claims were injected."""
    assert len(chaos.kills) == SETTINGS.kills, chaos.kills
    assert {kill.phase for kill in chaos.kills} >= {"replace", "delete", "fail-over"}
    assert set(chaos.cloud_faults) == {"500", "503", "throttled", "reset", "lost"}, chaos.cloud_faults
    assert chaos.cloud_write_faults.get("lost", 0) > 0, chaos.cloud_write_faults
    assert chaos.kube_counts.get("500 InternalError", 0) > 0
    assert chaos.kube_counts.get("409 Conflict", 0) > 0
    assert chaos.kube_counts.get("watch streams cut mid-event", 0) > 0
    assert chaos.kube_counts.get("apiserver restarts", 0) == SETTINGS.apiserver_restarts
    assert chaos.fuzz.accepted + chaos.fuzz.planted == SETTINGS.fuzz
    assert chaos.fuzz.served > 0 and chaos.fuzz.named > 0


def test_every_phase_converges(chaos: ChaosResult) -> None:
    """After each phase every Service is served by a load balancer of the kind and scheme it asks for."""
    assert {phase.name: phase.unconverged for phase in chaos.phases if phase.unconverged} == {}


def test_nothing_leaks_after_delete_all(chaos: ChaosResult) -> None:
    assert chaos.leaked_before_fuzz == []
    assert chaos.leaked == []


def test_no_service_has_two_load_balancers_after_convergence(chaos: ChaosResult) -> None:
    assert {phase.name: phase.duplicated for phase in chaos.phases if phase.duplicated} == {}


def test_no_write_touches_a_foreign_resource(chaos: ChaosResult) -> None:
    assert chaos.foreign_writes == []
    assert chaos.foreign_changed == []


def test_no_status_names_a_stale_load_balancer_after_convergence(chaos: ChaosResult) -> None:
    assert {phase.name: phase.stale for phase in chaos.phases if phase.stale} == {}


def test_every_error_is_named(chaos: ChaosResult) -> None:
    """No Service without status and Event, no traceback, no 'unexpected error', no other class touched."""
    assert chaos.unnamed_services == []
    assert chaos.tracebacks == []
    assert chaos.unexpected_errors == []
    assert chaos.fuzz.touched_other_class == []


def test_every_generated_service_is_served_or_named(chaos: ChaosResult) -> None:
    assert chaos.fuzz.unnamed == []


def test_nothing_is_stuck_and_no_replica_dies_unasked(chaos: ChaosResult) -> None:
    assert chaos.stuck_deleting == [] and chaos.fuzz.stuck_deleting == []
    assert chaos.unplanned_exits == []


def test_the_standby_acts_within_15_seconds_of_the_leaders_death(chaos: ChaosResult) -> None:
    """The default timings (lease 10 s, renew 8 s, retry 2 s): a new Service is served within 15 s of the SIGKILL."""
    assert chaos.failover_seconds, "no fail-over was measured"
    assert max(chaos.failover_seconds) <= 15.0, chaos.failover_seconds
