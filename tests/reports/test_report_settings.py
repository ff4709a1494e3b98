"""Defaults from asr-conformance.toml or [tool.asr-conformance] in the nearest pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from asr_conformance.conformance.settings import SettingsError, find_config, load_defaults


def test_nothing_found_is_empty(tmp_path: Path) -> None:
    assert load_defaults(tmp_path) == {}


def test_pyproject_table_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.asr-conformance]\nprofile = "quick"\nreport-dir = "out/reports"\n'
        'max_examples = 20\nfail-on = "warning"\nchecks = ["not_a_server_error"]\n'
    )
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    assert load_defaults(sub) == {
        "profile": "quick",
        "report_dir": str(tmp_path / "out" / "reports"),  # relative to the file, not the cwd
        "max_examples": 20,
        "fail_on": "warning",
        "checks": ["not_a_server_error"],
    }


def test_pyproject_without_the_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.asr-conformance]\nprofile = "thorough"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    assert load_defaults(inner) == {"profile": "thorough"}


def test_dedicated_file_wins_in_the_same_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.asr-conformance]\nprofile = "thorough"\n')
    (tmp_path / "asr-conformance.toml").write_text('profile = "quick"\nexpectations = "ci/exp.toml"\n')
    path, _ = find_config(tmp_path) or (None, None)
    assert path == tmp_path / "asr-conformance.toml"
    assert load_defaults(tmp_path) == {"profile": "quick", "expectations": str(tmp_path / "ci" / "exp.toml")}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('token = "hf_x"\n', "token_env"),
        ("profile = \n", "not valid TOML"),
        ("[headers]\nx = 1\n", "must be a string, number, boolean or a list"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "asr-conformance.toml").write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_defaults(tmp_path)
