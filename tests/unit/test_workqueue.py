"""The keyed work queue and backoff."""

from __future__ import annotations

import asyncio

from cloudlb.workqueue import Backoff, WorkQueue


def test_backoff_doubles_and_caps_and_resets() -> None:
    backoff: Backoff[str] = Backoff(base=1.0, cap=5.0)
    assert [backoff.next_delay("k") for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.next_delay("other") == 1.0
    backoff.reset("k")
    assert backoff.next_delay("k") == 1.0


def test_key_added_twice_while_waiting_is_processed_once_and_again_if_added_while_active() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        queue.add("a")
        queue.add("b")
        got = [await queue.get()]
        queue.add("a")  # while "a" is active: must come back after done()
        got.append(await queue.get())
        queue.done("b")
        assert queue.pending() == 1  # "a" active, its re-add parked until done
        queue.done(got[0])
        got.append(await asyncio.wait_for(queue.get(), 1))
        queue.done("a")
        assert queue.pending() == 0
        return got

    assert asyncio.run(scenario()) == ["a", "b", "a"]


def test_add_after_fires_later_and_an_immediate_add_wins() -> None:
    async def scenario() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        queue: WorkQueue[str] = WorkQueue()
        start = loop.time()
        queue.add_after("x", 0.2)
        assert queue.pending() == 1
        await queue.get()
        elapsed = loop.time() - start
        queue.done("x")
        queue.add_after("y", 10)
        queue.add("y")  # cancels the timer
        await asyncio.wait_for(queue.get(), 1)
        queue.done("y")
        return elapsed, queue.pending()

    elapsed, pending = asyncio.run(scenario())
    assert elapsed >= 0.19
    assert pending == 0

