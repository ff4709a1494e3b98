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

Each target's own check verdicts are kept too: the targets × checks matrix and the badges come from them.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import combinations
from typing import TYPE_CHECKING, Any

from asr_conformance.conformance.cases import CaseSpec
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
from asr_conformance.conformance.transport import BudgetExhausted

if TYPE_CHECKING:
    from asr_conformance.conformance.runner import RunConfig

DIMENSIONS = ("status", "error_shape", "schema", "chunks")
DEFAULT_WER_THRESHOLD = 0.5
MOCK_WER_NOTE = "not compared: {who} synthetic (a mock); WER needs two real ASR engines"

#: Sends one case to one target and returns its verdicts, or ``None`` when the request budget is spent.
Executor = Callable[[CaseSpec, Target], Awaitable[CaseFinished | None]]
#: Tells whether a JSON body is valid for a schema name ("response" or "error").
SchemaCheck = Callable[[str, Any], bool]


@dataclass(frozen=True)
class Observation:
    """What one exchange showed, on the dimensions compared across targets."""

    status: str
    error_shape: str | None = None
    schema: str | None = None  # "valid" | "invalid" | None (no body to judge)
    chunks: str | None = None  # "present" | "absent" | None (not a success)
    text: str | None = None  # the transcript of a success

    def value(self, dimension: str) -> str | None:
        return getattr(self, dimension)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def error_shape(body: Any, raw: bytes) -> str:
    """The shape of an error body: the API puts a string, or a list of strings, under ``error``."""
    if body is None:
        return "not JSON" if raw else "empty body"
    if not isinstance(body, dict) or "error" not in body:
        return "no error key"
    err = body["error"]
    if isinstance(err, str):
        return "error: string"
    if isinstance(err, list) and all(isinstance(e, str) for e in err):
        return "error: list"
    return f"error: {type(err).__name__}"


def observe(exchange: Exchange, schema_ok: SchemaCheck) -> Observation:
    """Reduce one exchange to the compared dimensions."""
    resp = exchange.response
    if resp is None:
        return Observation(status="transport error")
    try:
        body: Any = json.loads(resp.body) if resp.body else None
    except ValueError:
        body = None
    cls = status_class(resp.status)
    if resp.status < 400:
        if body is None:
            return Observation(status=cls, schema="invalid" if resp.status == 200 else None)
        has_chunks = isinstance(body, dict) and "chunks" in body
        text = body.get("text") if isinstance(body, dict) and isinstance(body.get("text"), str) else None
        return Observation(
            status=cls,
            schema="valid" if schema_ok("response", body) else "invalid",
            chunks="present" if has_chunks else "absent",
            text=text,
        )
    shape = error_shape(body, resp.body)
    schema = None if body is None else ("valid" if schema_ok("error", body) else "invalid")
    return Observation(status=cls, error_shape=shape, schema=schema)


_PUNCT = re.compile(r"[^\w\s']")


def normalise_transcript(text: str) -> str:
    """Lower-case, no punctuation, single spaces: WER should weigh words, not formatting."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` after normalisation (jiwer)."""
    import jiwer  # only compare needs it

    ref, hyp = normalise_transcript(reference), normalise_transcript(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.wer(ref, hyp))


# ----------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Difference:
    """Targets disagreeing on one dimension of one exchange of one case."""

    case_id: str
    description: str
    exchange: int
    dimension: str  # one of DIMENSIONS, or "transcript"
    values: dict[str, str]  # target label -> what it showed
    note: str = ""


@dataclass
class PairStats:
    """Agreement between two targets over the cases both answered."""

    cases: int = 0
    agreeing_cases: int = 0
    by_dimension: Counter[str] = field(default_factory=Counter)  # dimension -> disagreeing exchanges
    wers: list[float] = field(default_factory=list)
    wer_note: str = ""

    @property
    def agreement(self) -> float | None:
        return self.agreeing_cases / self.cases if self.cases else None

    @property
    def mean_wer(self) -> float | None:
        return sum(self.wers) / len(self.wers) if self.wers else None


