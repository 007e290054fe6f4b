"""Running a plan's changes: each logged, the first failure stops the rest and says whether it came after progress."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cloudlb.changes import Action, Change, made_progress, run_changes
from cloudlb.model import LoadBalancerKey, ServiceRef

KEY = LoadBalancerKey.of(ServiceRef("default", "web"))
CHANGES = [Change(Action.CREATE, "address", "a", "missing"), Change(Action.CREATE, "firewall", "f", "missing"),
           Change(Action.CREATE, "forwarding-rule", "r", "missing")]


def failing_at(name: str, done: list[str]) -> Callable[[Change], None]:
    def run(change: Change) -> None:
        if change.name == name:
            raise RuntimeError(f"503 on {name}")
        done.append(change.name)
    return run


def test_a_failure_after_some_changes_were_done_is_marked_as_progress_and_stops_the_rest() -> None:
    done: list[str] = []
    with pytest.raises(RuntimeError) as failed:
        run_changes(KEY, CHANGES, failing_at("f", done))
    assert done == ["a"]
    assert made_progress(failed.value)


def test_a_failure_of_the_first_change_is_not_progress() -> None:
    done: list[str] = []
    with pytest.raises(RuntimeError) as failed:
        run_changes(KEY, CHANGES, failing_at("a", done))
    assert done == []
    assert not made_progress(failed.value)
    assert not made_progress(ValueError("never ran a change"))
