"""§1 of issue 11: a run that stopped on its request budget says so everywhere and is never green."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET

import pytest
from asr_conformance.conformance.model import RunFinished, event_from_json
from click.testing import CliRunner

from asr_conformance.cli import main


@pytest.fixture(autouse=True)
def _quiet_mock():
    logging.getLogger("mock_server").setLevel(logging.CRITICAL)


def test_a_spent_budget_is_incomplete_in_every_report_and_exits_3(tmp_path):
    result = CliRunner().invoke(
        main,
        ["run", "--profile", "quick", "--seed", "1", "--max-requests", "50", "--report-dir", str(tmp_path)],
        env={"NO_COLOR": "1"},
        catch_exceptions=False,
    )
    assert result.exit_code == 3, result.output
    finished = json.loads((tmp_path / "events.jsonl").read_text().splitlines()[-1])
    assert finished["stopped"] == "budget" and finished["planned"] > finished["cases"]
    sentence = f"incomplete: budget spent after {finished['cases']} of {finished['planned']} planned cases"
    assert sentence in result.output
    assert "✅ All" not in result.output
    summary = (tmp_path / "summary.md").read_text()
    assert sentence in summary.splitlines()[0] and "✅" not in summary.splitlines()[0]
    assert sentence in (tmp_path / "report.html").read_text()
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    complete = next(c for c in suite.iter("testcase") if c.get("name") == "run_complete")
    assert complete.find("error").get("message") == sentence


def test_old_run_finished_events_stay_readable():
    old = {
        "kind": "run_finished",
        "run_id": "r",
        "finished_at": "2026-01-01T00:00:00+00:00",
        "duration_s": 1.0,
        "cases": 3,
        "outcomes": {},
        "failed_checks": [],
        "exit_code": 0,
    }
    event = event_from_json(old)
    assert isinstance(event, RunFinished) and event.incomplete == "" and event.planned is None
