"""One real ``asr-conformance run`` against the in-process mock writes every report, and the events file
alone re-renders them identically (large passing bodies are elided from it, nothing a report shows)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from asr_conformance.conformance.checks import select
from asr_conformance.conformance.reports import read_events
from asr_conformance.conformance.reports.jsonl import ELIDE_ABOVE
from click.testing import CliRunner

from asr_conformance.cli.report_cmd import report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "mock"
    proc = subprocess.run(
        [sys.executable, "-m", "asr_conformance", "run", "--profile", "quick", "--seed", "5",
         "--max-examples", "20", "--report-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.mark.slow
def test_every_report_from_one_run(run_dir: Path) -> None:
    assert {"junit.xml", "events.jsonl", "summary.md", "report.html"} <= {p.name for p in run_dir.iterdir()}
    events = list(read_events(run_dir / "events.jsonl"))
    assert events[0].kind == "run_started" and events[-1].kind == "run_finished"
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert {c.get("name") for c in suite.iter("testcase")} == {c.id for c in select()}
    summary = (run_dir / "summary.md").read_text()
    assert summary.startswith("## ASR conformance: ✅")
    assert "## Spec coverage: " in summary
    html = (run_dir / "report.html").read_text()
    assert 'class="banner passing"' in html and "Spec coverage" in html


@pytest.mark.slow
def test_events_file_rerenders_the_same_reports(run_dir: Path, tmp_path: Path) -> None:
    lines = (run_dir / "events.jsonl").read_text()
    assert '"body_elided": true' in lines  # the quick profile has bodies above the threshold
    assert all(len(line) < 4 * ELIDE_ABOVE + 200_000 for line in lines.splitlines())
    res = CliRunner().invoke(report, [str(run_dir / "events.jsonl"), "--report-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    for name in ("summary.md", "report.html", "junit.xml"):
        assert (tmp_path / name).read_text() == (run_dir / name).read_text(), name
