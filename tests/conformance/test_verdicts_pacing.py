"""§2 of issue 11 (timeouts belong to the case): the runner fits a slow, one-at-a-time target."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest
from asr_conformance.conformance.engine.config import RunConfig, offline_info, open_for, plan
from asr_conformance.conformance.engine.pacing import FLOOR_S, Pacer, expensive
from asr_conformance.conformance.engine.runner import run
from asr_conformance.conformance.model import CaseFinished, Event, Exchange, Request, RunFinished
from asr_conformance.mock_server.config import MockConfig


@pytest.fixture(autouse=True)
def _quiet_mock():
    logging.getLogger("mock_server").setLevel(logging.CRITICAL)


class OneAtATime:
    """The in-process mock behind a one-request-at-a-time queue (HF's serving code, a CPU reference)."""

    def __init__(self, inner, work_s: float) -> None:
        # a real engine's stand-in: its cost depends on the parameters, so expensive cases go last
        self.inner, self.info, self.work_s = inner, replace(inner.info, is_mock=False), work_s
        self.lock = asyncio.Lock()
        self.waiting = self.most_waiting = 0

    async def send(self, request: Request, *, timeout: float | None = None) -> Exchange:
        async def queued() -> Exchange:
            self.waiting += 1
            self.most_waiting = max(self.most_waiting, self.waiting)
            try:
                async with self.lock:
                    await asyncio.sleep(self.work_s)
                    return await self.inner.send(request, timeout=timeout)
            finally:
                self.waiting -= 1

        try:
            return await asyncio.wait_for(queued(), timeout)
        except TimeoutError:
            return Exchange(request, None, f"timeout after {timeout:g} s")

    async def close(self) -> None:
        await self.inner.close()


async def test_a_one_at_a_time_target_gets_no_error_from_queueing():
    # The mock's simulated model load (x-mock-fault: loading) must fit in the 0.6 s bound too.
    mock = MockConfig(token="t", fault_loading_seconds=0.05, max_body_bytes=8 << 20)
    config = RunConfig(
        profile="quick", seed=2, max_examples=0, workers=16, request_timeout=0.6, mock_config=mock
    )
    slow = OneAtATime(await open_for(config), work_s=0.05)
    events: list[Event] = []
    try:
        finished = await run(config, events.append, target=slow)
    finally:
        await slow.close()
    assert isinstance(finished, RunFinished)
    # 16 requests queued at 50 ms each would wait 0.8 s > 0.6 s: without pacing, many ERRORs.
    assert finished.outcomes["error"] == 0 and finished.outcomes["fail"] == 0, finished.failed_checks
    cases = [e for e in events if isinstance(e, CaseFinished)]
    order = [c.meta.get("case", {}) for c in cases]
    flags = [expensive(_spec(o)) for o in order if o]
    assert any(flags) and flags == sorted(flags)  # expensive cases come last


def _spec(data):
    from asr_conformance.conformance.generation.caseio import case_from_json

    return case_from_json(data)


def test_the_window_grows_while_fast_and_halves_on_trouble():
    cases = plan(RunConfig(profile="quick", seed=1, max_examples=0), offline_info(RunConfig()))
    case = next(c for c in cases if c.kind == "positive" and c.audio is not None)
    pacer = Pacer(ceiling=16, request_timeout=60.0)
    assert pacer.window == 2 and pacer.timeout_for(case) == 60.0  # nothing measured yet
    pacer.measure(0.05, 1.0)
    fast = CaseFinished(case.id, "coverage", "positive", "", None, (_answer(0.05, 200),), ())
    for _ in range(20):
        pacer.observe(case, fast)
    assert pacer.window == 16  # the ceiling (--workers)
    assert FLOOR_S <= pacer.timeout_for(case) <= 60.0
    queued = replace(fast, exchanges=(_answer(2.0, 200),))  # 40 x the fastest: a queue at the target
    pacer.observe(case, queued)
    assert pacer.window == 12
    busy = replace(fast, exchanges=(_answer(0.05, 429),))
    pacer.observe(case, busy)
    assert pacer.window == 6
    assert Pacer(ceiling=1, request_timeout=5.0).window == 1
    long = replace(case, audio=replace(case.audio, duration_s=30.0))
    pacer.measure(2.0, 1.0)
    assert pacer.timeout_for(long) == 60.0  # bounded by --request-timeout


def test_expensive_cases_are_planned_last():
    engine = replace(offline_info(RunConfig()), is_mock=False)  # a real engine: cost follows parameters
    cases = plan(RunConfig(profile="quick", seed=1, max_examples=0), engine)
    flags = [expensive(c) for c in cases]
    assert any(flags) and flags == sorted(flags)
    mock = plan(RunConfig(profile="quick", seed=1, max_examples=0), offline_info(RunConfig()))
    assert [expensive(c) for c in mock] != sorted(expensive(c) for c in mock)  # the mock: plan order
    beams = next(c for c in cases if "num_beams: integer 64" in (c.mutation or ""))
    assert expensive(beams)


def _answer(elapsed: float, status: int) -> Exchange:
    from asr_conformance.conformance.model import Response

    return Exchange(Request("POST", ""), Response(status, (), b"{}", elapsed))
