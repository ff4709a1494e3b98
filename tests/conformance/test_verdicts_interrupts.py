"""Issue 14: SIGINT/SIGTERM end a run with every report written, "interrupted", exit 130; --ready-timeout."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer
from click.testing import CliRunner

from asr_conformance.cli import main

CLI = [sys.executable, "-c", "from asr_conformance.cli import main; main()"]


@pytest.fixture(autouse=True)
def _quiet_mock():
    logging.getLogger("mock_server").setLevel(logging.CRITICAL)


def _wait_for_cases(events: Path, n: int, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if events.is_file() and events.read_text().count('"case_finished"') >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {n} cases in {events} after {limit_s} s")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_writes_every_report_and_exits_130(tmp_path, sig):
    # every success takes 1 s: the run is far from done when the signal comes
    with MockServer(MockConfig(violate=("slow",), slow_seconds=1.0)) as server:
        args = ["run", "--target", server.model_url(), "--profile", "quick", "--seed", "1"]
        proc = subprocess.Popen(
            [*CLI, *args, "--report-dir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            _wait_for_cases(tmp_path / "events.jsonl", 3)
            proc.send_signal(sig)
            out, _ = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 130, out
    finished = json.loads((tmp_path / "events.jsonl").read_text().splitlines()[-1])
    assert finished["kind"] == "run_finished" and finished["stopped"] == "interrupted"
    assert "interrupted after" in (tmp_path / "summary.md").read_text().splitlines()[0]
    assert "interrupted" in (tmp_path / "report.html").read_text()
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert any(c.get("name") == "run_complete" for c in suite.iter("testcase"))
    assert "interrupted after" in out and "Aborted" not in out


def test_ready_timeout_bounds_the_wait_for_a_loading_target_with_progress_lines():
    runner = CliRunner()
    with MockServer(MockConfig(loading_seconds=30.0)) as server:
        args = ["run", "--target", server.model_url(), "--profile", "quick", "--max-examples", "0"]
        result = runner.invoke(main, [*args, "--ready-timeout", "1"], env={"NO_COLOR": "1"})
    assert result.exit_code == 2, result.output
    assert "still loading after 1 s (--ready-timeout)" in result.output
    assert "is loading its model: waited 0 s of 1 s" in result.output
