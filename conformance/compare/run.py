"""Compare: the same planned cases sent to several targets, and where their behaviour differs.

Per case, the targets are compared on what the API fixes, exchange by exchange:

==============  ====================================================================================
dimension       values
==============  ====================================================================================
status          status class: ``2xx``, ``4xx``, ``5xx`` (``3xx``, ``1xx``), or ``transport error``
error_shape     for errors: ``error: string``, ``error: list``, ``no error key``, ``not JSON``
schema          the body valid against the spec's response (2xx) or error (4xx/5xx) schema
chunks          for successes: whether ``chunks`` is present
==============  ====================================================================================

and, on speech cases answered 2xx by both, by word error rate between the transcripts (jiwer, lower-cased,
punctuation removed). WER is only meaningful between real ASR engines: a pair that includes a mock (whose
transcripts are synthetic) gets no WER, and the report says so.

After the probe case every target gets the behaviour phase of a run (known speech in each variant,
:mod:`.behaviour`): WER per variant against the known text, and the variants on which targets diverge.

Each target's own check verdicts are kept too: the targets × checks matrix and the badges come from them.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.compare.behaviour import send_corpus
from asr_conformance.conformance.compare.observe import spec_schema_check
from asr_conformance.conformance.compare.result import (
    DEFAULT_WER_THRESHOLD,
    CompareResult,
    Comparison,
    common_info,
    labels_for,
)
from asr_conformance.conformance.engine import behaviour_phase
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import (
    RunConfig,
    mock_config_for,
    plan,
    selected_checks,
    suite_version,
)
from asr_conformance.conformance.engine.execute import execute as execute_case
from asr_conformance.conformance.engine.execute import exit_code, judge, send_requests
from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Event,
    Exchange,
    Outcome,
    RunFinished,
    RunStarted,
)
from asr_conformance.conformance.target import Target, TargetInfo
from asr_conformance.conformance.targets.http import BudgetExhausted

if TYPE_CHECKING:
    from asr_conformance.conformance.targets.replay import CassetteTarget

#: Sends one case to one target and returns its verdicts, or ``None`` when the request budget is spent.
Executor = Callable[[CaseSpec, Target], Awaitable[CaseFinished | None]]


async def compare_cases(
    cases: Sequence[CaseSpec],
    targets: Sequence[Target],
    execute: Executor,
    comparison: Comparison,
    *,
    concurrency: int = 8,
    on_case: Callable[[CaseSpec, dict[str, CaseFinished]], None] | None = None,
) -> int:
    """Send every case to every target (one case to all targets at once) and feed the comparison.

    Results are taken in case order; ``on_case`` sees each case's events first (recorders, progress). A
    case some target could not be sent (request budget spent: the executor returns ``None``) is left out
    for all targets, so every compared case was seen by every target. Returns how many were left out.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(case: CaseSpec) -> list[CaseFinished | None]:
        async with gate:
            return list(await asyncio.gather(*(execute(case, t) for t in targets)))

    tasks = [asyncio.ensure_future(one(case)) for case in cases]
    left_out = 0
    try:
        for case, task in zip(cases, tasks, strict=True):
            results = await task
            if any(r is None for r in results):
                left_out += 1
                continue
            events = {label: r for label, r in zip(comparison.labels, results, strict=True) if r is not None}
            if on_case is not None:
                on_case(case, events)
            comparison.add(case, events)
    finally:
        for task in tasks:
            task.cancel()
    return left_out


class CompareUnreachable(Exception):
    """A target gave no answer to the probe: nothing can be compared (exit 2)."""


