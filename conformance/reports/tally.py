"""Aggregate a run's event stream into what every report shows: verdict per check, examples, counts.

The tally keeps a bounded amount of memory whatever the run's size: counts per check and outcome, and at
most :data:`MAX_EXAMPLES` distinct failing examples per check (one per failure kind, i.e. ``dedup_key``),
preferring the smallest request body so the example a reader sees is the most readable one.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Event,
    Exchange,
    Outcome,
    Repro,
    RunFinished,
    RunStarted,
    Severity,
)
from asr_conformance.conformance.reports.checkinfo import (
    CheckInfo,
    check_info,
    exercise_hint,
    registered_severity,
)
from asr_conformance.conformance.reports.coverage import CoverageCollector

MAX_EXAMPLES = 5  # distinct failure kinds shown per check
BODY_SNIPPET = 600  # characters of a response body shown in an example

#: outcome columns in the order every report shows them
OUTCOME_ORDER: tuple[Outcome, ...] = (
    Outcome.PASS,
    Outcome.FAIL,
    Outcome.ERROR,
    Outcome.SKIP,
    Outcome.PRECONDITION_FAILED,
)

_TOKEN = re.compile(r"hf_[A-Za-z0-9]{20,}")
_BEARER = re.compile(r"(?i)(bearer:?\s+)(?!\*\*\*)[^\s\"'\\]+")


def redact(text: str) -> str:
    """Mask anything that looks like a token (defence in depth: events never carry secrets)."""
    return _BEARER.sub(r"\1***", _TOKEN.sub("hf_***", text))


@dataclass(frozen=True)
class Example:
    """One failing (or erroring) case of one check, with what a person needs to reproduce it."""

    check_id: str
    outcome: Outcome
    title: str  # failure title (the dedup kind), or the ERROR message
    message: str
    severity: Severity
    case_id: str
    phase: str
    case_kind: str
    description: str  # without the mutation, shown apart
    mutation: str | None
    shrunk_to: str  # the simplest variant that still fails the same way (its repro is ``repro``), or ""
    request_line: str  # "POST (json, 1234 bytes)"
    response_line: str  # "400 application/json" or "transport error: ..."
    response_body: str  # decoded, truncated
    repro: Repro | None
    body_size: int
    occurrences: int = 1


def _without_mutation(description: str, mutation: str | None) -> str:
    """The runner appends the mutation to the description; reports show it on its own line."""
    if mutation:
        return description.removesuffix(f"; {mutation}").removesuffix(mutation).rstrip("; ")
    return description


def _shrunk_to(case: CaseFinished) -> str:
    """The shrunk variant's description, when shrinking found something simpler than the case."""
    shrunk = str((case.meta.get("shrunk") or {}).get("description", ""))
    if not shrunk or shrunk == case.description:
        return ""
    return _without_mutation(shrunk, case.mutation)


def _request_line(exchange: Exchange) -> str:
    req = exchange.request
    ctype = req.header("content-type") or "no Content-Type"
    return f"{req.method} /{req.path.lstrip('/')} ({ctype}, {len(req.body)} bytes)"


def _response_lines(exchange: Exchange) -> tuple[str, str]:
    resp = exchange.response
    if resp is None:
        return f"transport error: {exchange.transport_error or 'no response'}", ""
    body = resp.body[: BODY_SNIPPET * 4].decode("utf-8", errors="replace")
    if len(body) > BODY_SNIPPET:
        body = body[:BODY_SNIPPET] + f"… ({len(resp.body)} bytes)"
    ctype = resp.header("content-type") or "no Content-Type"
    return f"{resp.status} {ctype} in {resp.elapsed_s * 1000:.0f} ms", body


