"""The keyed work queue and backoff."""

from __future__ import annotations

import asyncio

from cloudlb.workqueue import Backoff, WorkQueue


async def drained(queue: WorkQueue[str]) -> list[str]:
    """Every key the queue hands out, in order, each marked done at once."""
    got = []
    while queue.pending():
        key = await asyncio.wait_for(queue.get(), 1)
        got.append(key)
        queue.done(key)
    return got


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



def test_a_low_priority_key_waits_behind_every_other_and_a_plain_add_promotes_it() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        for key in ("listed-1", "listed-2", "listed-3"):
            queue.add(key, low=True)
        queue.add("created")
        queue.add("listed-3")  # a change to a listed one: no longer a mere re-check
        queue.add("listed-1", low=True)  # already waiting: keeps its place
        return await drained(queue)

    assert asyncio.run(scenario()) == ["created", "listed-3", "listed-1", "listed-2"]


def test_a_key_re_added_while_active_keeps_the_higher_priority_asked() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        active = await queue.get()
        queue.add("a", low=True)
        queue.add("a")  # a change while it is processed: it comes back as a change
        queue.add("b", low=True)
        queue.done(active)
        got = [await asyncio.wait_for(queue.get(), 1)]
        queue.done(got[0])
        queue.add("c", low=True)
        got.append(await asyncio.wait_for(queue.get(), 1))
        queue.done(got[1])
        got.append(await asyncio.wait_for(queue.get(), 1))
        return got

    assert asyncio.run(scenario()) == ["a", "b", "c"]


def test_prioritise_sorts_the_waiting_keys_again_keeping_their_order() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        for key in ("done-1", "todo-1", "done-2"):
            queue.add(key)
        queue.add("todo-2", low=True)
        queue.prioritise(lambda key: key.startswith("todo"))
        return await drained(queue)

    assert asyncio.run(scenario()) == ["todo-1", "todo-2", "done-1", "done-2"]
