"""``asr-conformance run`` and ``replay`` end to end: exit codes, reports, dry run, curl repros that work."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from asr_conformance.conformance.engine.config import RunConfig
from asr_conformance.conformance.engine.runner import run
from asr_conformance.conformance.model import CaseFinished
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer
from click.testing import CliRunner

from asr_conformance.cli import main


@pytest.fixture(autouse=True)
def _quiet_mock():
    logging.getLogger("mock_server").setLevel(logging.CRITICAL)


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env={"NO_COLOR": "1", **(env or {})}, catch_exceptions=False)


def events(report_dir: Path) -> list[dict]:
    return [
        json.loads(line) for line in (report_dir / "events.jsonl").read_text().splitlines() if line.strip()
    ]


def test_run_on_the_faithful_mock_exits_0_with_summary_and_reports(tmp_path):
    result = invoke(
        "run", "--profile", "quick", "--max-examples", "10", "--seed", "1", "--report-dir", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert "ASR conformance" in result.output and "profile quick" in result.output
    assert "FAIL" not in result.output.split("ASR conformance:")[0]  # no failure lines in the progress
    for name in ("events.jsonl", "junit.xml", "summary.md", "report.html"):
        assert (tmp_path / name).is_file(), name


def test_a_violation_exits_1_and_names_its_check(tmp_path):
    result = invoke(
        "run",
        "--profile",
        "quick",
        "--max-examples",
        "5",
        "--seed",
        "2",
        "--mock-violate",
        "ignored-auth",
        "--report-dir",
        str(tmp_path),
    )
    assert result.exit_code == 1
    assert "ignored_auth" in result.output
    # Below --fail-on: the same deviation with only warnings counted as errors does not fail the run.
    failing = {
        r["check_id"]
        for e in events(tmp_path)
        if e["kind"] == "case_finished"
        for r in e["results"]
        if r["outcome"] == "fail"
    }
    assert failing == {"ignored_auth"}


def test_usage_errors_and_unreachable_targets_exit_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert invoke("run", "--target", f"http://127.0.0.1:{port}/models/x", "--profile", "quick").exit_code == 2
    assert invoke("run", "-H", "no colon here").exit_code == 2
    assert invoke("run", "--checks", "no_such_check").exit_code == 2
    assert invoke("run", "--mock-violate", "not-a-switch").exit_code == 2
    assert invoke("run", "--target", "ftp://example.org/x").exit_code == 2
    assert invoke("run", "--token-env", "ASR_CONFORMANCE_UNSET_VAR").exit_code == 2


def test_dry_run_lists_cases_and_sends_nothing():
    with MockServer(MockConfig()) as server:
        result = invoke(
            "run", "--target", server.model_url(), "--profile", "quick", "--dry-run", "--seed", "3"
        )
        assert result.exit_code == 0, result.output
        assert server.journal() == []
    lines = result.output.splitlines()
    assert lines[0].startswith("probe") and "nothing sent" in lines[-1]
    assert any(" negative " in line and "instead of" in line for line in lines)


@pytest.mark.skipif(
    shutil.which("curl") is None and not os.environ.get("ASR_CONFORMANCE_REQUIRE_TOOLS"), reason="no curl"
)
def test_curl_repro_reproduces_the_failure_with_the_token_masked(tmp_path):
    token = "hf_reprosecret000000000000000000"
    found: list[CaseFinished] = []
    with MockServer(MockConfig(token=token, violate=("reject-mp3",))) as server:
        config = RunConfig(
            target=server.model_url(),
            token=token,
            token_env="REPRO_TOKEN",
            profile="quick",
            max_examples=0,
            seed=4,
            report_dir=tmp_path,
        )
        asyncio.run(run(config, lambda e: found.append(e) if isinstance(e, CaseFinished) else None))
        failed = next(c for c in found if c.repro and "mp3" in c.description and c.case_kind == "positive")
        curl = failed.repro.curl.splitlines()[0]
        body = f"--data-binary @{(tmp_path / 'repro').resolve()}/case-{failed.case_id}."
        assert "$REPRO_TOKEN" in curl and token not in curl and body in curl
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        status = subprocess.run(  # as printed, from any directory: the body path is absolute
            ["bash", "-c", curl + " -o /dev/null -w '%{http_code}'"],
            cwd=elsewhere,
            env={**os.environ, "REPRO_TOKEN": token},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert status == "400"  # reject-mp3: the same answer the run saw


def test_replay_resends_a_case_and_rejudges_it(tmp_path):
    result = invoke(
        "run",
        "--profile",
        "quick",
        "--max-examples",
        "0",
        "--seed",
        "5",
        "--mock-violate",
        "reject-8khz",
        "--report-dir",
        str(tmp_path),
    )
    assert result.exit_code == 1
    failed = next(e for e in events(tmp_path) if e["kind"] == "case_finished" and e["repro"])
    replay_id = failed["repro"]["replay_id"]

    again = invoke("replay", replay_id, "--report-dir", str(tmp_path), "--mock-violate", "reject-8khz")
    assert again.exit_code == 1 and "FAIL" in again.output, again.output
    fixed = invoke("replay", replay_id, "--report-dir", str(tmp_path))
    assert fixed.exit_code == 0, fixed.output
    assert invoke("replay", "no-such-id", "--report-dir", str(tmp_path)).exit_code == 2


def test_project_defaults_apply_and_flags_override_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "asr-conformance.toml").write_text(
        'profile = "quick"\nmax-examples = 2\nseed = 6\nreport-dir = "out"\n'
    )
    result = invoke("run")
    assert result.exit_code == 0, result.output
    assert "profile quick, seed 6" in result.output and (tmp_path / "out" / "events.jsonl").is_file()
    assert "seed 8" in invoke("run", "--seed", "8", "--max-examples", "0").output


def test_expectations_gate_on_regressions_only(tmp_path):
    reports = tmp_path / "r"
    args = (
        "run",
        "--profile",
        "quick",
        "--max-examples",
        "0",
        "--seed",
        "3",
        "--mock-violate",
        "ignored-auth",
    )
    assert invoke(*args, "--report-dir", str(reports)).exit_code == 1
    expectations = tmp_path / "expected.toml"
    updated = invoke(
        "update-expectations", "--from", str(reports / "events.jsonl"), "--out", str(expectations)
    )
    assert updated.exit_code == 0, updated.output
    assert (
        invoke(*args, "--expectations", str(expectations)).exit_code == 0
    )  # the known deviation is expected
    regressed = invoke(*args, "--mock-violate", "reject-mp3", "--expectations", str(expectations))
    assert regressed.exit_code == 1 and "regression" in regressed.output