@dataclass
class CheckTally:
    """Everything the reports say about one check."""

    check_id: str
    counts: Counter[Outcome] = field(default_factory=Counter)
    severity: Severity = Severity.WARNING  # the highest severity seen on this check
    examples: dict[tuple[str, str], Example] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)  # SKIP / PRECONDITION_FAILED / ERROR messages
    sample: CheckResult | None = None  # for metadata fallback when the registry lacks the id
    seconds: float = 0.0  # time the target took over the cases this check judged

    @property
    def verdict(self) -> Outcome:
        """FAIL beats ERROR beats PASS; a check with no PASS/FAIL/ERROR was never exercised."""
        for outcome in (Outcome.FAIL, Outcome.ERROR, Outcome.PASS):
            if self.counts[outcome]:
                return outcome
        if self.counts[Outcome.PRECONDITION_FAILED]:
            return Outcome.PRECONDITION_FAILED
        return Outcome.SKIP

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def judged(self) -> int:
        """Results that said something about the target (PASS, FAIL, ERROR)."""
        return self.counts[Outcome.PASS] + self.counts[Outcome.FAIL] + self.counts[Outcome.ERROR]

    @property
    def shown_severity(self) -> Severity:
        """The severity a row shows: what was seen, or the check's own when it judged nothing."""
        if self.judged:
            return self.severity
        return registered_severity(self.check_id) or self.severity

    @property
    def hint(self) -> str:
        """For a check that judged nothing: why, and how to exercise it."""
        if self.judged:
            return ""
        reason = self.reasons.most_common(1)[0][0] if self.reasons else "no case applied"
        how = exercise_hint(self.check_id)
        return f"{reason}; to exercise it: {how}" if how else reason

    def info(self) -> CheckInfo:
        return check_info(self.check_id, self.sample)

    def add(self, result: CheckResult, case: CaseFinished) -> None:
        self.counts[result.outcome] += 1
        self.seconds += sum(e.response.elapsed_s for e in case.exchanges if e.response is not None)
        if result.severity.rank > self.severity.rank:
            self.severity = result.severity
        if self.sample is None or (result.failures and not self.sample.failures):
            self.sample = result
        if result.outcome in (Outcome.SKIP, Outcome.PRECONDITION_FAILED, Outcome.ERROR) and result.message:
            self.reasons[redact(result.message)] += 1
        if result.outcome == Outcome.FAIL:
            kinds: set[tuple[str, str]] = set()
            for failure in result.failures:
                if failure.dedup_key not in kinds:  # a case counts once per kind, however many chunks fail
                    kinds.add(failure.dedup_key)
                    self._remember(failure.dedup_key, case, result, failure.title, failure.message)
            if not result.failures:
                self._remember((result.check_id, result.message), case, result, result.message, "")
        elif result.outcome == Outcome.ERROR:
            self._remember((result.check_id, "error"), case, result, "target error", result.message)

    def _remember(
        self, key: tuple[str, str], case: CaseFinished, result: CheckResult, title: str, message: str
    ) -> None:
        # the failing exchange is the last one for protocol cases (e.g. the second of two requests)
        shown = case.exchanges[-1] if case.exchanges else None
        body_size = len(shown.request.body) if shown else 0
        old = self.examples.get(key)
        if old is None and len(self.examples) >= MAX_EXAMPLES:
            return
        if old is not None and old.body_size <= body_size:
            self.examples[key] = replace(old, occurrences=old.occurrences + 1)
            return
        response_line, response_body = _response_lines(shown) if shown else ("no exchange", "")
        self.examples[key] = Example(
            check_id=result.check_id,
            outcome=result.outcome,
            title=redact(title),
            message=redact(message),
            severity=result.severity,
            case_id=case.case_id,
            phase=case.phase,
            case_kind=case.case_kind,
            description=_without_mutation(case.description, case.mutation),
            mutation=case.mutation,
            shrunk_to=_shrunk_to(case),
            request_line=_request_line(shown) if shown else "",
            response_line=redact(response_line),
            response_body=redact(response_body),
            repro=Repro(redact(case.repro.curl), case.repro.seed, case.repro.replay_id, case.repro.body_file)
            if case.repro
            else None,
            body_size=body_size,
            occurrences=(old.occurrences + 1) if old else 1,
        )


