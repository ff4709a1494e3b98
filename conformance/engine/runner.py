"""The suite's engine: plan cases, send them through a target, judge them, stream events.

``run(config, on_event)`` emits ``RunStarted``, one ``CaseFinished`` per case (in plan order, whatever
order the workers finish in) and ``RunFinished``; report writers, the cassette recorder and the
terminal progress are all listeners on that stream. Phases: probe (reachability, auth, loading) →
examples → coverage → fuzz. A failure with a new dedup key is shrunk before its case is emitted.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.checks.base import Check
from asr_conformance.conformance.engine.profiles import get_profile
from asr_conformance.conformance.engine.repro import write_bodies
from asr_conformance.conformance.generation.planner import plan_fixed, plan_fuzz
from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Event,
    Request,
    RunFinished,
    RunStarted,
)
from asr_conformance.conformance.target import Target
from asr_conformance.conformance.targets.http import BudgetExhausted

from asr_conformance import spec

if TYPE_CHECKING:
    pass
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import RunConfig, open_for, selected_checks, suite_version
from asr_conformance.conformance.engine.execute import (
    FAILING,
    count_outcomes,
    execute,
    exit_code,
    failures_of,
    now,
)
from asr_conformance.conformance.engine.probe import probe
from asr_conformance.conformance.engine.shrinking import with_shrunk

REPRO_FILES_PER_FAILURE = 5  # cases per failure kind whose bodies are written under REPORT_DIR/repro/


async def run(
    config: RunConfig, on_event: Callable[[Event], None], *, target: Target | None = None
) -> RunFinished:
    """Run the suite: RunStarted → CaseFinished… → RunFinished (also returned).

    ``target``: an already opened target (the caller closes it); otherwise the run opens and closes
    ``config.target``. Raises :class:`TargetUnreachable` (before RunStarted) when the probe gets no
    usable answer.
    """
    if config.dry_run:
        raise ValueError("a dry run sends nothing: call plan() (run() always sends)")
    if config.seed is None:
        config = replace(config, seed=random.SystemRandom().randrange(2**31))
    checks = selected_checks(config)
    t0 = time.perf_counter()
    budget = Budget(config.max_requests)
    all_results: list[CheckResult] = []
    n_cases = 0
    owned = target is None
    target = target or await open_for(config)
    if target.info.is_replay:
        # A cassette drives its own run: its recorded cases are judged, nothing is generated or sent.
        from asr_conformance.conformance.engine.replay import replay_run

        try:
            return await replay_run(config, on_event, target=target)  # type: ignore[arg-type]
        finally:
            if owned:
                await target.close()
    try:
        info = target.info
        profile = get_profile(config.profile)
        fixed = plan_fixed(profile, info)
        first, loading = await probe(fixed[0], target, config, budget)
        # Hypothesis draws the fuzz cases in a thread while the fixed ones are sent: drawing is CPU
        # work, sending mostly waits on the target. The plan is the same as plan()'s.
        drawn = asyncio.create_task(
            asyncio.to_thread(plan_fuzz, profile, seed=config.seed or 0, max_examples=config.max_examples)
        )
        run_id = uuid.uuid4().hex[:12]
        on_event(
            RunStarted(
                run_id=run_id,
                suite_version=suite_version(),
                spec_view=config.spec_view,
                upstream_commit=spec.UPSTREAM.commit,
                target=info.name,
                profile=config.profile,
                seed=config.seed,
                started_at=now(),
                checks=tuple(c.id for c in checks),
            )
        )

        written: Counter[tuple[str, str]] = Counter()

        def emit(finished: CaseFinished) -> None:
            nonlocal n_cases
            n_cases += 1
            all_results.extend(finished.results)
            if config.report_dir is not None and finished.repro is not None:
                # Body files for the first few cases of each kind of failure: enough to reproduce it,
                # without copying every request of a badly broken target to disk.
                keys = {f.dedup_key for f in failures_of(finished)} or {("error", finished.case_id)}
                if any(written[k] < REPRO_FILES_PER_FAILURE for k in keys):
                    written.update(keys)
                    _write_repro_bodies(finished, config.report_dir)
            on_event(finished)

        emit(first)
        if loading is not None:
            emit(loading)
        seen: set[tuple[str, str]] = set()
        try:
            await _run_cases(fixed[1:], target, config, checks, budget, emit, seen)
        finally:
            fuzz_cases = await drawn
        await _run_cases(fuzz_cases, target, config, checks, budget, emit, seen)
    finally:
        if owned:
            await target.close()
    finished = RunFinished(
        run_id=run_id,
        finished_at=now(),
        duration_s=round(time.perf_counter() - t0, 3),
        cases=n_cases,
        outcomes=count_outcomes(all_results),
        failed_checks=tuple(sorted({r.check_id for r in all_results if r.outcome in FAILING})),
        exit_code=exit_code(all_results, config.fail_on),
    )
    on_event(finished)
    return finished


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


async def _run_cases(
    cases: Sequence[CaseSpec],
    target: Target,
    config: RunConfig,
    checks: Sequence[Check],
    budget: Budget,
    emit: Callable[[CaseFinished], None],
    seen_keys: set[tuple[str, str]],
) -> None:
    """Send cases with ``config.workers`` in flight; emit them in plan order; shrink new failures
    (``seen_keys``: the dedup keys already shrunk in this run)."""
    profile = get_profile(config.profile)
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
                emit(finished)
            next_emit += 1

    async def worker() -> None:
        while not queue.empty() and not budget.spent:
            i = queue.get_nowait()
            case = cases[i]
            try:
                finished: CaseFinished | None = await execute(
                    case, target, config, checks=checks, budget=budget
                )
            except BudgetExhausted:
                finished = None
            if finished is not None and config.shrink:
                new = [f.dedup_key for f in failures_of(finished) if f.dedup_key not in seen_keys]
                seen_keys.update(new)
                if new and case.phase != "examples":
                    finished = await with_shrunk(
                        finished, case, new[0], target, config, budget, profile.shrink_attempts
                    )
            done[i] = finished
            flush()

    await asyncio.gather(*(worker() for _ in range(max(1, config.workers))))
    # Cases never sent (request budget spent) leave gaps: emit what exists, in order.
    for i in sorted(done):
        if done[i] is not None:
            emit(done[i])  # type: ignore[arg-type]