async def run_compare(
    specs: Sequence[str],
    config: RunConfig,
    *,
    wer_threshold: float = DEFAULT_WER_THRESHOLD,
    on_event: Callable[[int, Event], None] | None = None,
    on_open: Callable[[Sequence[Target]], None] | None = None,
    synthetic: Sequence[str] = (),
    select: Callable[[list[CaseSpec]], list[CaseSpec]] | None = None,
    behaviour_limits: behaviour_phase.Limits | None = None,
) -> CompareResult:
    """Open every target, send them the same cases, and compare.

    Cases come from the planner (seeded, for the targets' common capabilities, see :func:`common_info`),
    or, when a target is a cassette, from the first cassette: its recorded requests are sent byte for
    byte to the other targets, so a new implementation is held against behaviour captured once.
    ``on_event(index, event)`` gets each target's own event stream (RunStarted, CaseFinished…,
    RunFinished), for cassette recorders and report writers. ``config.max_requests`` is per target.
    ``synthetic``: target spellings (as in ``specs``) whose transcripts are synthetic, e.g. a mock reached
    by URL, which HTTP alone cannot tell from a real engine; the in-process mock is known to be one.
    ``select`` narrows the planned cases (keep the first: it is the probe). ``behaviour_limits``: how
    much of the known-speech corpus goes to each target (default: the profile's, as in a run).
    """
    if config.seed is None:
        config = replace(config, seed=random.SystemRandom().randrange(2**31))
    targets: list[Target] = []
    try:
        await _open_all(specs, config, synthetic, targets)
        if on_open is not None:
            on_open(targets)
        infos = [t.info for t in targets]
        labels = labels_for(infos)
        checks = selected_checks(config)
        budgets = [Budget(config.max_requests) for _ in targets]
        cases, execute, cassette, notes = _cases_and_executor(targets, config, checks, budgets)
        if select is not None:
            cases = select(cases)
        comparison = Comparison(
            labels, infos, spec_schema_check(config.spec_view), wer_threshold=wer_threshold
        )
        streams = [_EventStream(i, t.info, config, checks, on_event) for i, t in enumerate(targets)]
        corpus = None  # a recording brings its own behaviour cases; live targets get the corpus
        if cassette is None and behaviour_phase.enabled(config.profile, checks):
            corpus = partial(send_corpus, targets, config, budgets, checks, behaviour_limits)
        left_out = await _send_all(cases, targets, execute, comparison, streams, config, corpus)
        if left_out:
            notes.append(
                f"{left_out} planned cases were not sent to every target (--max-requests) and are left out."
            )
        return comparison.result(
            seed=config.seed,
            profile=config.profile if cassette is None else cassette.cassette.run.profile,
            spec_view=config.spec_view,
            suite_version=suite_version(),
            notes=notes,
        )
    finally:
        for target in targets:
            await target.close()


async def _open_all(
    specs: Sequence[str], config: RunConfig, synthetic: Sequence[str], targets: list[Target]
) -> None:
    """Open each target into ``targets`` (the caller closes them, also after a failure)."""
    from asr_conformance.conformance.targets.factory import open_target

    for spec_ in specs:
        is_mock_spec = spec_ in ("", "mock")
        target = await open_target(
            spec_ or None,
            token=config.token,
            headers=config.headers,
            mock_config=mock_config_for(config) if is_mock_spec else None,
            max_body_bytes=config.max_body_bytes,
        )
        if spec_ in synthetic and not target.info.is_mock:
            target.info = replace(target.info, is_mock=True)
        targets.append(target)


def _cases_and_executor(
    targets: Sequence[Target], config: RunConfig, checks: Sequence[Any], budgets: Sequence[Budget]
) -> tuple[list[CaseSpec], Executor, CassetteTarget | None, list[str]]:
    """The cases to compare (planned, or a cassette's) and how one case is sent to one target."""
    from asr_conformance.conformance.targets.replay import CassetteTarget

    cassette = next((t for t in targets if isinstance(t, CassetteTarget)), None)
    recorded: dict[str, tuple[Exchange, ...]] = {}
    notes: list[str] = []
    if cassette is not None:
        cases = [r.case for r in cassette.cases]
        recorded = {r.case.id: r.exchanges for r in cassette.cases}
        notes.append(f"Cases and request bytes come from the recording {cassette.info.name}.")
    else:
        cases = plan(config, common_info([t.info for t in targets]))

    async def execute(case: CaseSpec, target: Target) -> CaseFinished | None:
        budget = budgets[list(targets).index(target)]
        try:
            if cassette is None:
                return await execute_case(case, target, config, checks=checks, budget=budget)
            if target is cassette:
                exchanges = recorded[case.id]
            else:
                requests = [e.request for e in recorded[case.id]]
                exchanges = await send_requests(case, requests, target, config, budget)
        except BudgetExhausted:
            return None
        return judge(case, exchanges, target.info, config, checks=checks)

    return cases, execute, cassette, notes


