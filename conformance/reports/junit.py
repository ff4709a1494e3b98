"""JUnit XML report (``junit.xml``): one test case per check id, as CI test tabs show them.

A check with any FAIL result is a ``<failure>`` listing its failure kinds and an example case each; an
ERROR (the target broke) is an ``<error>``; a check never exercised is ``<skipped>`` with the reasons. The
suite carries the stamp (suite version, spec view, upstream doc commit, target) as properties.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from asr_conformance.conformance.model import Outcome, Severity
from asr_conformance.conformance.reports.tally import CheckTally, RenderedFileWriter, RunTally
from junit_xml import TestCase, TestSuite, to_xml_report_string


def _describe(t: CheckTally, replay: Callable[[str], str]) -> str:
    lines = []
    for ex in t.examples.values():
        lines.append(f"[{ex.severity}] {ex.title} (case {ex.case_id}, seen in {ex.occurrences} cases)")
        lines.append(f"  {ex.description}" + (f"; mutation: {ex.mutation}" if ex.mutation else ""))
        if ex.message:
            lines.append(f"  {ex.message}")
        lines.append(f"  sent {ex.request_line}; got {ex.response_line}")
        if ex.repro:
            lines.append(f"  reproduce: {ex.repro.curl}")
            lines.append(f"  replay: {replay(ex.repro.replay_id)}")
    return "\n".join(lines)


def _case(t: CheckTally, classname: str, tally: RunTally) -> TestCase:
    fail_on = tally.started.fail_on if tally.started else "error"
    expected, replay = tally.expected(t), tally.replay_command
    info = t.info()
    counts = ", ".join(f"{o}={n}" for o, n in sorted(t.counts.items()))
    case = TestCase(
        name=t.check_id,
        classname=classname,
        elapsed_sec=round(t.seconds, 3),
        stdout=f"{info.title}\n{info.doc}\nspec: {info.spec_ref} ({info.evidence})\nresults: {counts}",
    )
    verdict = t.verdict
    below = Severity(fail_on).rank > t.severity.rank
    if expected is not None:  # CI tabs show it, the gate does not fail on it
        case.add_skipped_info(
            message=f"expected {verdict.value.upper()}: {expected}", output=_describe(t, replay)
        )
    elif verdict == Outcome.FAIL and below:  # a warning under --fail-on error: reported, not a failure
        kinds = "; ".join(ex.title for ex in t.examples.values()) or "failed"
        case.stdout += f"\n[{t.severity}, below --fail-on {fail_on}] {kinds}\n{_describe(t, replay)}"
    elif verdict == Outcome.FAIL:
        kinds = "; ".join(ex.title for ex in t.examples.values()) or "failed"
        case.add_failure_info(
            message=f"[{t.severity}] {kinds}", output=_describe(t, replay), failure_type=str(t.severity)
        )
    elif verdict == Outcome.ERROR:
        case.add_error_info(message="the target broke", output=_describe(t, replay))
    elif verdict in (Outcome.SKIP, Outcome.PRECONDITION_FAILED):
        case.add_skipped_info(message=f"not exercised ({verdict}): {t.hint or 'no case applied'}")
    return case


def _slug(text: str) -> str:
    """``http://127.0.0.1:8000/models/x`` → ``127_0_0_1_8000_models_x`` (dots would nest in CI tabs)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text.split("://", 1)[-1]).strip("_") or "target"


def _completeness(tally: RunTally, classname: str) -> TestCase | None:
    """A run that stopped early is an error in CI's test tab too, not a silent short list."""
    if not tally.incomplete:
        return None
    case = TestCase(name="run_complete", classname=classname)
    case.add_error_info(message=tally.incomplete, error_type="incomplete")
    return case


def render(tally: RunTally) -> str:
    stamp = tally.stamp()
    # CI tools group by classname: the target in it keeps two targets' reports apart.
    classname = f"asr_conformance.{_slug(stamp['target'])}.{stamp['profile']}"
    cases = [_case(t, classname, tally) for t in tally.sorted_checks()]
    stopped = _completeness(tally, classname)
    properties = {k: str(v) for k, v in stamp.items()} | {"cases": str(tally.cases)}
    if tally.incomplete:
        properties["incomplete"] = tally.incomplete
    suite = TestSuite(
        name=f"asr-conformance {stamp['target']}",
        test_cases=[stopped, *cases] if stopped else cases,
        timestamp=stamp["started_at"] or None,
        properties=properties,
    )
    return to_xml_report_string([suite], encoding="utf-8")


class JUnitWriter(RenderedFileWriter):
    """Writes ``junit.xml`` when closed."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, render)


__all__ = ["JUnitWriter", "render"]
