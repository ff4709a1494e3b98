"""The suite's engine: plan cases, send them through a target, judge them, stream events.

``run(config, on_event)`` emits ``RunStarted``, one ``CaseFinished`` per case (in plan order, whatever
order the workers finish in) and ``RunFinished``; report writers, the cassette recorder and the
terminal progress are all listeners on that stream. Phases: probe (reachability, auth, loading) →
examples → coverage → fuzz. A failure with a new dedup key is shrunk before its case is emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.engine import behaviour_phase as behaviour
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import (
    RunConfig,
    for_checks,
    open_for,
    selected_checks,
    suite_version,
)
from asr_conformance.conformance.engine.execute import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    FAILING,
    count_outcomes,
    execute,
    exit_code,
    failures_of,
    now,
)
from asr_conformance.conformance.engine.pacing import (
    Pacer,
    audio_s,
    not_judged,
    sent_last,
    timed_out,
)
from asr_conformance.conformance.engine.probe import probe
from asr_conformance.conformance.engine.repro import write_bodies
from asr_conformance.conformance.engine.shrinking import with_shrunk
from asr_conformance.conformance.engine.twins import PROBE_CHECKS, TWIN_CHECKS, Twins, accepted, inconclusive
from asr_conformance.conformance.generation.planner import plan_fixed, plan_fuzz
from asr_conformance.conformance.generation.profiles import get_profile
from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Event,
    Request,
    RunFinished,
    RunStarted,
)
from asr_conformance.conformance.target import Target
from asr_conformance.conformance.targets.canary import start as start_canary
from asr_conformance.conformance.targets.http import BudgetExhausted

from asr_conformance import spec

REPRO_FILES_PER_FAILURE = 5  # cases per failure kind whose bodies are written under REPORT_DIR/repro/


async def run(
    config: RunConfig,
    on_event: Callable[[Event], None],
    *,
    target: Target | None = None,
    stop: asyncio.Event | None = None,
    notify: Callable[[str], None] | None = None,
) -> RunFinished:
    """Run the suite: RunStarted → CaseFinished… → RunFinished (also returned).

    ``target``: an already opened target (the caller closes it); otherwise the run opens and closes
    ``config.target``. ``stop``: once set, no new case is sent; what is in flight finishes and the run
    ends "interrupted" (in flight: at most STOP_GRACE_S). ``notify``: progress lines from before the run
    starts (a loading target). Raises :class:`TargetUnreachable` (before RunStarted) when the probe gets
    no usable answer.
    """
    if config.dry_run:
        raise ValueError("a dry run sends nothing: call plan() (run() always sends)")
    if config.seed is None:
        config = replace(config, seed=random.SystemRandom().randrange(2**31))
    owned = target is None
    target = target or await open_for(config)
    try:
        if target.info.is_replay:
            # A cassette drives its own run: its recorded cases are judged, nothing is generated or sent.
            from asr_conformance.conformance.engine.replay import replay_run

            return await replay_run(config, on_event, target=target)  # type: ignore[arg-type]
        with _canary_and_flags(target, config):
            live = _LiveRun(config, on_event, target, stop or asyncio.Event())
            live.notify = notify
            return await live.run()
    finally:
        if owned:
            await target.close()


@contextlib.contextmanager
def _canary_and_flags(target: Target, config: RunConfig) -> Iterator[None]:
    """What the target's info learns for the run alone: the canary a URL-fetching server would hit (see
    ``targets.canary``) and ``--model-must-match``; the caller's info is restored afterwards."""
    original = target.info
    canary = start_canary(original.model_url) if original.model_url else None
    target.info = replace(
        original,
        canary_url=canary.base_url if canary else None,
        canary_hits=canary.hits if canary else None,
        model_must_match=config.model_must_match or original.model_must_match,
    )
    try:
        yield
    finally:
        target.info = original
        if canary is not None:
            canary.close()