async def _send_all(
    cases: Sequence[CaseSpec],
    targets: Sequence[Target],
    execute: Executor,
    comparison: Comparison,
    streams: Sequence[_EventStream],
    config: RunConfig,
    corpus: Callable[[], Awaitable[list[list[CaseFinished]]]] | None = None,
) -> int:
    """Probe, the known-speech corpus (``corpus``), then every case to every target; returns how many
    cases were left out."""
    labels = comparison.labels

    def on_case(case: CaseSpec, events: dict[str, CaseFinished]) -> None:
        for stream, label in zip(streams, labels, strict=True):
            stream.case(events[label])

    left_out = 0
    first = await _probe(cases, targets, execute) if cases else []
    for stream in streams:
        stream.start()
    if cases:
        if all(f is not None for f in first):
            events = {label: f for label, f in zip(labels, first, strict=True) if f is not None}
            on_case(cases[0], events)
            comparison.add(cases[0], events)
        else:
            left_out += 1
    if corpus is not None:  # early, as in a run: does each target hear?
        for stream, label, heard in zip(streams, labels, await corpus(), strict=True):
            for finished in heard:
                stream.case(finished)
            comparison.add_behaviour(label, heard)
    if cases:
        left_out += await compare_cases(
            cases[1:],
            targets,
            execute,
            comparison,
            concurrency=max(1, config.workers // len(targets)),
            on_case=on_case,
        )
    for stream in streams:
        stream.finish(config.fail_on)
    return left_out


async def _probe(
    cases: Sequence[CaseSpec],
    targets: Sequence[Target],
    execute: Callable[[CaseSpec, Target], Awaitable[CaseFinished | None]],
) -> list[CaseFinished | None]:
    """Send the first case (the planner's probe) to each target; fail fast on one that never answers."""
    results = []
    for target in targets:
        finished = await execute(cases[0], target)
        if finished is not None and all(e.response is None for e in finished.exchanges):
            reason = finished.exchanges[0].transport_error if finished.exchanges else "no exchange"
            raise CompareUnreachable(f"{target.info.name} is unreachable: {reason}")
        results.append(finished)
    return results


class _EventStream:
    """One target's RunStarted → CaseFinished… → RunFinished, for recorders and report writers."""

    def __init__(
        self,
        index: int,
        info: TargetInfo,
        config: RunConfig,
        checks: Sequence[Any],
        sink: Callable[[int, Event], None] | None,
    ) -> None:
        self.index, self.info, self.config, self.checks, self.sink = index, info, config, checks, sink
        self.run_id = uuid.uuid4().hex[:12]
        self.t0 = time.perf_counter()
        self.results: list[CheckResult] = []
        self.cases = 0

    def start(self) -> None:

        self._emit(
            RunStarted(
                run_id=self.run_id,
                suite_version=suite_version(),
                spec_view=self.config.spec_view,
                upstream_commit=_upstream_commit(),
                target=self.info.name,
                profile=self.config.profile,
                seed=self.config.seed,
                started_at=_now(),
                checks=tuple(c.id for c in self.checks),
            )
        )

    def case(self, event: CaseFinished) -> None:
        self.cases += 1
        self.results.extend(event.results)
        self._emit(event)

    def finish(self, fail_on: str) -> None:

        failing = (Outcome.FAIL, Outcome.ERROR)
        self._emit(
            RunFinished(
                run_id=self.run_id,
                finished_at=_now(),
                duration_s=round(time.perf_counter() - self.t0, 3),
                cases=self.cases,
                outcomes={str(o): sum(r.outcome is o for r in self.results) for o in Outcome},
                failed_checks=tuple(sorted({r.check_id for r in self.results if r.outcome in failing})),
                exit_code=exit_code(self.results, fail_on),
            )
        )

    def _emit(self, event: Event) -> None:
        if self.sink is not None:
            self.sink(self.index, event)


def _upstream_commit() -> str:
    from asr_conformance import spec

    return spec.UPSTREAM.commit


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