@dataclass
class RunTally:
    """The whole run, folded from its events in order."""

    started: RunStarted | None = None
    finished: RunFinished | None = None
    cases: int = 0
    phases: Counter[str] = field(default_factory=Counter)
    case_kinds: Counter[str] = field(default_factory=Counter)
    checks: dict[str, CheckTally] = field(default_factory=dict)
    coverage: CoverageCollector = field(default_factory=CoverageCollector)
    #: ``reports.expectations.Expectations`` of the run's target: failures it lists show as expected
    expectations: Any = None
    report_dir: Path | None = None  # where the run's events.jsonl is (for the replay hint)

    def add(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.started = event
            for check_id in event.checks:  # checks that never ran still get a row (as SKIP)
                self.checks.setdefault(check_id, CheckTally(check_id))
        elif isinstance(event, RunFinished):
            self.finished = event
        elif isinstance(event, CaseFinished):
            self.cases += 1
            self.phases[event.phase] += 1
            self.case_kinds[event.case_kind] += 1
            self.coverage.observe(event)
            for result in event.results:
                self.checks.setdefault(result.check_id, CheckTally(result.check_id)).add(result, event)

    # ---------------------------------------------------------------------------- derived views

    @property
    def complete(self) -> bool:
        return self.finished is not None

    @property
    def incomplete(self) -> str:
        """ "incomplete: budget spent after N of M planned cases" (or interrupted), "" for a full run."""
        return self.finished.incomplete if self.finished is not None else ""

    def outcome_totals(self) -> Counter[Outcome]:
        totals: Counter[Outcome] = Counter()
        for tally in self.checks.values():
            totals.update(tally.counts)
        return totals

    def sorted_checks(self) -> list[CheckTally]:
        """Failing first (errors before warnings), then erroring, then the rest, each by id."""
        rank = {Outcome.FAIL: 0, Outcome.ERROR: 1, Outcome.PASS: 2, Outcome.PRECONDITION_FAILED: 3}
        return sorted(
            self.checks.values(),
            key=lambda t: (rank.get(t.verdict, 4), -t.severity.rank, t.check_id),
        )

    def expected(self, t: CheckTally) -> str | None:
        """Why ``t``'s failure is expected (the entry's issue or note), or None when it is not listed."""
        if self.expectations is None or t.verdict not in (Outcome.FAIL, Outcome.ERROR):
            return None
        entry = self.expectations.checks.get(t.check_id)
        if entry is None or t.verdict.value.upper() not in entry.expected:
            return None
        return entry.issue or entry.note or "listed in the expectations"

    def regressions(self) -> list[CheckTally]:
        """Failing checks the expectations do not list (all failing checks without expectations)."""
        return [t for t in self.failing() if self.expected(t) is None]

    def failing(self, at_least: Severity = Severity.WARNING) -> list[CheckTally]:
        return [
            t
            for t in self.sorted_checks()
            if t.verdict in (Outcome.FAIL, Outcome.ERROR) and t.severity.rank >= at_least.rank
        ]

    def stamp(self) -> dict[str, Any]:
        """What every report is stamped with (from the RunStarted header)."""
        s = self.started
        return {
            "suite_version": s.suite_version if s else "unknown",
            "spec_view": s.spec_view if s else "unknown",
            "upstream_commit": s.upstream_commit if s else "unknown",
            "target": redact(s.target) if s else "unknown",
            "profile": s.profile if s else "unknown",
            "seed": s.seed if s else None,
            "started_at": s.started_at if s else "",
            "run_id": s.run_id if s else "",
        }

    def replay_command(self, replay_id: str) -> str:
        """The replay line a reader can paste: the real report dir and the recorded target."""
        parts = ["asr-conformance", "replay", replay_id]
        if self.report_dir is not None:
            parts += ["--report-dir", shlex.quote(str(self.report_dir.resolve()))]
        target = self.started.target if self.started else ""
        if target.startswith(("http://", "https://")):
            parts += ["--target", shlex.quote(redact(target))]
        return " ".join(parts)

    def duration_s(self) -> float | None:
        return self.finished.duration_s if self.finished else None


def tally_events(events: Any) -> RunTally:
    """Fold any iterable of events into a :class:`RunTally`."""
    tally = RunTally()
    for event in events:
        tally.add(event)
    return tally


class RenderedFileWriter:
    """Tallies the run's events and writes one file, rendered from the tally, when closed."""

    def __init__(self, path: Path, render: Callable[[RunTally], str]) -> None:
        self.path = Path(path)
        self.tally = RunTally(report_dir=self.path.parent)
        self._render = render

    def handle(self, event: Event) -> None:
        self.tally.add(event)

    def close(self) -> None:
        self.path.write_text(self._render(self.tally), encoding="utf-8")


__all__ = [
    "MAX_EXAMPLES",
    "OUTCOME_ORDER",
    "CheckInfo",
    "CheckTally",
    "Example",
    "RenderedFileWriter",
    "RunTally",
    "check_info",
    "exercise_hint",
    "redact",
    "registered_severity",
    "tally_events",
]
