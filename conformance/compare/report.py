"""Compare reports: targets × checks and targets × targets matrices (Markdown, HTML), badges, JSON.

Files written into the report directory:

=========================  ===============================================================================
``compare.md``             the matrices, the WER tables (transcripts between targets; behaviour: each
                           target's WER per variant of the known speech) and the disagreements
``compare.html``           the same, one self-contained page
``compare.json``           everything, machine-readable
``badges/<target>.json``   a shields.io endpoint badge per target: ``NN% conformant``
=========================  ===============================================================================
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from asr_conformance.conformance.compare.observe import DIMENSIONS
from asr_conformance.conformance.compare.result import CompareResult, TargetSummary, is_mock
from asr_conformance.conformance.model import Outcome

#: How many disagreements the Markdown and HTML list (all of them are in compare.json).
MAX_LISTED = 60
BADGE_LABEL = "ASR API conformance"


def badge(summary: TargetSummary) -> dict[str, Any]:
    """A shields.io endpoint badge (https://shields.io/badges/endpoint-badge) for one target."""
    rate = summary.conformance
    if rate is None:
        return {"schemaVersion": 1, "label": BADGE_LABEL, "message": "not judged", "color": "lightgrey"}
    percent = int(rate * 100)  # floor: 99.6% must not read as 100%
    color = next(
        c
        for limit, c in ((95, "brightgreen"), (80, "green"), (60, "yellow"), (40, "orange"), (0, "red"))
        if percent >= limit
    )
    return {"schemaVersion": 1, "label": BADGE_LABEL, "message": f"{percent}% conformant", "color": color}


def slug(label: str) -> str:
    """A file name for a target label."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", re.sub(r"^[a-z]+://", "", label)).strip("-.") or "target"


def _cell(counts: dict[str, int] | None) -> str:
    """``pass/judged`` for a check on a target, with the other outcomes named."""
    if not counts:
        return "—"
    judged = counts.get(Outcome.PASS, 0) + counts.get(Outcome.FAIL, 0) + counts.get(Outcome.ERROR, 0)
    parts = [f"{counts.get(Outcome.PASS, 0)}/{judged}" if judged else "not judged"]
    for outcome, short in (
        (Outcome.FAIL, "fail"),
        (Outcome.ERROR, "error"),
        (Outcome.SKIP, "skip"),
        (Outcome.PRECONDITION_FAILED, "503/429"),
    ):
        if counts.get(outcome):
            parts.append(f"{counts[outcome]} {short}")
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _tables(result: CompareResult) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Every table of the report as (header, rows), shared by the Markdown and HTML renderers."""
    labels = result.labels
    check_ids = sorted({c for t in result.targets.values() for c in t.by_check})
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    tables["Targets"] = (
        ["target", "kind", "conformant", "badge"],
        [
            [
                label,
                "mock (synthetic transcripts)" if is_mock(result.targets[label].info) else "ASR engine",
                _percent(result.targets[label].conformance),
                badge(result.targets[label])["message"],
            ]
            for label in labels
        ],
    )
    tables["Targets × checks (passed/judged)"] = (
        ["check", *labels],
        [[cid, *(_cell(result.targets[label].by_check.get(cid)) for label in labels)] for cid in check_ids],
    )
    matrix = []
    for a in labels:
        row = [a]
        for b in labels:
            if a == b:
                row.append("—")
                continue
            stats = result.pairs.get((a, b)) or result.pairs[(b, a)]
            row.append(f"{_percent(stats.agreement)} of {stats.cases}")
        matrix.append(row)
    tables["Targets × targets (cases agreeing on every dimension)"] = (["", *labels], matrix)
    tables["Disagreeing exchanges by dimension"] = (
        ["pair", *DIMENSIONS, "transcript (WER > threshold)"],
        [
            [f"{a} ↔ {b}", *(str(p.by_dimension.get(d, 0)) for d in (*DIMENSIONS, "transcript"))]
            for (a, b), p in result.pairs.items()
        ],
    )
    tables["Transcript similarity on speech cases (WER)"] = (
        ["pair", "speech cases compared", "mean WER", "note"],
        [
            [f"{a} ↔ {b}", str(len(p.wers)), "—" if p.mean_wer is None else f"{p.mean_wer:.3f}", p.wer_note]
            for (a, b), p in result.pairs.items()
        ],
    )
    tables.update(_behaviour_tables(result))
    tables["Disagreements"] = (
        ["case", "exchange", "dimension", *labels, "note"],
        [
            [
                f"{d.case_id}: {d.description}",
                str(d.exchange + 1),
                d.dimension,
                *(d.values.get(label, "—") for label in labels),
                d.note,
            ]
            for d in result.differences[:MAX_LISTED]
        ],
    )
    return tables


def _behaviour_tables(result: CompareResult) -> dict[str, tuple[list[str], list[list[str]]]]:
    """The behaviour section: who was judged, WER per variant, and where the targets diverge."""
    section = result.behaviour
    if section is None:
        return {}
    labels = result.labels
    heard = {
        label: "not judged: " + t.not_judged if t.not_judged else "judged (the probe clip was understood)"
        for label, t in section.targets.items()
    }
    return {
        "Behaviour: does each target hear the known speech?": (
            ["target", "behaviour"],
            [[label, heard[label]] for label in labels],
        ),
        "Behaviour: WER per variant against the known text (change against the target's own clean WER)": (
            ["variant", *labels],
            [[v, *(section.targets[label].show(v) for label in labels)] for v in section.variants],
        ),
        "Behaviour: variants on which the targets diverge": (
            ["variant", *labels, "note"],
            [[d.variant, *(d.values.get(x, "—") for x in labels), d.note] for d in section.divergences],
        ),
    }


def _intro(result: CompareResult) -> list[str]:
    lines = [
        f"{result.cases} cases, the same for every target (profile `{result.profile}`, seed `{result.seed}`, "
        f"spec view `{result.spec_view}`, suite {result.suite_version}). "
        f"Transcripts disagree when WER > {result.wer_threshold:g}.",
        "A badge counts the share of judged verdicts (pass, fail, error) that passed; SKIP and 503/429 are "
        "not verdicts.",
    ]
    if any(is_mock(t.info) for t in result.targets.values()):
        lines.append(
            "Transcript similarity is meaningful only between real ASR engines: pairs with a mock are not "
            "compared on WER."
        )
    lines += result.notes
    if len(result.differences) > MAX_LISTED:
        lines.append(
            f"{len(result.differences)} disagreements; the first {MAX_LISTED} are listed, all are in "
            "compare.json."
        )
    return lines


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: CompareResult) -> str:
    out = ["# Compare report", "", *(f"{line}  " for line in _intro(result)), ""]
    for title, (header, rows) in _tables(result).items():
        out += [f"## {title}", ""]
        if not rows:
            out += ["None.", ""]
            continue
        out.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
        out.append("|" + "---|" * len(header))
        out += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;
