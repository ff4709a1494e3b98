"""The example GitHub Actions workflow, its steps run here by examples/github-actions/run_locally.py."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "examples" / "github-actions" / "run_locally.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_workflow(tmp_path: Path, *env: str) -> tuple[subprocess.CompletedProcess[str], int, Path, Path]:
    port = free_port()
    reports, artifacts = tmp_path / "reports", tmp_path / "artifacts"
    args = [f"--env=ASR_PORT={port}", f"--env=REPORT_DIR={reports}", f"--artifacts={artifacts}"]
    for item in env:
        args.append(f"--env={item}")
    proc = subprocess.run(
        [sys.executable, str(RUNNER), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    return proc, port, reports, artifacts


def port_is_closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
def test_workflow_against_the_faithful_mock(tmp_path: Path) -> None:
    proc, port, reports, artifacts = run_workflow(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "-- Run the conformance suite" in out
    assert "expectations: every check behaved as expected" in out
    summary = out.split("== step summary ==", 1)[1]
    assert summary.strip().startswith("## ASR conformance: ✅ All")
    assert "| `body_limit_enforced` | warning | 1 |" in summary  # the declared limit made 413 testable
    assert (reports / "summary.md").read_text() in summary  # the summary step appended the run's summary
    uploaded = artifacts / "asr-conformance-reports"
    assert {p.name for p in uploaded.iterdir()} >= {"junit.xml", "events.jsonl", "summary.md", "report.html"}
    assert port_is_closed(port)  # the "Stop the server" step (and the runner's cleanup) ended it


@pytest.mark.slow
def test_workflow_gates_a_regression_and_still_reports(tmp_path: Path) -> None:
    proc, port, reports, artifacts = run_workflow(tmp_path, "MOCK_FLAGS=--violate text-not-string")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "regression: response_schema_conformance [error] expected PASS, got FAIL" in out
    # the always() steps ran after the failing one: summary written, reports uploaded, server stopped
    assert "## ASR conformance: ❌" in out.split("== step summary ==", 1)[1]
    assert (artifacts / "asr-conformance-reports" / "report.html").exists()
    assert (reports / "events.jsonl").exists()
    assert port_is_closed(port)
