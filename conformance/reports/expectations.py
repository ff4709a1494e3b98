"""Expectations per target, WPT-style: known deviations are listed, so CI gates on regressions only.

A file (TOML, or JSON when it ends in ``.json``) maps check ids to the verdict expected of them on one
target, with the issue that tracks it::

    target = "https://my-asr.example/models/openai/whisper-large-v3"

    [checks.chunks_absent_unless_requested]
    expected = "FAIL"                       # PASS | FAIL | ERROR | SKIP, or a list: an intermittent result
    issue = "https://github.com/me/my-asr/issues/12"
    note = "we always send chunks"

    [checks.not_a_server_error]
    expected = ["PASS", "FAIL"]             # "INTERMITTENT" is short for this

A check the file does not list is expected to PASS. After a run each check has one verdict (FAIL beats
ERROR beats PASS; never exercised is SKIP, and PRECONDITION_FAILED counts as SKIP: no verdict). Comparing:

* verdict allowed by the entry → expected;
* FAIL or ERROR not allowed → **regression**: gates (exit 1) when its severity is at or above ``fail_on``;
* PASS where only a failure was expected → unexpected pass: reported so the entry can go, never gating;
* SKIP where an entry expected something else → not exercised: reported, never gating (without an
  entry, SKIP is not reported: nothing was learnt);
* an entry for a check the run did not know → stale entry, reported.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from asr_conformance.conformance.model import Event, Outcome, Severity
from asr_conformance.conformance.reports.tally import RunTally, tally_events

VERDICTS = ("PASS", "FAIL", "ERROR", "SKIP")
INTERMITTENT = frozenset({"PASS", "FAIL"})
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class ExpectationsError(ValueError):
    """The expectations file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Expectation:
    check_id: str
    expected: frozenset[str]
    issue: str = ""
    note: str = ""


@dataclass(frozen=True)
class Expectations:
    target: str = ""
    checks: Mapping[str, Expectation] = field(default_factory=dict)

    def expected(self, check_id: str) -> frozenset[str]:
        entry = self.checks.get(check_id)
        return entry.expected if entry else frozenset({"PASS"})


@dataclass(frozen=True)
class Verdict:
    """One check's verdict over a whole run."""

    check_id: str
    actual: str  # PASS | FAIL | ERROR | SKIP
    severity: Severity


MismatchKind = Literal["regression", "unexpected_pass", "not_exercised", "stale"]


@dataclass(frozen=True)
class Mismatch:
    check_id: str
    kind: MismatchKind
    expected: frozenset[str]
    actual: str
    severity: Severity | None = None
    issue: str = ""

    def describe(self) -> str:
        want = "|".join(sorted(self.expected))
        sev = f" [{self.severity}]" if self.severity else ""
        issue = f" ({self.issue})" if self.issue else ""
        return f"{self.kind}: {self.check_id}{sev} expected {want}, got {self.actual}{issue}"


# ------------------------------------------------------------------------------------------- loading


def _parse_expected(source: Path, check_id: str, raw: Any) -> frozenset[str]:
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ExpectationsError(f"{source}: {check_id}: expected must be a verdict or a list of verdicts")
    out: set[str] = set()
    for value in values:
        upper = value.upper()
        if upper == "INTERMITTENT":
            out |= INTERMITTENT
        elif upper in VERDICTS:
            out.add(upper)
        else:
            raise ExpectationsError(
                f"{source}: {check_id}: unknown verdict {value!r}; use {', '.join(VERDICTS)} or INTERMITTENT"
            )
    return frozenset(out)


