"""Turns: requests start their CPU work first come, first served, a bounded number per loop iteration.

Iterations are counted by a callback that reschedules itself with ``call_soon``: it runs once per
iteration of the loop, so the tick a request was admitted on says which iteration admitted it.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from asr_conformance.mock_server.state import ADMITTED_PER_ITERATION, Turns


class Ticker:
    """Counts event-loop iterations while running."""

    def __init__(self) -> None:
        self.tick = 0
        self._running = True

    def start(self) -> None:
        asyncio.get_running_loop().call_soon(self._step)

    def _step(self) -> None:
        self.tick += 1
        if self._running:
            asyncio.get_running_loop().call_soon(self._step)

    def stop(self) -> None:
        self._running = False


async def admit_all(turns: Turns, names: list[int], ticker: Ticker, order: list[tuple[int, int]]) -> None:
    async def one(name: int) -> None:
        await turns.wait()
        order.append((name, ticker.tick))

    await asyncio.gather(*(one(name) for name in names))


async def test_an_idle_server_admits_at_once() -> None:
    turns = Turns()
    await asyncio.wait_for(turns.wait(), 0.5)
    await asyncio.sleep(0)  # the next iteration finds nobody waiting
    await asyncio.sleep(0)
    await asyncio.wait_for(turns.wait(), 0.5)


async def test_a_burst_is_admitted_in_arrival_order_a_few_per_iteration() -> None:
    turns, ticker, order = Turns(), Ticker(), []
    ticker.start()
    await admit_all(turns, list(range(20)), ticker, order)
    ticker.stop()
    assert [name for name, _ in order] == list(range(20))
    per_iteration = Counter(tick for _, tick in order)
    assert max(per_iteration.values()) <= ADMITTED_PER_ITERATION
    # spread over iterations, not strung out: about 20 / ADMITTED_PER_ITERATION of them
    assert len(per_iteration) <= 20 // ADMITTED_PER_ITERATION + 2


async def test_a_cancelled_waiter_is_skipped_and_takes_no_admission() -> None:
    turns = Turns()
    admitted: list[str] = []

    async def one(name: str) -> None:
        await turns.wait()
        admitted.append(name)

    # all five start in one iteration: "head" is admitted at once, the others queue behind it
    tasks = {name: asyncio.create_task(one(name)) for name in ("head", "gone", "s0", "s1", "s2")}
    await asyncio.sleep(0)
    assert admitted == ["head"]
    tasks["gone"].cancel()
    await asyncio.wait_for(asyncio.gather(*(tasks[n] for n in ("s0", "s1", "s2"))), 1.0)
    assert admitted == ["head", "s0", "s1", "s2"]
    assert tasks["gone"].cancelled()
    # nobody left waiting: the next request is admitted without delay
    for _ in range(3):
        await asyncio.sleep(0)
    await asyncio.wait_for(turns.wait(), 0.5)