class _LiveRun:
    """One run against a live target: the state the phases share (budget, results, emitted cases)."""

    def __init__(
        self, config: RunConfig, on_event: Callable[[Event], None], target: Target, stop: asyncio.Event
    ) -> None:
        self.config, self.on_event, self.target, self.stop = config, on_event, target, stop
        self.checks = selected_checks(config)
        self.budget = Budget(config.max_requests)
        self.results: list[CheckResult] = []
        self.cases = 0
        self.written: Counter[tuple[str, str]] = Counter()
        self.seen_keys: set[tuple[str, str]] = set()  # dedup keys already shrunk in this run
        self.t0 = time.perf_counter()
        self.run_id = uuid.uuid4().hex[:12]
        self.twins = Twins(lambda twin: execute(twin, target, config, checks=(), budget=self.budget))
        self.probe_accepted = True
        self.unplanned = 0  # cases emitted outside the plan (the loading case, the behaviour phase)
        self.pacer = Pacer(config.workers, config.request_timeout)
        self.notify: Callable[[str], None] | None = None

    async def run(self) -> RunFinished:
        config, profile = self.config, get_profile(self.config.profile)
        fixed = plan_fixed(profile, self.target.info)
        fixed = [fixed[0], *for_checks(config, fixed[1:], self.target.info)]
        first, loading = await probe(fixed[0], self.target, config, self.budget, self.notify)
        # Hypothesis draws the fuzz cases in a thread while the fixed ones are sent: drawing is CPU
        # work, sending mostly waits on the target. The plan is the same as plan()'s.
        drawn = asyncio.create_task(
            asyncio.to_thread(plan_fuzz, profile, seed=config.seed or 0, max_examples=config.max_examples)
        )
        n_fuzz = profile.fuzz_examples if config.max_examples is None else config.max_examples
        if config.checks is not None:  # how many drawn cases feed the checks is known only once drawn
            n_fuzz = len(for_checks(config, await drawn, self.target.info))
        n_behaviour = behaviour.planned(config.profile, self.checks)
        self.on_event(self._started(planned=len(fixed) + n_fuzz + n_behaviour, behaviour=n_behaviour))
        self.probe_accepted = accepted(first)
        if first.exchanges and first.exchanges[-1].response is not None:
            elapsed = first.exchanges[-1].response.elapsed_s
            self.pacer.measure(elapsed, audio_s(fixed[0]))
            self.pacer.record_base(elapsed, audio_s(fixed[0]))
        self.emit(first)
        if loading is not None:
            self.emit(loading)
            self.unplanned += 1
        if behaviour.enabled(config.profile, self.checks):  # known speech, early: does the target hear?
            heard = await behaviour.behaviour_phase(
                self.target, config, self.budget, checks=self.checks, on_case=self.emit
            )
            self.unplanned += len(heard)
        try:
            await self.run_cases([c for c in fixed[1:] if not self.expensive(c)])
        finally:
            fuzz_cases = for_checks(config, await drawn, self.target.info)
        await self.run_cases([c for c in fuzz_cases if not self.expensive(c)])
        # Last, one at a time: cases a faithful target may take minutes over must not hold up the others.
        await self.run_cases([c for c in (*fixed[1:], *fuzz_cases) if self.expensive(c)])
        return self.finish(planned=len(fixed) + len(fuzz_cases) + self.unplanned)

    def expensive(self, case: CaseSpec) -> bool:
        return sent_last(case, self.target.info)

    def _started(self, planned: int, behaviour: int) -> RunStarted:
        return RunStarted(
            run_id=self.run_id,
            suite_version=suite_version(),
            spec_view=self.config.spec_view,
            upstream_commit=spec.UPSTREAM.commit,
            target=self.target.info.name,
            profile=self.config.profile,
            seed=self.config.seed,
            started_at=now(),
            checks=tuple(c.id for c in self.checks),
            planned=planned,
            fail_on=self.config.fail_on,
            planned_behaviour=behaviour,
        )

    def emit(self, finished: CaseFinished) -> None:
        self.cases += 1
        self.results.extend(finished.results)
        report_dir = self.config.report_dir
        if report_dir is not None and finished.repro is not None:
            # Body files for the first few cases of each kind of failure: enough to reproduce it,
            # without copying every request of a badly broken target to disk.
            keys = {f.dedup_key for f in failures_of(finished)} or {("error", finished.case_id)}
            if any(self.written[k] < REPRO_FILES_PER_FAILURE for k in keys):
                self.written.update(keys)
                _write_repro_bodies(finished, report_dir)
        self.on_event(finished)

    def finish(self, planned: int) -> RunFinished:
        stopped = "interrupted" if self.stop.is_set() else ""
        if not stopped and self.cases < planned and self.budget.spent:
            stopped = "budget"
        code = exit_code(self.results, self.config.fail_on)
        if stopped == "interrupted":
            code = EXIT_INTERRUPTED
        elif stopped and code == 0:
            code = EXIT_INCOMPLETE
        finished = RunFinished(
            run_id=self.run_id,
            finished_at=now(),
            duration_s=round(time.perf_counter() - self.t0, 3),
            cases=self.cases,
            outcomes=count_outcomes(self.results),
            failed_checks=tuple(sorted({r.check_id for r in self.results if r.outcome in FAILING})),
            exit_code=code,
            planned=planned,
            stopped=stopped,
        )
        self.on_event(finished)
        return finished

    async def run_cases(self, cases: Sequence[CaseSpec]) -> None:
        """Send cases with ``config.workers`` in flight; emit them in plan order; shrink new failures."""
        await _run_cases(cases, self)

    async def one(self, case: CaseSpec, timeout: float | None = None) -> CaseFinished | None:
        """Send and judge one case (shrinking a new failure); None when the budget ran out first."""
        config = self.config if timeout is None else replace(self.config, request_timeout=timeout)
        try:
            twin = await self.twins.verdict(case)
            finished = await execute(case, self.target, config, checks=self.checks, budget=self.budget)
        except BudgetExhausted:
            return None
        finished = self._vacuous(finished, twin)
        if self.config.shrink:
            new = [f.dedup_key for f in failures_of(finished) if f.dedup_key not in self.seen_keys]
            self.seen_keys.update(new)
            if new and case.phase != "examples":
                attempts = get_profile(self.config.profile).shrink_attempts
                finished = await with_shrunk(
                    finished, case, new[0], self.target, self.config, self.budget, attempts
                )
        return finished

    def _vacuous(self, finished: CaseFinished, twin: dict[str, Any] | None) -> CaseFinished:
        """A refusal whose valid counterpart was refused too proves nothing: SKIP, not PASS."""
        if twin is not None:
            finished = replace(finished, meta={**finished.meta, "twin": twin})
            if not twin["accepted"]:
                finished = inconclusive(finished, TWIN_CHECKS)
        if not self.probe_accepted:
            finished = inconclusive(
                finished, PROBE_CHECKS, "inconclusive: the probe (a valid request) was refused"
            )
        return finished

    async def paced(self, case: CaseSpec) -> CaseFinished | None:
        """One case within the pacer's window and with its own timeout. A timeout while other requests
        were in flight may be the queue's, not the case's: the case is sent again, alone, under
        ``--request-timeout``. An expensive case that still gets no answer is not judged."""
        alone = self.expensive(case)
        async with self.pacer.slot(solo=alone):
            crowded = self.pacer.in_flight > 1 or self.pacer.peak > 1
            # A loading scenario waits for a model on purpose: its time says nothing about speed.
            scaled = not alone and case.protocol != "loading"
            timeout = self.pacer.timeout_for(case) if scaled else self.config.request_timeout
            finished = await self.one(case, timeout)
            if finished is not None:
                self.pacer.observe(case, finished)
        if finished is None or not timed_out(finished) or self.halted:
            return finished
        if not alone and (crowded or timeout < self.config.request_timeout):
            async with self.pacer.slot(solo=True):
                again = await self.one(case, self.config.request_timeout)
            if again is None:  # the budget ran out before the retry: the timeout says nothing
                return not_judged(finished, "timed out while other requests were queued; not retried")
            finished = again
        if alone and timed_out(finished):
            limit = f"{self.config.request_timeout:g} s"
            return not_judged(finished, f"expensive implementation-defined case: no answer within {limit}")
        return finished

    @property
    def halted(self) -> bool:
        return self.budget.spent or self.stop.is_set()