margin:0 0 2em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.bad{background:#fde2e1}td.good{background:#e3f6e3}"""


def _html_cell(text: str) -> str:
    css = ""
    if re.match(r"^\d+/\d+", text):
        done, total = (int(x) for x in text.split(" ")[0].split("/"))
        css = " class='good'" if done == total else " class='bad'"
    return f"<td{css}>{html.escape(text)}</td>"


def render_html(result: CompareResult) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Compare report</title>",
        f"<style>{_CSS}</style></head><body><h1>Compare report</h1>",
        *(f"<p>{html.escape(line)}</p>" for line in _intro(result)),
    ]
    for title, (header, rows) in _tables(result).items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if not rows:
            parts.append("<p>None.</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(result: CompareResult, directory: str | Path) -> dict[str, Path]:
    """Write every compare file into ``directory``; returns what was written, by kind."""
    directory = Path(directory)
    (directory / "badges").mkdir(parents=True, exist_ok=True)
    written = {
        "markdown": directory / "compare.md",
        "html": directory / "compare.html",
        "json": directory / "compare.json",
    }
    written["markdown"].write_text(render_markdown(result), encoding="utf-8")
    written["html"].write_text(render_html(result), encoding="utf-8")
    written["json"].write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    for label in result.labels:
        path = directory / "badges" / f"{slug(label)}.json"
        path.write_text(json.dumps(badge(result.targets[label])), encoding="utf-8")
        written[f"badge:{label}"] = path
    return written


__all__ = ["BADGE_LABEL", "badge", "render_html", "render_markdown", "slug", "write"]
