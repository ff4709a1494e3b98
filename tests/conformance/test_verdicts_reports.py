"""§4 of issue 11 through the real CLI: expected failures, JUnit for CI, replay hints."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from asr_conformance.cli import main

QUICK = ("run", "--profile", "quick", "--max-examples", "0", "--seed", "3")


@pytest.fixture(autouse=True)
def _quiet_mock():
    logging.getLogger("mock_server").setLevel(logging.CRITICAL)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), env={"NO_COLOR": "1"}, catch_exceptions=False)


def test_expected_failures_show_as_expected_in_every_report(tmp_path):
    expectations = tmp_path / "expected.toml"
    expectations.write_text('[checks.ignored_auth]\nexpected = "FAIL"\nissue = "https://example.org/i/7"\n')
    out = tmp_path / "r"
    result = invoke(
        *QUICK,
        "--mock-violate",
        "ignored-auth",
        "--expectations",
        str(expectations),
        "--report-dir",
        str(out),
    )
    assert result.exit_code == 0, result.output
    headline = (out / "summary.md").read_text().splitlines()[0]
    assert headline.startswith("## ASR conformance: ✅") and "1 fail as expected" in headline
    row = next(line for line in (out / "summary.md").read_text().splitlines() if "| `ignored_auth`" in line)
    assert "⚠️ expected FAIL (https://example.org/i/7)" in row and "❌" not in row
    html = (out / "report.html").read_text()
    assert "EXPECTED FAIL" in html and 'class="banner passing"' in html
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    case = next(c for c in suite.iter("testcase") if c.get("name") == "ignored_auth")
    assert case.find("failure") is None and "expected FAIL" in case.find("skipped").get("message")


def test_an_unknown_check_id_in_expectations_is_a_usage_error(tmp_path):
    expectations = tmp_path / "expected.toml"
    expectations.write_text('[checks.chunks_only_when_asked]\nexpected = "FAIL"\n')
    result = invoke(*QUICK, "--expectations", str(expectations))
    assert result.exit_code == 2 and "unknown check id(s) chunks_only_when_asked" in result.output


def test_the_example_expectations_file_names_real_checks():
    from pathlib import Path

    from asr_conformance.conformance.reports.expectations import parse, unknown_ids

    text = Path("examples/github-actions/expectations.toml").read_text()
    # the example's entry is commented out: uncommented, it must name a real check
    body = "\n".join(line.removeprefix("# ") for line in text.splitlines() if line.startswith("# ["))
    body += "\n" + "\n".join(
        line.removeprefix("# ") for line in text.splitlines() if line.startswith(("# expected", "# issue"))
    )
    import tomllib

    assert not unknown_ids(parse(tomllib.loads(body)))


def test_junit_for_ci_time_classname_and_warnings_by_fail_on(tmp_path):
    args = (*QUICK, "--mock-violate", "chunks-unasked")
    for fail_on in ("error", "warning"):
        out = tmp_path / fail_on
        invoke(*args, "--fail-on", fail_on, "--report-dir", str(out))
        suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
        cases = {c.get("name"): c for c in suite.iter("testcase")}
        assert all("mock_in_process" in c.get("classname") for c in cases.values())
        assert float(cases["not_a_server_error"].get("time")) > 0
        warned = cases["chunks_absent_unless_requested"]
        assert (warned.find("failure") is not None) == (fail_on == "warning"), fail_on


def test_the_replay_hint_names_the_report_dir(tmp_path):
    out = tmp_path / "r"
    invoke(*QUICK, "--mock-violate", "reject-8khz", "--report-dir", str(out))
    assert f"--report-dir {out.resolve()}" in (out / "summary.md").read_text()


def test_replay_goes_to_the_recorded_target_of_the_newest_run(tmp_path):
    import json

    from asr_conformance.mock_server.config import MockConfig
    from asr_conformance.mock_server.server import MockServer

    reports = tmp_path / "reports"
    invoke(*QUICK, "--mock-violate", "reject-8khz", "--report-dir", str(reports / "a"))  # older, mock
    with MockServer(MockConfig(violate=("reject-8khz",))) as server:
        invoke(*QUICK, "--target", server.model_url(), "--report-dir", str(reports / "b"))  # newest
        lines = (reports / "b" / "events.jsonl").read_text().splitlines()
        failed = next(json.loads(x) for x in lines if '"repro": {' in x)
        again = invoke("replay", failed["repro"]["replay_id"], "--report-dir", str(reports))
    assert f"replaying against the recorded target {server.model_url()}" in again.output
    assert again.exit_code == 1, again.output


def test_checks_flag_sends_only_the_cases_feeding_those_checks(tmp_path):
    import json

    full = invoke(*QUICK, "--dry-run").output.splitlines()[-1]
    only = invoke(*QUICK, "--checks", "negative_data_rejection", "--report-dir", str(tmp_path))
    assert only.exit_code == 0, only.output
    events = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    cases = [e for e in events if e["kind"] == "case_finished"]
    planned = events[0]["planned"]
    assert f"{planned} cases planned" in only.output and planned < int(full.split()[0])
    judged = [c for c in cases if any(r["check_id"] == "negative_data_rejection" for r in c["results"])]
    assert len(judged) >= len(cases) - 1  # the probe aside, every case sent feeds the check


def test_non_tty_output_is_plain_text_and_no_color_only_removes_colour(tmp_path, monkeypatch):
    result = invoke(*QUICK, "--mock-violate", "reject-8khz", "--report-dir", str(tmp_path))
    out = result.output
    assert "ASR conformance: ❌" in out
    for markup in ("<details>", "```", "| `", "## ", "**Audio"):
        assert markup not in out, markup
    curl = next(line for line in out.splitlines() if "reproduce: curl" in line)
    assert "--data-binary @/" in curl  # one line, absolute body path

    from asr_conformance.cli import run_cmd

    monkeypatch.setattr(run_cmd.sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert run_cmd._plain() is False and run_cmd._color() is False  # live line kept, colour gone
    monkeypatch.delenv("NO_COLOR")
    assert run_cmd._color() is True
