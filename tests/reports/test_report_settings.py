"""Defaults from asr-conformance.toml or [tool.asr-conformance] in the nearest pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from asr_conformance.conformance.settings import KEYS, SettingsError, find_config, load_defaults


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
        ("[headers]\nx = 1\n", "headers must be a list of strings"),
        ('profile = "quik"\n', "profile: 'quik' is not one of quick, default, thorough"),
        ('workers = "many"\n', "workers must be an integer"),
        ("workers = 0\n", "workers: 0 is below the minimum 1"),
        ("include-legacy = 1\n", "include-legacy must be true or false"),
        ('profle = "quick"\n', "unknown key 'profle'"),
        ("request_timeout = true\n", "request_timeout must be a number"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "asr-conformance.toml").write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_defaults(tmp_path)


def test_values_come_out_as_the_flags_take_them(tmp_path: Path) -> None:
    (tmp_path / "asr-conformance.toml").write_text('checks = "a, b"\nrequest-timeout = 5\n')
    assert load_defaults(tmp_path) == {"checks": ["a", "b"], "request_timeout": 5.0}


def test_every_run_flag_has_a_key_and_back() -> None:
    from asr_conformance.cli.run_cmd import run

    not_settings = {"dry_run", "mock_violate"}  # one-off actions, not project defaults
    flags = {p.name for p in run.params if p.name} - not_settings
    flags = {"spec" if f == "spec_view" else f for f in flags}
    assert flags == set(KEYS), "add the new run flag to conformance/settings.py KEYS and the README"


@pytest.mark.parametrize(
    ("text", "key"), [('profile = "quik"\n', "profile"), ('workers = "many"\n', "workers"), ("x = 1\n", "x")]
)
def test_the_cli_exits_2_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "asr-conformance.toml").write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "asr_conformance", "run", "--dry-run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert key in proc.stderr and "Traceback" not in proc.stderr


def test_every_key_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Configuration file", 1)[1].split("\n## ", 1)[0]
    for key in KEYS:
        assert f"`{key.replace('_', '-')}`" in section, key
