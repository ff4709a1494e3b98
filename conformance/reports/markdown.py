"""Markdown summary (``summary.md``): the run at a glance, for terminals and CI step summaries.

Bounded in size whatever the run (GitHub caps a step summary at 1 MiB): at most
:data:`EXAMPLES_SHOWN` examples per failing check, repro commands folded in ``<details>``.
"""

from __future__ import annotations

from pathlib import Path

from asr_conformance.conformance.model import Outcome
from asr_conformance.conformance.reports.coverage import summarise
from asr_conformance.conformance.reports.tally import (
    OUTCOME_ORDER,
    CheckTally,
    Example,
    RenderedFileWriter,
    RunTally,
)

EXAMPLES_SHOWN = 3

_LABEL = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "fail",
    Outcome.ERROR: "error",
    Outcome.SKIP: "skip",
    Outcome.PRECONDITION_FAILED: "precondition",
}
_VERDICT = {
    Outcome.PASS: "✅ PASS",
    Outcome.FAIL: "❌ FAIL",
    Outcome.ERROR: "💥 ERROR",
    Outcome.SKIP: "➖ not exercised",
    Outcome.PRECONDITION_FAILED: "⏳ precondition failed",
}


def _cell(text: str) -> str:
    """Make text safe inside a table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def headline(tally: RunTally) -> str:
    """One line: how many checks fail (by severity) and how many the target broke on."""
    if not tally.checks:
        return "➖ No check ran"
    total = len(tally.checks)
    # The headline follows the gate: failures the expectations list are counted apart, never ❌.
    expected = sum(tally.expected(t) is not None for t in tally.checks.values())
    shown = [t for t in tally.checks.values() if tally.expected(t) is None]
    fails = [t for t in shown if t.verdict == Outcome.FAIL]
    errored = sum(t.verdict == Outcome.ERROR for t in shown)
    as_expected = f"; {expected} fail as expected" if expected else ""
    stopped = tally.incomplete
    idle = sum(not t.judged for t in tally.checks.values())
    if not fails and not errored:
        # Never ✅ for a run that stopped early: the cases it did not send could have failed.
        if stopped:
            return f"⚠️ {stopped}; nothing failed in the {tally.cases} judged cases"
        if idle or expected:
            idle_part = f"; {idle} not exercised" if idle else ""
            return f"✅ {total - idle - expected} of {total} checks conform{as_expected}{idle_part}"
        return f"✅ All {total} checks conform"
    parts = []
    if fails:
        n_err = sum(t.severity.rank == 2 for t in fails)
        split = [f"{n_err} error-severity"] if n_err else []
        split += [f"{len(fails) - n_err} warning"] if len(fails) > n_err else []
        parts.append(f"{len(fails)} of {total} checks fail ({', '.join(split)})")
    if errored:
        parts.append(f"{errored} errored (the target broke)")
    if expected:
        parts.append(f"{expected} fail as expected")
    if stopped:
        parts.append(stopped)
    return "❌ " + "; ".join(parts)


def stamp_line(tally: RunTally) -> str:
    s = tally.stamp()
    duration = tally.duration_s()
    bits = [
        f"target `{s['target']}`",
        f"profile `{s['profile']}`",
        f"seed `{s['seed']}`",
        f"spec view `{s['spec_view']}`",
        f"upstream docs `{s['upstream_commit'][:12]}`",
        f"asr-conformance {s['suite_version']}",
        f"{tally.cases} cases" + (f" in {duration:.1f} s" if duration is not None else ""),
    ]
    return " · ".join(bits)


def _example(ex: Example, tally: RunTally) -> list[str]:
    what = f"`{ex.case_id}` ({ex.phase}, {ex.case_kind}) {ex.description}"
    lines = [f"- **{_cell(ex.title)}** — {what}"]
    if ex.occurrences > 1:
        lines[0] += f" — seen in {ex.occurrences} cases"
    if ex.mutation:
        lines.append(f"  - mutation: {ex.mutation}")
    if ex.message:
        lines.append(f"  - {ex.message}")
    if ex.shrunk_to:
        lines.append(f"  - shrunk to: {ex.shrunk_to} (the repro sends this)")
    lines.append(f"  - sent {ex.request_line}; got {ex.response_line}")
    if ex.repro:
        replay = tally.replay_command(ex.repro.replay_id)
        lines += [
            "",
            "  <details><summary>reproduce</summary>",
            "",
            "  ```bash",
            *[f"  {line}" for line in ex.repro.curl.splitlines()],
            "  ```",
            "",
            f"  seed `{ex.repro.seed}` · `{replay}`",
            "  </details>",
            "",
        ]
    return lines


def _failure_section(t: CheckTally, tally: RunTally) -> list[str]:
    expected = tally.expected(t)
    info = t.info()
    ref = f" · spec `{info.spec_ref}`" if info.spec_ref else ""
    evidence = f" ({info.evidence})" if info.evidence else ""
    lines = [
        f"### `{t.check_id}` — {info.title}",
        "",
        (f"⚠️ expected ({expected})" if expected else _VERDICT[t.verdict])
        + f" · severity **{t.severity}**{evidence}{ref} · "
        f"{t.counts[Outcome.FAIL]} failed, {t.counts[Outcome.ERROR]} errored of {t.total} results",
    ]
    if info.doc:
        lines += ["", f"> {info.doc}"]
    lines.append("")
    examples = list(t.examples.values())
    for ex in examples[:EXAMPLES_SHOWN]:
        lines += _example(ex, tally)
    if len(examples) > EXAMPLES_SHOWN:
        lines.append(f"- … {len(examples) - EXAMPLES_SHOWN} more kinds in report.html")
    lines.append("")
    return lines


def _coverage_section(tally: RunTally) -> list[str]:
    rows = tally.coverage.rows()
    if rows is None:
        return ["## Spec coverage", "", "_The spec package is not available: coverage not computed._", ""]
    done = sum(r.exercised for r in rows)
    lines = [f"## Spec coverage: {done}/{len(rows)} documented rows exercised", ""]
    lines += ["| table | exercised | documented |", "|---|---:|---:|"]
    for table, (d, n) in summarise(rows).items():
        lines.append(f"| {table} | {d} | {n} |")
    missing = [r for r in rows if not r.exercised]
    if missing:
        lines += ["", f"<details><summary>Not exercised ({len(missing)})</summary>", ""]
        lines += [f"- `{r.table}`: `{r.path}`" for r in missing]
        lines += ["", "</details>"]
    lines.append("")
    return lines


def render(tally: RunTally) -> str:
    """The whole summary as one Markdown string."""
    lines = [f"## ASR conformance: {headline(tally)}", "", stamp_line(tally), ""]
    if not tally.complete:
        lines += ["> ⚠️ The run did not finish: this summary covers the cases that did.", ""]
    header = "| check | severity | " + " | ".join(_LABEL[o] for o in OUTCOME_ORDER) + " | verdict |"
    lines += [header, "|---|---|" + "---:|" * len(OUTCOME_ORDER) + "---|"]
    for t in tally.sorted_checks():
        counts = " | ".join(str(t.counts[o]) for o in OUTCOME_ORDER)
        verdict = _VERDICT[t.verdict] + (f" ({_cell(t.hint)})" if t.hint else "")
        if (why := tally.expected(t)) is not None:
            verdict = f"⚠️ expected {t.verdict.value.upper()} ({_cell(why)})"
        lines.append(f"| `{t.check_id}` | {t.shown_severity} | {counts} | {verdict} |")
    lines.append("")
    failing = tally.failing()
    if failing:
        lines += ["## Failures", ""]
        for t in failing:
            lines += _failure_section(t, tally)
    lines += _coverage_section(tally)
    return "\n".join(lines)


class MarkdownWriter(RenderedFileWriter):
    """Writes ``summary.md`` when closed."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, render)


__all__ = ["MarkdownWriter", "headline", "render", "stamp_line"]