@dataclass
class TargetSummary:
    """One target's own verdicts over the compared cases."""

    label: str
    info: TargetInfo
    by_check: dict[str, Counter[str]] = field(default_factory=dict)  # check id -> outcome -> count

    def add(self, event: CaseFinished) -> None:
        for result in event.results:
            self.by_check.setdefault(result.check_id, Counter())[str(result.outcome)] += 1

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.by_check.values():
            total.update(counts)
        return total

    @property
    def conformance(self) -> float | None:
        """Share of judged verdicts (pass, fail, error) that passed; SKIP and 503/429 are not verdicts."""
        t = self.totals()
        judged = t[Outcome.PASS] + t[Outcome.FAIL] + t[Outcome.ERROR]
        return t[Outcome.PASS] / judged if judged else None


@dataclass
class CompareResult:
    """Everything a compare report shows."""

    labels: list[str]
    targets: dict[str, TargetSummary]
    pairs: dict[tuple[str, str], PairStats]
    differences: list[Difference]
    cases: int
    wer_threshold: float
    seed: int | None = None
    profile: str = ""
    spec_view: str = "served"
    suite_version: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "targets": [
                {
                    "label": label,
                    "name": self.targets[label].info.name,
                    "is_mock": is_mock(self.targets[label].info),
                    "conformance": self.targets[label].conformance,
                    "checks": {k: dict(v) for k, v in sorted(self.targets[label].by_check.items())},
                }
                for label in self.labels
            ],
            "pairs": [
                {
                    "a": a,
                    "b": b,
                    "cases": p.cases,
                    "agreeing_cases": p.agreeing_cases,
                    "agreement": p.agreement,
                    "disagreements_by_dimension": dict(p.by_dimension),
                    "mean_wer": p.mean_wer,
                    "wer_note": p.wer_note,
                }
                for (a, b), p in self.pairs.items()
            ],
            "differences": [d.__dict__ for d in self.differences],
            "cases": self.cases,
            "wer_threshold": self.wer_threshold,
            "seed": self.seed,
            "profile": self.profile,
            "spec_view": self.spec_view,
            "suite_version": self.suite_version,
            "notes": self.notes,
        }


def is_mock(info: TargetInfo) -> bool:
    """Transcripts from this target are synthetic (the mock, or a recording of it)."""
    return info.is_mock


def labels_for(infos: Sequence[TargetInfo]) -> list[str]:
    """Distinct report labels: the target names, numbered where two are the same."""
    counts = Counter(i.name for i in infos)
    seen: Counter[str] = Counter()
    labels = []
    for info in infos:
        seen[info.name] += 1
        labels.append(f"{info.name} #{seen[info.name]}" if counts[info.name] > 1 else info.name)
    return labels


def common_info(infos: Sequence[TargetInfo]) -> TargetInfo:
    """The target every compared target can stand in for, so planning picks only cases all can take.

    Mock-only fault headers go out only if every target exposes the mock controls, auth scenarios only if
    every target has a token, a body-limit case only under the smallest declared limit.
    """
    limits = [i.max_body_bytes for i in infos]
    return TargetInfo(
        name="compare:" + ",".join(i.name for i in infos),
        model_url="",
        exposes_mock_controls=all(i.exposes_mock_controls for i in infos),
        has_token=all(i.has_token for i in infos),
        max_body_bytes=min(limits) if all(v is not None for v in limits) else None,  # type: ignore[type-var]
        is_mock=all(i.is_mock for i in infos),
        is_replay=any(i.is_replay for i in infos),
    )


def _is_speech(case: CaseSpec) -> bool:
    return case.audio is not None and case.audio.kind == "speech"


