"""§1 of issue 11: no vacuous PASS (twins) and no PASS on nothing (not-exercised rows)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from asr_conformance.conformance.engine.config import RunConfig, offline_info, plan
from asr_conformance.conformance.engine.twins import INCONCLUSIVE, twin_of
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer
from click.testing import CliRunner
from verdicts_servers import refuses_json, serve

from asr_conformance.cli import main


@pytest.fixture(autouse=True)
def _quiet_mock():
    logging.getLogger("mock_server").setLevel(logging.CRITICAL)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), env={"NO_COLOR": "1"}, catch_exceptions=False)


def _results(report_dir, check_id):
    for line in (report_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["kind"] != "case_finished":
            continue
        for result in event["results"]:
            if result["check_id"] == check_id:
                yield event, result


def test_a_server_refusing_every_json_body_gets_no_pass_on_json_negatives(tmp_path):
    with serve(refuses_json) as url:
        invoke(
            "run",
            "--target",
            url,
            "--profile",
            "quick",
            "--max-examples",
            "0",
            "--seed",
            "1",
            "--report-dir",
            str(tmp_path),
        )
    judged = [(e, r) for e, r in _results(tmp_path, "negative_data_rejection")]
    json_cases = [(e, r) for e, r in judged if e["meta"]["case"]["form"] == "json"]
    assert json_cases
    for event, result in json_cases:
        assert result["outcome"] == "skip" and result["message"] == INCONCLUSIVE, event["case_id"]
        assert event["meta"]["twin"]["accepted"] is False and event["meta"]["twin"]["status"] == 400
    raw = [r for e, r in judged if e["meta"]["case"]["form"] == "raw"]
    assert raw and all(r["outcome"] != "skip" for r in raw)  # raw twins were accepted: judged


def test_checks_with_nothing_judged_are_not_exercised_with_a_hint_and_their_severity(tmp_path):
    with MockServer(MockConfig()) as server:
        result = invoke(
            "run",
            "--target",
            server.model_url(),
            "--profile",
            "quick",
            "--max-examples",
            "0",
            "--seed",
            "1",
            "--report-dir",
            str(tmp_path),
        )
    assert result.exit_code == 0, result.output
    summary = (tmp_path / "summary.md").read_text()
    assert "not exercised" in summary.splitlines()[0] and "✅ All" not in summary
    row = next(line for line in summary.splitlines() if line.startswith("| `ignored_auth`"))
    assert "| error |" in row and "--token-env" in row and "➖ not exercised" in row
    row = next(line for line in summary.splitlines() if line.startswith("| `body_limit_enforced`"))
    assert "| warning |" in row and "--max-body-bytes" in row
    assert "--max-body-bytes" in (tmp_path / "junit.xml").read_text()


def test_the_twin_is_the_same_request_without_the_mutation():
    cases = plan(RunConfig(profile="quick", seed=1), offline_info(RunConfig()))
    negative = next(c for c in cases if c.mutated_path == "parameters.generation_parameters.do_sample")
    twin = twin_of(negative)
    assert twin is not None and twin.kind == "positive" and twin.form == "json"
    assert twin.audio == negative.audio and not (twin.parameters or {}).get("generation_parameters")
    header = replace(
        negative,
        form="raw",
        parameters=None,
        headers=(("X-Use-Cache", "maybe"),),
        mutated_path="header:x-use-cache",
    )
    name = "x-use-cache"
    assert all(k.lower() != name for k, _ in twin_of(header).headers)
    assert twin_of(next(c for c in cases if c.kind == "positive")) is None