def parse(data: Mapping[str, Any], source: Path = Path("<expectations>")) -> Expectations:
    """Expectations from the already-decoded file content."""
    checks = data.get("checks", {})
    if not isinstance(checks, dict):
        raise ExpectationsError(f"{source}: 'checks' must be a table of check id -> entry")
    entries: dict[str, Expectation] = {}
    for check_id, entry in checks.items():
        if isinstance(entry, str | list):  # short form: check_id = "FAIL"
            entry = {"expected": entry}
        if not isinstance(entry, dict) or "expected" not in entry:
            raise ExpectationsError(f"{source}: {check_id}: an entry needs 'expected'")
        entries[check_id] = Expectation(
            check_id=check_id,
            expected=_parse_expected(source, check_id, entry["expected"]),
            issue=str(entry.get("issue", "")),
            note=str(entry.get("note", "")),
        )
    return Expectations(target=str(data.get("target", "")), checks=entries)


def load(path: Path) -> Expectations:
    """Read an expectations file (JSON if it ends in ``.json``, TOML otherwise)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExpectationsError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ExpectationsError(f"{path}: not valid {kind}: {exc}") from exc
    if not isinstance(data, dict):
        raise ExpectationsError(f"{path}: the top level must be a table")
    return parse(data, path)


def unknown_ids(expectations: Expectations) -> list[str]:
    """Entries naming no check this suite has (a typo never silently expects nothing)."""
    from asr_conformance.conformance.checks.registry import RETIRED, all_checks

    known = {c.id for c in all_checks()} | RETIRED
    return sorted(set(expectations.checks) - known)


# ----------------------------------------------------------------------------------------- comparing


def _actual(outcome: Outcome) -> str:
    return "SKIP" if outcome == Outcome.PRECONDITION_FAILED else outcome.value.upper()


def verdicts(run: RunTally | Iterable[Event]) -> dict[str, Verdict]:
    """Each check's verdict over a run (a tally, or the events themselves)."""
    tally = run if isinstance(run, RunTally) else tally_events(run)
    return {t.check_id: Verdict(t.check_id, _actual(t.verdict), t.severity) for t in tally.sorted_checks()}


def compare(expectations: Expectations, results: Mapping[str, Verdict]) -> list[Mismatch]:
    """Every difference between the expectations and a run's verdicts (regressions first)."""
    out: list[Mismatch] = []
    for check_id, verdict in results.items():
        expected = expectations.expected(check_id)
        entry = expectations.checks.get(check_id)
        if verdict.actual in expected or (verdict.actual == "SKIP" and entry is None):
            continue  # a check with no entry that was not exercised says nothing either way
        issue = entry.issue if entry else ""
        kind: MismatchKind
        if verdict.actual in ("FAIL", "ERROR"):
            kind = "regression"
        elif verdict.actual == "PASS":
            kind = "unexpected_pass"
        else:
            kind = "not_exercised"
        out.append(Mismatch(check_id, kind, expected, verdict.actual, verdict.severity, issue))
    for check_id, entry in expectations.checks.items():
        if check_id not in results:
            out.append(Mismatch(check_id, "stale", entry.expected, "absent", None, entry.issue))
    order = {"regression": 0, "unexpected_pass": 1, "not_exercised": 2, "stale": 3}
    return sorted(out, key=lambda m: (order[m.kind], m.check_id))


def apply(
    expectations: Expectations, results: Mapping[str, Verdict], fail_on: Severity = Severity.ERROR
) -> list[Mismatch]:
    """The regressions that gate: unexpected FAIL/ERROR at or above ``fail_on``."""
    return [
        m
        for m in compare(expectations, results)
        if m.kind == "regression" and m.severity is not None and m.severity.rank >= fail_on.rank
    ]


@dataclass(frozen=True)
class GateResult:
    """What the gate decided, with every mismatch for the log."""

    regressions: tuple[Mismatch, ...]
    mismatches: tuple[Mismatch, ...]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def render(self) -> str:
        if not self.mismatches:
            return "expectations: every check behaved as expected"
        gating = set(self.regressions)
        lines = [
            f"expectations: {len(self.regressions)} regression(s) gate the run"
            if self.regressions
            else "expectations: no regression gates the run"
        ]
        for m in self.mismatches:
            note = "" if m in gating or m.kind != "regression" else " (below --fail-on, not gating)"
            lines.append(f"  {m.describe()}{note}")
        return "\n".join(lines)