class Comparison:
    """Accumulates per-case results from every target and builds the :class:`CompareResult`."""

    def __init__(
        self,
        labels: Sequence[str],
        infos: Sequence[TargetInfo],
        schema_ok: SchemaCheck,
        *,
        wer_threshold: float = DEFAULT_WER_THRESHOLD,
    ) -> None:
        self.labels = list(labels)
        self.infos = dict(zip(self.labels, infos, strict=True))
        self.schema_ok = schema_ok
        self.wer_threshold = wer_threshold
        self.targets = {label: TargetSummary(label, info) for label, info in self.infos.items()}
        self.pairs = {pair: PairStats() for pair in combinations(self.labels, 2)}
        for a, b in self.pairs:
            mocks = [x for x in (a, b) if is_mock(self.infos[x])]
            if mocks:
                who = f"{mocks[0]}'s transcripts are" if len(mocks) == 1 else "both sides' transcripts are"
                self.pairs[(a, b)].wer_note = MOCK_WER_NOTE.format(who=who)
        self.differences: list[Difference] = []
        self.cases = 0

    def add(self, case: CaseSpec, events: dict[str, CaseFinished]) -> None:
        """Take one case's result from every target."""
        self.cases += 1
        for label, event in events.items():
            self.targets[label].add(event)
        observed = {
            label: [observe(x, self.schema_ok) for x in event.exchanges] for label, event in events.items()
        }
        description = next(iter(events.values())).description if events else case.id
        for (a, b), stats in self.pairs.items():
            stats.cases += 1
            disagree = self._pair_differences(observed[a], observed[b])
            for dimension in disagree:
                stats.by_dimension[dimension] += 1
            if _is_speech(case) and not stats.wer_note:
                texts = self._texts(observed[a], observed[b])
                if texts is not None:
                    score = wer(*texts)
                    stats.wers.append(score)
                    if score > self.wer_threshold:
                        disagree.add("transcript")
                        self.differences.append(
                            Difference(
                                case.id,
                                description,
                                0,
                                "transcript",
                                {a: texts[0], b: texts[1]},
                                note=f"WER {score:.2f} > {self.wer_threshold:.2f}",
                            )
                        )
            if not disagree:
                stats.agreeing_cases += 1
        self._record_differences(case.id, description, observed)

    @staticmethod
    def _pair_differences(a: list[Observation], b: list[Observation]) -> set[str]:
        if len(a) != len(b):
            return {"status"}  # one target's scenario stopped early (e.g. a transport error)
        return {d for x, y in zip(a, b, strict=True) for d in DIMENSIONS if x.value(d) != y.value(d)}

    @staticmethod
    def _texts(a: list[Observation], b: list[Observation]) -> tuple[str, str] | None:
        """The two transcripts of the case's first exchange, when both targets gave one."""
        text_a, text_b = (a[0].text if a else None), (b[0].text if b else None)
        return (text_a, text_b) if text_a is not None and text_b is not None else None

    def _record_differences(
        self, case_id: str, description: str, observed: dict[str, list[Observation]]
    ) -> None:
        depth = max((len(v) for v in observed.values()), default=0)
        for index in range(depth):
            at = {label: obs[index] if index < len(obs) else None for label, obs in observed.items()}
            for dimension in DIMENSIONS:
                values = {label: _show(o.value(dimension) if o else "no exchange") for label, o in at.items()}
                if len(set(values.values())) > 1:
                    self.differences.append(Difference(case_id, description, index, dimension, values))

    def result(self, **run: Any) -> CompareResult:
        return CompareResult(
            labels=self.labels,
            targets=self.targets,
            pairs=self.pairs,
            differences=self.differences,
            cases=self.cases,
            wer_threshold=self.wer_threshold,
            **run,
        )


def _show(value: str | None) -> str:
    return "—" if value is None else value


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


