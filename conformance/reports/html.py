"""HTML report (``report.html``): one self-contained page a person can read (inline CSS, no assets, no JS).

Sections: the verdict and stamp, checks × outcomes, failing examples with their curl repro, spec coverage
of every documented table row, and what each check means. Every piece of run data is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from pathlib import Path

from asr_conformance.conformance.model import Outcome
from asr_conformance.conformance.reports.coverage import RowCoverage, summarise
from asr_conformance.conformance.reports.markdown import headline
from asr_conformance.conformance.reports.tally import (
    OUTCOME_ORDER,
    CheckTally,
    Example,
    RenderedFileWriter,
    RunTally,
)

_LABEL = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "fail",
    Outcome.ERROR: "error",
    Outcome.SKIP: "skip",
    Outcome.PRECONDITION_FAILED: "precondition",
}
_VERDICT = {
    Outcome.PASS: "PASS",
    Outcome.FAIL: "FAIL",
    Outcome.ERROR: "ERROR",
    Outcome.SKIP: "NOT EXERCISED",
    Outcome.PRECONDITION_FAILED: "PRECONDITION",
}

CSS = (Path(__file__).parent / "report.css").read_text(encoding="utf-8")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


_CODE = re.compile(r"``(.+?)``|`(.+?)`")


def _prose(text: str) -> str:
    """Escape a doc line, showing its ``code`` / `code` spans as <code>."""
    return _CODE.sub(lambda m: f"<code>{m.group(1) or m.group(2)}</code>", _e(text))


def _anchor(check_id: str) -> str:
    return "check-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in check_id)


def _stamp(tally: RunTally) -> str:
    s = tally.stamp()
    duration = tally.duration_s()
    items = [
        ("target", s["target"]),
        ("profile", s["profile"]),
        ("seed", s["seed"]),
        ("spec view", s["spec_view"]),
        ("upstream docs", s["upstream_commit"][:12]),
        ("suite", f"asr-conformance {s['suite_version']}"),
        ("started", s["started_at"]),
        ("duration", f"{duration:.1f} s" if duration is not None else "unfinished"),
    ]
    return "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in items)


def _cards(tally: RunTally) -> str:
    verdicts = [t.verdict for t in tally.checks.values()]
    rows = tally.coverage.rows()
    cov = f"{sum(r.exercised for r in rows)}/{len(rows)}" if rows is not None else "n/a"
    cards = [
        ("fail", verdicts.count(Outcome.FAIL), "checks failing"),
        ("error", verdicts.count(Outcome.ERROR), "checks erroring"),
        ("pass", verdicts.count(Outcome.PASS), "checks passing"),
        ("", verdicts.count(Outcome.SKIP) + verdicts.count(Outcome.PRECONDITION_FAILED), "not exercised"),
        ("", tally.cases, "cases sent"),
        ("", cov, "documented rows exercised"),
    ]
    return "".join(
        f'<div class="card {cls if n else ""}"><b>{_e(n)}</b><span>{_e(label)}</span></div>'
        for cls, n, label in cards
    )


def _bar(t: CheckTally) -> str:
    total = t.total or 1

    # a few failures among hundreds of passes must still show: failing shares get at least 4%
    def width(o: Outcome) -> float:
        share = 100 * t.counts[o] / total
        return max(share, 4.0) if o in (Outcome.FAIL, Outcome.ERROR) else share

    parts = "".join(
        f'<i class="{o.value}" style="width:{width(o):.1f}%"></i>' for o in OUTCOME_ORDER if t.counts[o]
    )
    return f'<div class="bar" title="share of results by outcome">{parts}</div>'


def _matrix(tally: RunTally) -> str:
    head = "".join(f'<th class="n">{_e(_LABEL[o])}</th>' for o in OUTCOME_ORDER)
    rows = []
    for t in tally.sorted_checks():
        info = t.info()
        cells = []
        for o in OUTCOME_ORDER:
            n = t.counts[o]
            cls = "n zero" if not n else f"n hot-{o.value}" if o in (Outcome.FAIL, Outcome.ERROR) else "n"
            cells.append(f'<td class="{cls}">{n}</td>')
        failing = t.verdict in (Outcome.FAIL, Outcome.ERROR)
        hint = f'<span class="title">{_e(t.hint)}</span>' if t.hint else ""
        badge = f'<span class="badge {t.verdict.value}">{_VERDICT[t.verdict]}</span>'
        if (why := tally.expected(t)) is not None:
            hint = f'<span class="title">expected: {_e(why)}</span>'
            badge = f'<span class="badge skip">EXPECTED {_VERDICT[t.verdict]}</span>'
            failing = False
        link = f"#{_anchor(t.check_id)}" if failing else f"#doc-{_anchor(t.check_id)}"
        rows.append(
            f'<tr class="{"failing" if failing else ""}">'
            f'<td><a href="{link}"><code>{_e(t.check_id)}</code></a>'
            f'<span class="title">{_e(info.title)}</span></td>'
            f'<td><span class="sev {_e(t.shown_severity)}">{_e(t.shown_severity)}</span></td>'
            f"{''.join(cells)}"
            f"<td>{badge}{_bar(t)}{hint}</td></tr>"
        )
    return (
        f"<table class=matrix><thead><tr><th>check</th><th>severity</th>{head}<th>verdict</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _example(ex: Example, check_title: str, tally: RunTally) -> str:
    count = f"seen in {ex.occurrences} cases" if ex.occurrences > 1 else ""
    # the failure kind is worth a heading only when it says more than the check's own title
    heading = ex.title if ex.title != check_title else ""
    facts = [("case", f"<code>{_e(ex.case_id)}</code> · {_e(ex.phase)} · {_e(ex.case_kind)}")]
    facts.append(("audio / input", _e(ex.description)))
    if ex.mutation:
        facts.append(("mutation", _e(ex.mutation)))
    if ex.message:
        facts.append(("found", _e(ex.message)))
    if ex.shrunk_to:
        facts.append(
            ("shrunk to", _e(ex.shrunk_to) + " <span class=muted>(the repro below sends this)</span>")
        )
    facts.append(("sent", _e(ex.request_line)))
    facts.append(("got", _e(ex.response_line)))
    parts = [
        '<div class="example">',
        f'<h4>{_e(heading)} <span class="count">{count}</span></h4>' if heading or count else "",
        "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>",
    ]
    if ex.response_body:
        parts.append(f'<div class="label">response body</div><pre>{_e(ex.response_body)}</pre>')
    if ex.repro:
        parts.append(
            f'<div class="label">reproduce</div><pre class="curl">{_e(ex.repro.curl)}</pre>'
            f'<div class="muted">seed <code>{_e(ex.repro.seed)}</code> · replay: '
            f"<code>{_e(tally.replay_command(ex.repro.replay_id))}</code></div>"
        )
    parts.append("</div>")
    return "".join(parts)


def _failure_badge(t: CheckTally, expected: str | None) -> str:
    if expected is not None:
        return f'<span class="badge skip">EXPECTED {_VERDICT[t.verdict]}: {_e(expected)}</span>'
    return f'<span class="badge {t.verdict.value}">{_VERDICT[t.verdict]}</span>'


def _failures(tally: RunTally) -> str:
    failing = tally.failing()
    if not failing:
        return '<p class="muted">No check failed or errored.</p>'
    out = []
    for t in failing:
        info = t.info()
        ref = f"spec {_e(info.spec_ref)}" if info.spec_ref else "no spec reference"
        evidence = f" · evidence {_e(info.evidence)}" if info.evidence else ""
        out.append(
            f'<article class="check" id="{_anchor(t.check_id)}"><header>'
            + _failure_badge(t, tally.expected(t))
            + f"<h3><code>{_e(t.check_id)}</code> — {_e(info.title)}</h3>"
            f'<span class="sev {_e(t.severity)}">{_e(t.severity)}</span>'
            f'<span class="meta">{t.counts[Outcome.FAIL]} failed · {t.counts[Outcome.ERROR]} errored · '
            f"{t.total} results · {ref}{evidence}</span></header>"
            + (f'<p class="doc">{_prose(info.doc)}</p>' if info.doc else "")
            + "".join(_example(ex, info.title, tally) for ex in t.examples.values())
            + "</article>"
        )
    return "".join(out)


def _coverage(rows: list[RowCoverage] | None) -> str:
    if rows is None:
        return '<p class="muted">The spec package is not available: coverage not computed.</p>'
    summary = []
    for table, (done, total) in summarise(rows).items():
        pct = 100 * done / total if total else 0
        summary.append(
            f"<div><b>{done}/{total}</b> <span class=muted>{_e(table)} rows</span>"
            f'<div class="meter"><i style="width:{pct:.0f}%"></i></div></div>'
        )
    body = []
    for r in rows:
        status = '<td class="yes">✓</td>' if r.exercised else '<td class="no">not exercised</td>'
        body.append(
            f'<tr class="{"" if r.exercised else "unexercised"}"><td>{_e(r.table)}</td>'
            f"<td><code>{_e(r.path)}</code></td><td>{_e(r.type)}</td><td>{'yes' if r.required else ''}</td>"
            f'<td class="n{" zero" if not r.positive else ""}">{r.positive}</td>'
            f'<td class="n{" zero" if not r.negative else ""}">{r.negative}</td>{status}</tr>'
        )
    return (
        f'<div class="cov-summary">{"".join(summary)}</div>'
        "<table><thead><tr><th>table</th><th>row</th><th>type</th><th>required</th>"
        '<th class="n">positive</th><th class="n">negative</th><th>exercised</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        '<p class="muted">positive: cases meant to succeed that carried the row (for the response body: '
        "success responses that contained it); negative: cases meant to be rejected that carried or "
        "mutated it.</p>"
    )


def _docs(checks: Iterable[CheckTally]) -> str:
    items = []
    for t in sorted(checks, key=lambda t: t.check_id):
        info = t.info()
        reasons = "; ".join(f"{r} ({n}×)" for r, n in t.reasons.most_common(3))
        ref = " · ".join(x for x in (info.spec_ref and f"spec {info.spec_ref}", info.evidence) if x)
        items.append(
            f'<dt id="doc-{_anchor(t.check_id)}"><code>{_e(t.check_id)}</code></dt>'
            f"<dd><b>{_e(info.title)}</b>"
            + (f" — {_prose(info.doc)}" if info.doc else "")
            + (f'<div class="ref">{_e(ref)}</div>' if ref else "")
            + ("" if info.known else '<div class="ref">not in this suite\'s check registry</div>')
            + (f'<div class="ref">skipped / errored because: {_e(reasons)}</div>' if reasons else "")
            + "</dd>"
        )
    return f'<dl class="docs">{"".join(items)}</dl>'


def render(tally: RunTally) -> str:
    """The whole page."""
    state = "failing" if tally.regressions() else "passing"
    if state == "passing" and (not tally.complete or tally.incomplete):
        state = "incomplete"
    verdict = headline(tally).split(" ", 1)[1]  # the words, without the emoji
    if not tally.complete:
        verdict += " (run did not finish)"
    rows = tally.coverage.rows()
    cov_done = f"{sum(r.exercised for r in rows)}/{len(rows)}" if rows is not None else "n/a"
    nav = [
        ("checks", "Checks", len(tally.checks)),
        ("failures", "Failures", len(tally.failing())),
        ("coverage", "Spec coverage", cov_done),
        ("docs", "What each check means", ""),
    ]
    stamp = tally.stamp()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ASR conformance — {_e(stamp["target"])} — {_e(verdict)}</title>
<style>{CSS}</style></head>
<body>
<header class="banner {state}"><h1>ASR conformance report</h1>
<p class="verdict">{_e(verdict)}</p><dl class="stamp">{_stamp(tally)}</dl></header>
<nav>{"".join(f'<a href="#{a}">{t} <span>{_e(n)}</span></a>' for a, t, n in nav)}</nav>
<main>
<div class="cards">{_cards(tally)}</div>
<section id="checks"><h2>Checks × outcomes</h2>{_matrix(tally)}</section>
<section id="failures"><h2>Failing examples</h2>{_failures(tally)}</section>
<section id="coverage"><h2>Spec coverage</h2>{_coverage(rows)}</section>
<section id="docs"><h2>What each check means</h2>{_docs(tally.checks.values())}</section>
<footer>asr-conformance {_e(stamp["suite_version"])} · run {_e(stamp["run_id"])} · spec view
{_e(stamp["spec_view"])} · upstream docs commit {_e(stamp["upstream_commit"])}</footer>
</main></body></html>
"""


class HtmlWriter(RenderedFileWriter):
    """Writes ``report.html`` when closed."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, render)


__all__ = ["HtmlWriter", "render"]
