"""The scale benchmark at CI size (N = 10), through the same code as ``python -m benchmarks.scale``.

Checks that the figures hang together: every scenario converged, the controller's calls
were counted at the cloud, the floor script ran, and node changes report their reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.scale import report
from benchmarks.scale import results as r
from benchmarks.scale.runner import RunSettings, run_size

SERVICES = 10
NODE_CHANGES = (r.NODE_ADD, r.NODE_REMOVE)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module", params=["aws", "gcp"])
def measured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> r.SizeResult:
    provider: str = request.param
    settings = RunSettings(logs=tmp_path_factory.mktemp(f"scale-{provider}"), commit="smoke-test", quiet=1.0,
                           steady_periods=1)
    return run_size(provider, SERVICES, settings)


def scenario(size: r.SizeResult, key: str) -> r.ScenarioResult:
    found = size.scenario(key)
    assert found is not None, f"{key} was not measured"
    return found


def test_every_scenario_ran_and_converged(measured: r.SizeResult) -> None:
    assert [s.scenario for s in measured.scenarios] == list(r.SCENARIOS)
    failed = {s.scenario: s.note for s in measured.scenarios if not s.converged}
    assert not failed
    assert scenario(measured, r.CREATE).seconds is not None  # every Service got its ingress
    assert scenario(measured, r.DELETE).seconds is not None  # every finalizer was removed


def test_the_controllers_calls_were_counted_at_the_cloud(measured: r.SizeResult) -> None:
    for s in measured.scenarios:
        assert s.tally.reads + s.tally.writes + s.tally.polls == s.tally.total == sum(s.tally.by_operation.values())
        if s.scenario != r.IDLE:
            assert s.tally.total > 0, s.scenario
    create = scenario(measured, r.CREATE)
    assert create.floor is not None
    # Nothing creates a load balancer in fewer writes than the floor script.
    assert create.tally.writes >= create.floor.tally.writes
    assert scenario(measured, r.STEADY).tally.writes == 0  # nothing changed, nothing written


def test_the_floor_script_ran_with_writes_only(measured: r.SizeResult) -> None:
    for key in report.TIMED:
        s = scenario(measured, key)
        assert s.floor is not None, key
        assert s.floor.tally.writes > 0 and s.floor.tally.reads == 0, (key, s.floor.tally)
        assert s.floor.seconds > 0 and s.ratio is not None and s.ratio > 0, key


def test_node_changes_report_their_reads_and_write_the_membership(measured: r.SizeResult) -> None:
    for key in NODE_CHANGES:
        s = scenario(measured, key)
        assert s.floor is not None
        assert "read" in s.tally.by_kind, key
        assert s.tally.writes >= s.floor.tally.writes, (key, s.tally.by_operation)


def test_node_changes_need_no_reads(measured: r.SizeResult) -> None:
    assert {key: scenario(measured, key).tally.reads for key in NODE_CHANGES} == dict.fromkeys(NODE_CHANGES, 0)


def test_the_report_renders_tables_and_plots(measured: r.SizeResult, tmp_path: Path) -> None:
    text = report.markdown(measured.provider, [measured])
    for key in r.SCENARIOS:
        assert f"| {r.LABELS[key]} |" in text
    assert all(path.stat().st_size > 0 for path in report.plot(measured.provider, [measured], tmp_path))