def spec_schema_check(view: str) -> SchemaCheck:
    """``schema_ok(name, body)`` from the spec's validators in ``view``."""
    from asr_conformance import spec
    def schema_ok(name: str, body: Any) -> bool:
        return bool(spec.validator(name, view=view).is_valid(body))

    return schema_ok


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
) -> CompareResult:
    """Open every target, send them the same cases, and compare.

    Cases come from the planner (seeded, for the targets' common capabilities, see :func:`common_info`),
    or, when a target is a cassette, from the first cassette: its recorded requests are sent byte for
    byte to the other targets, so a new implementation is held against behaviour captured once.
    ``on_event(index, event)`` gets each target's own event stream (RunStarted, CaseFinished…,
    RunFinished), for cassette recorders and report writers. ``config.max_requests`` is per target.
    ``synthetic``: target spellings (as in ``specs``) whose transcripts are synthetic, e.g. a mock reached
    by URL, which HTTP alone cannot tell from a real engine; the in-process mock is known to be one.
    ``select`` narrows the planned cases (keep the first: it is the probe).
    """
    from asr_conformance.conformance import runner
    from asr_conformance.conformance.cassette import CassetteTarget
    from asr_conformance.conformance.targets import open_target

    if config.seed is None:
        config = replace(config, seed=random.SystemRandom().randrange(2**31))
    targets: list[Target] = []
    try:
        for spec_ in specs:
            is_mock_spec = spec_ in ("", "mock")
            targets.append(
                await open_target(
                    spec_ or None,
                    token=config.token,
                    headers=config.headers,
                    mock_config=runner.mock_config_for(config) if is_mock_spec else None,
                    max_body_bytes=config.max_body_bytes,
                )
            )
        for spec_, target in zip(specs, targets, strict=True):
            if spec_ in synthetic and not target.info.is_mock:
                target.info = replace(target.info, is_mock=True)
        if on_open is not None:
            on_open(targets)
        infos = [t.info for t in targets]
        labels = labels_for(infos)
        checks = runner.selected_checks(config)
        budgets = [runner.Budget(config.max_requests) for _ in targets]
        cassette = next((t for t in targets if isinstance(t, CassetteTarget)), None)
        recorded: dict[str, tuple[Exchange, ...]] = {}
        notes: list[str] = []
        if cassette is not None:
            cases = [r.case for r in cassette.cases]
            recorded = {r.case.id: r.exchanges for r in cassette.cases}
            notes.append(f"Cases and request bytes come from the recording {cassette.info.name}.")
        else:
            cases = runner.plan(config, common_info(infos))
        if select is not None:
            cases = select(cases)

        async def execute(case: CaseSpec, target: Target) -> CaseFinished | None:
            index = targets.index(target)
            try:
                if cassette is None:
                    return await runner.execute(case, target, config, checks=checks, budget=budgets[index])
                if target is cassette:
                    exchanges = recorded[case.id]
                else:
                    requests = [e.request for e in recorded[case.id]]
                    exchanges = await runner.send_requests(case, requests, target, config, budgets[index])
            except BudgetExhausted:
                return None
            return runner.judge(case, exchanges, target.info, config, checks=checks)

        comparison = Comparison(
            labels, infos, spec_schema_check(config.spec_view), wer_threshold=wer_threshold
        )
        streams = [_EventStream(i, t.info, config, checks, on_event) for i, t in enumerate(targets)]

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
        if left_out:
            notes.append(
                f"{left_out} planned cases were not sent to every target (--max-requests) and are left out."
            )
        return comparison.result(
            seed=config.seed,
            profile=config.profile if cassette is None else cassette.cassette.run.profile,
            spec_view=config.spec_view,
            suite_version=runner.suite_version(),
            notes=notes,
        )
    finally:
        for target in targets:
            await target.close()


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
        from asr_conformance.conformance import runner

        self._emit(
            RunStarted(
                run_id=self.run_id,
                suite_version=runner.suite_version(),
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
        from asr_conformance.conformance import runner

        failing = (Outcome.FAIL, Outcome.ERROR)
        self._emit(
            RunFinished(
                run_id=self.run_id,
                finished_at=_now(),
                duration_s=round(time.perf_counter() - self.t0, 3),
                cases=self.cases,
                outcomes={str(o): sum(r.outcome is o for r in self.results) for o in Outcome},
                failed_checks=tuple(sorted({r.check_id for r in self.results if r.outcome in failing})),
                exit_code=runner.exit_code(self.results, fail_on),
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


__all__ = [
    "DEFAULT_WER_THRESHOLD",
    "DIMENSIONS",
    "CompareResult",
    "CompareUnreachable",
    "Comparison",
    "Difference",
    "Observation",
    "PairStats",
    "TargetSummary",
    "common_info",
    "compare_cases",
    "error_shape",
    "is_mock",
    "labels_for",
    "normalise_transcript",
    "observe",
    "run_compare",
    "spec_schema_check",
    "status_class",
    "wer",
]
