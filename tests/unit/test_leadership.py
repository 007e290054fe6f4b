"""kopf's peering rule as our workers apply it."""

from __future__ import annotations

import datetime

from cloudlb.leadership import is_leader

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


def peer(priority: int, seconds_ago: float, lifetime: int = 60) -> dict[str, object]:
    return {"priority": priority, "lifetime": lifetime,
            "lastseen": (NOW - datetime.timedelta(seconds=seconds_ago)).isoformat()}


def test_alone_or_highest_is_leader() -> None:
    assert is_leader({}, "me", 5, NOW)
    assert is_leader({"me": peer(5, 1), "other": peer(3, 1)}, "me", 5, NOW)


def test_a_live_peer_with_higher_or_equal_priority_wins() -> None:
    assert not is_leader({"me": peer(5, 1), "other": peer(9, 1)}, "me", 5, NOW)
    assert not is_leader({"me": peer(5, 1), "other": peer(5, 1)}, "me", 5, NOW)


def test_a_dead_peer_does_not_count_and_malformed_entries_are_ignored() -> None:
    assert is_leader({"other": peer(9, 61)}, "me", 5, NOW)
    assert is_leader({"other": {"priority": 9}}, "me", 5, NOW)
