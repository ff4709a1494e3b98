"""``pytest --asr-target``: the catalogue as pytest items, against the in-process mock (faithful and not)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asr_conformance.conformance.checks import select

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def project(pytester: pytest.Pytester) -> None:
    """A project of its own (rootdir = the test directory), as a user's repository would be."""
    pytester.makeini("[pytest]\n")


# small runs: the quick profile with few fuzz cases, a fixed seed
FAST = ["-p", "no:cacheprovider", "--asr-profile", "quick", "--asr-max-examples", "5", "--asr-seed", "11"]


def test_without_a_target_the_plugin_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "asr-conformance::" not in result.stdout.str()


def test_items_carry_the_stable_check_ids(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--asr-target", "mock", "--collect-only", "-q", *FAST)
    ids = [line for line in result.stdout.lines if line.startswith("asr-conformance::")]
    assert ids == [f"asr-conformance::{c.id}" for c in select()]


@pytest.mark.slow
def test_faithful_mock_passes_and_reports_are_written(pytester: pytest.Pytester, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = pytester.runpytest_subprocess("--asr-target", "mock", f"--asr-report-dir={reports}", *FAST)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= len(select()) - outcomes.get("skipped", 0) - outcomes.get("xfailed", 0)
    assert {p.name for p in reports.iterdir()} >= {"junit.xml", "events.jsonl", "summary.md", "report.html"}
    assert "cases against mock:in-process" in result.stdout.str()


@pytest.mark.slow
def test_violating_mock_fails_the_right_items_and_expectations_xfail_them(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    args = ["--asr-target", "mock", "--asr-mock-violate", "text-not-string", "-rfx", *FAST]
    result = pytester.runpytest_subprocess(
        *args, "-k", "schema or server_error", f"--asr-report-dir={tmp_path}"
    )
    result.assert_outcomes(failed=1, passed=1)
    out = result.stdout.str()
    assert "FAILED asr-conformance::response_schema_conformance" in out
    assert "curl -sS -X POST http://127.0.0.1:" in out and "replay: asr-conformance replay" in out
    # -k narrowed the run itself, not only the items shown
    header = json.loads((tmp_path / "events.jsonl").read_text().splitlines()[0])
    assert sorted(header["checks"]) == ["not_a_server_error", "response_schema_conformance"]

    expectations = tmp_path / "expectations.toml"
    expectations.write_text(
        '[checks.response_schema_conformance]\nexpected = "FAIL"\nissue = "https://x/42"\n'
    )
    result = pytester.runpytest_subprocess(
        *args, "-k", "schema or server_error", f"--asr-expectations={expectations}"
    )
    result.assert_outcomes(xfailed=1, passed=1)
    assert "known deviation (fail): https://x/42" in result.stdout.str()


def test_unreachable_target_fails_every_item_with_the_reason(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--asr-target", "http://127.0.0.1:9/models/x", "-k", "schema", *FAST
    )
    result.assert_outcomes(failed=1)
    assert "target unreachable" in result.stdout.str()


def test_bad_expectations_file_is_a_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[checks.x]\nexpected = "SOMETIMES"\n')
    result = pytester.runpytest_subprocess("--asr-target", "mock", f"--asr-expectations={bad}", *FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown verdict 'SOMETIMES'" in result.stderr.str()


def test_plugin_import_stays_cheap() -> None:
    """Registered for every pytest run in the environment: it must not pull in the suite on import."""
    import subprocess
    import sys

    code = (
        "import sys, asr_conformance.conformance.pytest_plugin\n"
        "heavy = ('spec', 'mock_server', 'numpy', 'aiohttp')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or m.startswith('conformance.') and m != 'asr_conformance.conformance.pytest_plugin'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
