"""The report writers over a realistic event stream: every file written, stamped, and right."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from asr_conformance.conformance.model import event_to_json
from asr_conformance.conformance.reports import (
    DEFAULT_FORMATS,
    FORMATS,
    open_writers,
    read_events,
    render_summary,
    write_reports,
)
from asr_conformance.conformance.reports.tally import redact, tally_events
from report_events import CHECKS, sample_events

STAMP = ("0.1.0", "served", "242f4a1e")


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    write_reports(sample_events(), tmp_path)
    return tmp_path


def test_default_formats_write_their_files(report_dir: Path) -> None:
    assert set(DEFAULT_FORMATS) == {"junit", "jsonl", "markdown", "html"}
    for fmt in DEFAULT_FORMATS:
        path = report_dir / FORMATS[fmt][1]
        text = path.read_text(encoding="utf-8")
        for stamp in STAMP:  # suite version, spec view, upstream doc commit on every report
            assert stamp in text, (fmt, stamp)


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown report format"):
        open_writers(tmp_path, ["junit", "pdf"])


def test_jsonl_round_trips_the_events(report_dir: Path) -> None:
    events = sample_events()
    lines = (report_dir / "events.jsonl").read_text().splitlines()
    assert len(lines) == len(events)
    assert json.loads(lines[0])["kind"] == "run_started"
    assert json.loads(lines[-1])["kind"] == "run_finished"
    back = list(read_events(report_dir / "events.jsonl"))
    # the only change allowed is token masking in the repro strings
    assert [event_to_json(e) for e in back] == [
        json.loads(redact(json.dumps(event_to_json(e)))) for e in events
    ]


def test_jsonl_is_flushed_per_event(tmp_path: Path) -> None:
    (writer,) = open_writers(tmp_path, ["jsonl"])
    events = sample_events()
    writer.handle(events[0])
    writer.handle(events[1])
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 2  # before close
    writer.close()


def test_junit_has_one_case_per_check(report_dir: Path) -> None:
    root = ET.parse(report_dir / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["suite_version"] == "0.1.0" and props["upstream_commit"] == "242f4a1e"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == set(CHECKS)
    failed = {n for n, c in cases.items() if c.find("failure") is not None}
    # chunks_only_when_asked fails at warning severity: under --fail-on error it is reported, not failed
    assert "below --fail-on error" in (cases["chunks_only_when_asked"].find("system-out").text or "")
    assert failed == {
        "timestamps_numeric",
        "response_schema_conformance",
        "negative_data_rejection",
    }
    assert cases["not_a_server_error"].find("error") is not None  # the target broke: ERROR, not FAIL
    skipped = cases["loading_shape"].find("skipped")
    assert skipped is not None and "does not expose /__mock" in (skipped.get("message") or "")
    assert cases["status_code_conformance"].find("failure") is None
    failure = cases["timestamps_numeric"].find("failure")
    assert failure is not None and "curl" in (failure.text or "")
    assert failure.get("type") == "error"


def test_markdown_summary(report_dir: Path) -> None:
    text = (report_dir / "summary.md").read_text()
    assert text.startswith(
        "## ASR conformance: ❌ 4 of 7 checks fail (3 error-severity, 1 warning); 1 errored"
    )
    assert "| `timestamps_numeric` | error | 0 | 1 | 0 | 0 | 0 | ❌ FAIL |" in text
    assert "| `loading_shape` | error | 0 | 0 | 0 | 1 | 0 | ➖ not exercised (" in text
    assert "--data-binary @case-cov-0007.wav" in text
    assert "mutation: parameters.return_timestamps: string instead of boolean" in text
    # the writer knows its report dir (for the replay hint); otherwise the same text as from the events
    assert text.replace(f" --report-dir {report_dir.resolve()}", "") == render_summary(sample_events())


def test_all_passing_run_says_so() -> None:
    text = render_summary(sample_events(failing=False))
    # loading_shape judged nothing: a green headline still says so, never "all conform"
    assert text.startswith("## ASR conformance: ✅ 6 of 7 checks conform; 1 not exercised")
    assert "## Failures" not in text


def test_interrupted_run_still_reports_what_it_has(tmp_path: Path) -> None:
    write_reports(sample_events(finished=False), tmp_path)
    assert "did not finish" in (tmp_path / "summary.md").read_text()
    assert "run did not finish" in (tmp_path / "report.html").read_text()
    assert ET.parse(tmp_path / "junit.xml").getroot().find("testsuite") is not None


def test_examples_are_bounded_and_prefer_the_smallest_body() -> None:
    events = sample_events()
    started, *cases, finished = events
    # the same failure kind 50 times, with growing bodies: one example, counted 50 times
    from dataclasses import replace

    failing_case = next(c for c in cases if c.case_id == "cov-0007")
    big = replace(
        failing_case.exchanges[0],
        request=replace(failing_case.exchanges[0].request, body=failing_case.exchanges[0].request.body * 2),
    )
    repeats = [replace(failing_case, case_id=f"rep-{i}", exchanges=(big,)) for i in range(49)]
    tally = tally_events([started, *repeats, failing_case, finished])
    (example,) = tally.checks["timestamps_numeric"].examples.values()
    assert example.occurrences == 50
    assert example.case_id == "cov-0007"  # the smaller body won


def test_tokens_never_reach_reports(tmp_path: Path) -> None:
    from dataclasses import replace

    token = "hf_" + "A1b2C3d4" * 4
    events = sample_events()
    case = next(e for e in events if getattr(e, "case_id", "") == "cov-0007")
    leaked = replace(case, repro=replace(case.repro, curl=f"curl -H 'Authorization: Bearer {token}' URL"))
    write_reports([leaked if e is case else e for e in events], tmp_path)
    for path in tmp_path.iterdir():
        assert token not in path.read_text(), path.name


def test_a_case_counts_once_per_failure_kind() -> None:
    from dataclasses import replace

    started, *cases, finished = sample_events()
    case = next(c for c in cases if c.case_id == "cov-0007")
    result = next(r for r in case.results if r.check_id == "timestamps_numeric")
    tripled = replace(result, failures=result.failures * 3)  # e.g. three chunks ending in null
    case = replace(case, results=tuple(tripled if r is result else r for r in case.results))
    (example,) = tally_events([started, case, finished]).checks["timestamps_numeric"].examples.values()
    assert example.occurrences == 1
