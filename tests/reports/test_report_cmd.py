"""update-expectations and report over a real events.jsonl file."""

from __future__ import annotations

from pathlib import Path

import pytest
from asr_conformance.conformance.reports import expectations as exp
from asr_conformance.conformance.reports import write_reports
from click.testing import CliRunner
from report_events import sample_events

from asr_conformance.cli.report_cmd import report, update_expectations


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    write_reports(sample_events(), tmp_path / "run", ["jsonl"])
    return tmp_path / "run" / "events.jsonl"


def test_update_expectations_then_gate_passes(tmp_path: Path, events_file: Path) -> None:
    out = tmp_path / "ci" / "expectations.toml"
    res = CliRunner().invoke(
        update_expectations, ["--from", str(events_file), "--out", str(out), "--issue", "https://x/1"]
    )
    assert res.exit_code == 0, res.output
    assert "5 known deviation(s)" in res.output
    loaded = exp.load(out)
    assert loaded.target.endswith("/models/openai/whisper-large-v3")
    assert loaded.checks["timestamps_numeric"].issue == "https://x/1"
    res = CliRunner().invoke(report, [str(events_file), "--expectations", str(out)])
    assert res.exit_code == 0, res.output
    assert "every check behaved as expected" in res.output


def test_report_rerenders_and_fails_on_regressions(tmp_path: Path, events_file: Path) -> None:
    res = CliRunner().invoke(report, [str(events_file), "--report-dir", str(tmp_path / "again")])
    assert res.exit_code == 1  # failures at error severity, no expectations
    assert res.output.startswith("## ASR conformance: ❌")
    assert {p.name for p in (tmp_path / "again").iterdir()} == {"junit.xml", "summary.md", "report.html"}
    empty = tmp_path / "none.toml"
    empty.write_text("")
    res = CliRunner().invoke(report, [str(events_file), "--format", "html", "--expectations", str(empty)])
    assert res.exit_code == 1
    assert "regression: timestamps_numeric [error] expected PASS, got FAIL" in res.output
    assert (events_file.parent / "report.html").exists()


def test_not_an_events_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"kind": "case_finished"}\n')
    res = CliRunner().invoke(report, [str(bad)])
    assert res.exit_code == 1 and "not an events.jsonl file" in res.output
    res = CliRunner().invoke(update_expectations, ["--from", str(bad), "--out", str(tmp_path / "e.toml")])
    assert res.exit_code == 1 and "not an events.jsonl file" in res.output
