"""The GitHub Action (action.yml) and its example workflow, run by examples/github-actions/run_locally.py in
a throwaway server repository: its own server script and expectations, asr-conformance installed by the
action's install step from a freshly built wheel into a clean venv, and no file of this checkout on PATH,
PYTHONPATH or the working directory (only the action itself, as GitHub checks it out at action_path).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "github-actions"

SERVER = '''"""The server under test: a stand-in built on the faithful mock (your server goes here)."""
import asyncio
import os

from asr_conformance.mock_server import MockConfig, start_server


async def main() -> None:
    bugs = tuple(b for b in os.environ.get("SERVER_BUG", "").split(",") if b)
    config = MockConfig(max_body_bytes=int(os.environ["ASR_MAX_BODY_BYTES"]), violate=bugs)
    _, url = await start_server(config, host="127.0.0.1", port=int(os.environ["ASR_PORT"]))
    print("serving", url, flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def python_bin(tmp_path_factory: pytest.TempPathFactory, built_wheel: Path) -> tuple[Path, Path]:
    """A clean venv (with pip, as setup-python gives) whose dependencies come from this venv, and a wheel."""
    base = tmp_path_factory.mktemp("ci")
    wheel = built_wheel
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin", wheel


def server_repository(tmp_path: Path) -> Path:
    repo = tmp_path / "my-asr-server"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(EXAMPLE / "asr-conformance.yml", repo / ".github" / "workflows" / "asr-conformance.yml")
    (repo / "server.py").write_text(SERVER)
    (repo / "ci").mkdir()
    (repo / "ci" / "asr-expectations.toml").write_text("# a faithful server: nothing expected to fail\n")
    return repo


def run_workflow(tmp_path: Path, python_bin: tuple[Path, Path], *env: str):
    bindir, wheel = python_bin
    repo, port, artifacts = server_repository(tmp_path), free_port(), tmp_path / "artifacts"
    args = [
        "--workspace",
        str(repo),
        "--workflow",
        str(repo / ".github" / "workflows" / "asr-conformance.yml"),
        "--python-bin",
        str(bindir),
        f"--artifacts={artifacts}",
        f"--env=ASR_PORT={port}",
        f"--with=package={wheel}",
        "--with=pip-args=--no-deps --no-index",
    ]
    args += [f"--env={item}" for item in env]
    clean = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    clean["PATH"] = os.pathsep.join(
        p for p in clean.get("PATH", "").split(os.pathsep) if p and not Path(p).is_relative_to(ROOT)
    )
    proc = subprocess.run(
        [str(bindir / "python"), str(EXAMPLE / "run_locally.py"), *args],
        cwd=repo,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc, port, repo / "asr-conformance-reports", artifacts


@pytest.mark.slow
def test_action_in_a_server_repository(tmp_path: Path, python_bin: tuple[Path, Path]) -> None:
    proc, port, reports, artifacts = run_workflow(tmp_path, python_bin)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "-- ASR conformance: the asr-conformance action" in out
    assert "-- actions/checkout@v4: skipped locally" in out
    assert "expectations: every check behaved as expected" in out
    summary = out.split("== step summary ==", 1)[1]
    assert summary.strip().startswith("## ASR conformance: ✅")
    assert "| `body_limit_enforced` | warning | 1 |" in summary  # args: --max-body-bytes reached the run
    assert (reports / "summary.md").read_text() in summary
    uploaded = artifacts / "asr-conformance-reports"
    assert {p.name for p in uploaded.iterdir()} >= {"junit.xml", "events.jsonl", "summary.md", "report.html"}
    assert port_is_closed(port)  # the action's "Stop the server" step (and the runner's cleanup) ended it
    assert not (tmp_path / "my-asr-server" / ".hypothesis").exists()


@pytest.mark.slow
def test_action_gates_a_regression_and_still_reports(tmp_path: Path, python_bin: tuple[Path, Path]) -> None:
    proc, port, reports, artifacts = run_workflow(tmp_path, python_bin, "SERVER_BUG=text-not-string")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "regression: response_schema_conformance [error] expected PASS, got FAIL" in out
    # the always() steps ran after the failing one: summary written, reports uploaded, server stopped
    assert "## ASR conformance: ❌" in out.split("== step summary ==", 1)[1]
    assert (artifacts / "asr-conformance-reports" / "report.html").exists()
    assert (reports / "events.jsonl").exists()
    assert port_is_closed(port)
