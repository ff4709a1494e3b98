"""``asr-conformance checks list`` and ``checks explain ID`` through the real CLI entry point."""

from __future__ import annotations

from asr_conformance.conformance.checks import all_checks, select
from click.testing import CliRunner

from asr_conformance.cli import main


def run(*args: str):
    return CliRunner().invoke(main, ["checks", *args])


def test_list_shows_every_check_with_severity_and_evidence() -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "SEVERITY", "EVIDENCE"]
    rows = {
        line.split()[0]: line.split()[1:3] for line in lines[1:] if line.strip() and not line.startswith(" ")
    }
    assert set(c.id for c in all_checks()) <= set(rows)
    assert rows["timestamp_end_present"] == ["warning", "observed"]
    assert rows["response_schema_conformance"] == ["error", "official-schema"]
    assert rows["cache_bypass_honoured"] == ["legacy", "legacy"]


def test_list_without_legacy_matches_the_default_selection() -> None:
    result = run("list", "--no-legacy")
    assert result.exit_code == 0
    assert f"{len(select())} checks" in result.output
    assert "cache_bypass_honoured" not in result.output


def test_explain_names_doc_ref_evidence_and_switches() -> None:
    result = run("explain", "chunks_absent_unless_requested")
    assert result.exit_code == 0, result.output
    assert "E10" in result.output and "fal-ai" in result.output
    assert "severity:  warning" in result.output
    assert "chunks-unasked:" in result.output


def test_explain_unknown_id_is_a_usage_error() -> None:
    result = run("explain", "no_such_check")
    assert result.exit_code == 2
    assert "unknown check 'no_such_check'" in result.output
