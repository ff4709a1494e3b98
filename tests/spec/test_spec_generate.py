"""The generator: committed outputs are fresh, output is deterministic, staleness is caught."""

from __future__ import annotations

import json

from asr_conformance.spec import generate
from click.testing import CliRunner

from asr_conformance.cli.spec_cmd import spec as spec_group


def test_committed_outputs_are_fresh():
    assert generate.check() == ""


def test_output_is_deterministic_sorted_and_newline_terminated():
    first, second = generate.outputs(), generate.outputs()
    assert first == second
    assert len(first) == 9
    for text in first.values():
        assert text.endswith("}\n")
        assert text == generate.dumps(json.loads(text))


def _redirect(monkeypatch, tmp_path):
    monkeypatch.setattr(generate, "SPEC_DIR", tmp_path / "spec")
    monkeypatch.setattr(generate, "GENERATED_DIR", tmp_path / "spec" / "generated")
    monkeypatch.setattr(generate, "OPENAPI_PATH", tmp_path / "spec" / "openapi.json")


def test_write_then_check_then_staleness_is_reported_with_a_diff(monkeypatch, tmp_path):
    _redirect(monkeypatch, tmp_path)
    runner = CliRunner()
    result = runner.invoke(spec_group, ["generate", "--check"])
    assert result.exit_code == 1  # nothing written yet
    result = runner.invoke(spec_group, ["generate"])
    assert result.exit_code == 0, result.output
    assert "9 file(s) changed" in result.output
    assert runner.invoke(spec_group, ["generate", "--check"]).exit_code == 0
    assert runner.invoke(spec_group, ["generate"]).output.strip().endswith("0 file(s) changed.")

    stale = tmp_path / "spec" / "generated" / "served" / "response.schema.json"
    stale.write_text(stale.read_text().replace('"timestamp"', '"timestamps"'))
    result = runner.invoke(spec_group, ["generate", "--check"])
    assert result.exit_code == 1
    assert "--- a/spec/generated/served/response.schema.json (committed)" in result.output
    assert '-          "timestamps": {' in result.output
    assert '+          "timestamp": {' in result.output


def test_summary_lists_errata_and_domains():
    result = CliRunner().invoke(spec_group, ["summary"])
    assert result.exit_code == 0, result.output
    assert "payload 20, headers 3, body 4" in result.output
    assert "E1 " in result.output
    assert "domains: 23 paths" in result.output
