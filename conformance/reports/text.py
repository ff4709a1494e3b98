"""The run summary as plain text, for terminals and CI logs: no Markdown markup, no HTML, nothing folded.

The same content as ``summary.md`` (headline, stamp, checks × outcomes, failing examples, coverage), laid
out in aligned columns; a repro command is always one line, so it can be copied as printed.
"""

from __future__ import annotations

from asr_conformance.conformance.model import Outcome
from asr_conformance.conformance.reports.markdown import EXAMPLES_SHOWN, headline, stamp_line
from asr_conformance.conformance.reports.tally import OUTCOME_ORDER, CheckTally, Example, RunTally

_LABEL = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "fail",
    Outcome.ERROR: "error",
    Outcome.SKIP: "skip",
    Outcome.PRECONDITION_FAILED: "precond",
}
_VERDICT = {
    Outcome.PASS: "PASS",
    Outcome.FAIL: "FAIL",
    Outcome.ERROR: "ERROR",
    Outcome.SKIP: "not exercised",
    Outcome.PRECONDITION_FAILED: "precondition failed",
}


def _table(tally: RunTally) -> list[str]:
    rows = tally.sorted_checks()
    width = max([len("check"), *(len(t.check_id) for t in rows)])
    head = f"{'check':{width}}  {'severity':8}" + "".join(f"  {_LABEL[o]:>7}" for o in OUTCOME_ORDER)
    lines = [head + "  verdict"]
    for t in rows:
        verdict = _VERDICT[t.verdict]
        if (why := tally.expected(t)) is not None:
            verdict = f"expected {verdict} ({why})"
        elif t.hint:
            verdict += f" ({t.hint})"
        counts = "".join(f"  {t.counts[o]:>7}" for o in OUTCOME_ORDER)
        lines.append(f"{t.check_id:{width}}  {t.shown_severity!s:8}{counts}  {verdict}")
    return lines


def example_lines(ex: Example, tally: RunTally) -> list[str]:
    """One failing example as indented plain-text lines (the text report and the pytest plugin)."""
    seen = f", seen in {ex.occurrences} cases" if ex.occurrences > 1 else ""
    lines = [f"  - {ex.title}: case {ex.case_id} ({ex.phase}, {ex.case_kind}) {ex.description}{seen}"]
    if ex.mutation:
        lines.append(f"    mutation: {ex.mutation}")
    if ex.message:
        lines.append(f"    {ex.message}")
    if ex.shrunk_to:
        lines.append(f"    shrunk to: {ex.shrunk_to} (the repro sends this)")
    lines.append(f"    sent {ex.request_line}; got {ex.response_line}")
    if ex.repro:
        lines += [f"    reproduce: {line}" for line in ex.repro.curl.splitlines()]
        lines.append(f"    replay: {tally.replay_command(ex.repro.replay_id)} (seed {ex.repro.seed})")
    return lines


def _failure(t: CheckTally, tally: RunTally) -> list[str]:
    info = t.info()
    expected = tally.expected(t)
    state = f"expected ({expected})" if expected else _VERDICT[t.verdict]
    lines = [
        f"{t.check_id}: {info.title} [{t.severity}] {state}: "
        f"{t.counts[Outcome.FAIL]} failed, {t.counts[Outcome.ERROR]} errored of {t.total} results"
    ]
    examples = list(t.examples.values())
    for ex in examples[:EXAMPLES_SHOWN]:
        lines += example_lines(ex, tally)
    if len(examples) > EXAMPLES_SHOWN:
        lines.append(f"  - ... {len(examples) - EXAMPLES_SHOWN} more kinds in report.html")
    return lines


def render_text(tally: RunTally) -> str:
    """The whole summary as plain text."""
    lines = [f"ASR conformance: {headline(tally)}", stamp_line(tally).replace("`", ""), ""]
    if not tally.complete:
        lines += ["The run did not finish: this summary covers the cases that did.", ""]
    lines += [*_table(tally), ""]
    failing = tally.failing()
    if failing:
        lines += ["Failures", ""]
        for t in failing:
            lines += [*_failure(t, tally), ""]
    rows = tally.coverage.rows()
    if rows is not None:
        lines.append(f"Spec coverage: {sum(r.exercised for r in rows)}/{len(rows)} documented rows exercised")
    return "\n".join(lines)


__all__ = ["example_lines", "render_text"]