def gate(
    expectations_path: Path,
    run: RunTally | Iterable[Event],
    fail_on: Severity | str = Severity.ERROR,
) -> GateResult:
    """Load the expectations and judge a run against them; ``exit_code`` is 1 only on regressions."""
    threshold = Severity(fail_on)
    expectations = load(expectations_path)
    results = verdicts(run)
    return GateResult(
        regressions=tuple(apply(expectations, results, threshold)),
        mismatches=tuple(compare(expectations, results)),
    )


# ------------------------------------------------------------------------------------------ updating


def update(
    runs: Iterable[Mapping[str, Verdict]],
    previous: Expectations | None = None,
    target: str = "",
    issue: str = "",
) -> Expectations:
    """Expectations that make the given runs pass: failures listed, flaky checks intermittent.

    Issue links and notes of entries kept from ``previous`` survive; a check that passed in every run
    loses its entry. New entries get ``issue`` (a placeholder note asks for a link when it is empty).
    """
    previous = previous or Expectations()
    seen: dict[str, set[str]] = {}
    for results in runs:
        for check_id, verdict in results.items():
            if verdict.actual != "SKIP":  # no verdict says nothing about what to expect
                seen.setdefault(check_id, set()).add(verdict.actual)
    placeholder = f"added by update-expectations on {datetime.now(UTC).date().isoformat()}: link an issue"
    entries: dict[str, Expectation] = {}
    for check_id in sorted(seen):
        actual = frozenset(seen[check_id])
        if actual == {"PASS"}:
            continue
        old = previous.checks.get(check_id)
        entries[check_id] = Expectation(
            check_id=check_id,
            expected=actual,
            issue=old.issue if old else issue,
            note=old.note if old else ("" if issue else placeholder),
        )
    for check_id, old in previous.checks.items():  # keep what these runs could not judge
        if check_id not in seen:
            entries[check_id] = old
    return Expectations(target=target or previous.target, checks=dict(sorted(entries.items())))


def _expected_value(expected: frozenset[str]) -> str | list[str]:
    values = sorted(expected, key=VERDICTS.index)
    return values[0] if len(values) == 1 else values


def to_toml(expectations: Expectations) -> str:
    """The TOML text of an expectations file (strings through ``json.dumps``: valid TOML basic strings)."""
    lines = [
        "# Expected verdicts per check for one target; a check not listed is expected to PASS.",
        "# CI fails only on regressions. Regenerate with:",
        "#   asr-conformance update-expectations --from reports/TARGET/events.jsonl --out THIS_FILE",
        "",
        f"target = {json.dumps(expectations.target)}",
    ]
    for check_id, entry in expectations.checks.items():
        key = check_id if _BARE_KEY.match(check_id) else json.dumps(check_id)
        lines += ["", f"[checks.{key}]", f"expected = {json.dumps(_expected_value(entry.expected))}"]
        lines.append(f"issue = {json.dumps(entry.issue)}")
        if entry.note:
            lines.append(f"note = {json.dumps(entry.note)}")
    return "\n".join(lines) + "\n"


def to_json(expectations: Expectations) -> str:
    data = {
        "target": expectations.target,
        "checks": {
            c: {"expected": _expected_value(e.expected), "issue": e.issue, "note": e.note}
            for c, e in expectations.checks.items()
        },
    }
    return json.dumps(data, indent=2) + "\n"


def dump(expectations: Expectations, path: Path) -> None:
    """Write an expectations file, JSON if ``path`` ends in ``.json``, TOML otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = to_json(expectations) if path.suffix == ".json" else to_toml(expectations)
    path.write_text(text, encoding="utf-8")


__all__ = [
    "INTERMITTENT",
    "VERDICTS",
    "Expectation",
    "Expectations",
    "ExpectationsError",
    "GateResult",
    "Mismatch",
    "Verdict",
    "apply",
    "compare",
    "dump",
    "gate",
    "load",
    "parse",
    "to_json",
    "to_toml",
    "unknown_ids",
    "update",
    "verdicts",
]
