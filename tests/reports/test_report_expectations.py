"""Expectations: load (TOML/JSON), compare, gate on regressions only, update from runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asr_conformance.conformance.model import Severity
from asr_conformance.conformance.reports import expectations as exp
from report_events import sample_events

FAILING = sample_events()
PASSING = sample_events(failing=False)


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_run_verdicts() -> None:
    v = exp.verdicts(FAILING)
    assert {c: x.actual for c, x in v.items()} == {
        "negative_data_rejection": "FAIL",
        "response_schema_conformance": "FAIL",
        "timestamps_numeric": "FAIL",
        "chunks_only_when_asked": "FAIL",
        "not_a_server_error": "ERROR",
        "status_code_conformance": "PASS",
        "loading_shape": "SKIP",
    }
    assert v["chunks_only_when_asked"].severity == Severity.WARNING


def test_no_expectations_means_every_failure_regresses(tmp_path: Path) -> None:
    result = exp.gate(write(tmp_path, ""), FAILING)
    assert result.exit_code == 1
    # the warning-severity failure is listed but does not gate at --fail-on error
    assert {m.check_id for m in result.regressions} == {
        "negative_data_rejection",
        "response_schema_conformance",
        "timestamps_numeric",
        "not_a_server_error",
    }
    assert "chunks_only_when_asked [warning] expected PASS, got FAIL" in result.render()
    assert "(below --fail-on, not gating)" in result.render()
    warning_gate = exp.gate(write(tmp_path, ""), FAILING, fail_on="warning")
    assert len(warning_gate.regressions) == 5


def test_known_failures_do_not_gate(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
target = "http://127.0.0.1:8080/models/openai/whisper-large-v3"
[checks.negative_data_rejection]
expected = "FAIL"
issue = "https://github.com/me/asr/issues/1"
[checks.response_schema_conformance]
expected = "fail"
issue = "https://github.com/me/asr/issues/2"
[checks.timestamps_numeric]
expected = ["PASS", "FAIL"]
[checks.not_a_server_error]
expected = ["PASS", "ERROR"]
[checks.chunks_only_when_asked]
expected = "FAIL"
""",
    )
    result = exp.gate(path, FAILING)
    assert result.regressions == ()
    assert result.mismatches == ()  # loading_shape was not exercised, and has no entry: nothing learnt
    assert result.exit_code == 0


def test_error_outside_intermittent_gates(tmp_path: Path) -> None:
    # INTERMITTENT is PASS|FAIL: the target breaking (ERROR) is still a regression
    path = write(tmp_path, '[checks.not_a_server_error]\nexpected = "INTERMITTENT"\n')
    result = exp.gate(path, FAILING)
    assert "not_a_server_error" in {m.check_id for m in result.regressions}


def test_unexpected_pass_and_stale_entries_are_reported_not_gating(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[checks.timestamps_numeric]\nexpected = "FAIL"\nissue = "https://x/1"\n'
        '[checks.retired_check]\nexpected = "FAIL"\n'
        '[checks.loading_shape]\nexpected = "FAIL"\n',
    )
    result = exp.gate(path, PASSING)
    kinds = {m.check_id: m.kind for m in result.mismatches}
    assert kinds == {
        "timestamps_numeric": "unexpected_pass",
        "retired_check": "stale",
        "loading_shape": "not_exercised",
    }
    assert result.exit_code == 0
    assert (
        "unexpected_pass: timestamps_numeric [error] expected FAIL, got PASS (https://x/1)" in result.render()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[checks.x]\nexpected = "BROKEN"\n', "unknown verdict 'BROKEN'"),
        ("[checks.x]\nissue = 'y'\n", "an entry needs 'expected'"),
        ("[checks\n", "not valid TOML"),
        ('checks = "x"\n', "'checks' must be a table"),
        ("[checks.x]\nexpected = []\n", "expected must be a verdict"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(exp.ExpectationsError, match=message):
        exp.load(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(exp.ExpectationsError, match="cannot read"):
        exp.load(tmp_path / "nope.toml")


def test_json_form(tmp_path: Path) -> None:
    data = {"target": "t", "checks": {"timestamps_numeric": {"expected": "FAIL", "issue": "u"}}}
    loaded = exp.load(write(tmp_path, json.dumps(data), "exp.json"))
    assert loaded.checks["timestamps_numeric"].expected == {"FAIL"}
    with pytest.raises(exp.ExpectationsError, match="not valid JSON"):
        exp.load(write(tmp_path, "{", "bad.json"))


def test_update_makes_the_run_pass_and_keeps_issue_links(tmp_path: Path) -> None:
    previous = exp.parse(
        {
            "checks": {
                "timestamps_numeric": {"expected": "FAIL", "issue": "https://x/7", "note": "upstream"},
                "loading_shape": {"expected": "FAIL", "issue": "https://x/8"},
            }
        }
    )
    updated = exp.update([exp.verdicts(FAILING), exp.verdicts(PASSING)], previous, target="t")
    # failed in one run, passed in the other: intermittent
    assert updated.checks["timestamps_numeric"].expected == {"PASS", "FAIL"}
    assert updated.checks["timestamps_numeric"].issue == "https://x/7"
    assert updated.checks["not_a_server_error"].expected == {"PASS", "ERROR"}
    assert "link an issue" in updated.checks["negative_data_rejection"].note
    assert updated.checks["loading_shape"].issue == "https://x/8"  # never judged: kept as it was
    assert "status_code_conformance" not in updated.checks  # passed everywhere: no entry
    for name in ("round.toml", "round.json"):
        exp.dump(updated, tmp_path / name)
        assert exp.load(tmp_path / name) == updated
        assert exp.gate(tmp_path / name, FAILING).regressions == ()
        assert exp.gate(tmp_path / name, PASSING).regressions == ()


def test_update_drops_fixed_checks() -> None:
    previous = exp.parse({"checks": {"timestamps_numeric": {"expected": "FAIL"}}})
    assert "timestamps_numeric" not in exp.update([exp.verdicts(PASSING)], previous).checks