def _write_repro_bodies(finished: CaseFinished, report_dir: Path) -> None:
    from asr_conformance.conformance.generation.caseio import case_from_json

    shrunk = finished.meta.get("shrunk")
    source = shrunk["case"] if shrunk else finished.meta["case"]
    requests = (
        [Request.from_json(r) for r in shrunk["requests"]]
        if shrunk
        else [e.request for e in finished.exchanges]
    )
    write_bodies(case_from_json(source), requests, report_dir / "repro")


STOP_GRACE_S = 10.0  # after SIGINT/SIGTERM, how long requests in flight may take to finish


async def _cancel_when_stopped(stop: asyncio.Event, workers: list[asyncio.Task[None]]) -> None:
    """Once the run is stopped, requests in flight get :data:`STOP_GRACE_S` to finish, then are dropped."""
    await stop.wait()
    await asyncio.sleep(STOP_GRACE_S)
    for task in workers:
        task.cancel()


async def _run_cases(cases: Sequence[CaseSpec], state: _LiveRun) -> None:
    """As many cases in flight as the pacer's window allows; emitted in plan order whatever order they
    finish in. Expensive implementation-defined cases are sent alone."""
    done: dict[int, CaseFinished | None] = {}
    next_emit = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(cases)):
        queue.put_nowait(i)

    def flush() -> None:
        nonlocal next_emit
        while next_emit in done:
            finished = done.pop(next_emit)
            if finished is not None:
                state.emit(finished)
            next_emit += 1

    async def worker() -> None:
        while not queue.empty() and not state.halted:
            i = queue.get_nowait()
            done[i] = await state.paced(cases[i])
            flush()

    workers = [asyncio.create_task(worker()) for _ in range(state.pacer.ceiling)]
    stopper = asyncio.create_task(_cancel_when_stopped(state.stop, workers))
    try:
        outcomes = await asyncio.gather(*workers, return_exceptions=True)
    finally:
        stopper.cancel()
    for outcome in outcomes:  # a worker cancelled by a stop is expected; anything else is a bug
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome
    # Cases never sent (budget spent, run stopped) leave gaps: emit what exists, in order.
    for i in sorted(done):
        if done[i] is not None:
            state.emit(done[i])  # type: ignore[arg-type]
