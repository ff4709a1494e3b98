"""Run the example workflow's steps on this machine, the way a GitHub runner would.

    .venv/bin/python examples/github-actions/run_locally.py [--env ASR_PORT=18080] [--artifacts DIR]

What it does, step by step, in the repository root:

* ``run:`` steps go through ``bash --noprofile --norc -eo pipefail`` (GitHub's shell) with the job's
  ``env``, ``$GITHUB_ENV`` (lines it appends become environment for later steps), ``$GITHUB_STEP_SUMMARY``
  and the ``.venv/bin`` of this checkout first on ``PATH``;
* after a failed step, only steps with ``if: always()`` run, as on GitHub;
* ``actions/upload-artifact`` is emulated: its ``path`` must exist and is copied to ``--artifacts``;
  other ``uses:`` steps (checkout, setup-python) and the steps listed in :data:`SKIP_LOCALLY` are skipped,
  since this checkout and its virtual environment already are what they set up;
* every step runs in its own process group, and any process a step left behind (the server under test)
  is stopped at the end, whatever happened.

Exit status: 0 when every step that ran succeeded, 1 otherwise. The step summary is printed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORKFLOW = HERE / "asr-conformance.yml"

_ENV_EXPR = re.compile(r"\$\{\{\s*env\.(\w+)\s*\}\}")

#: step id -> why it does not run here
SKIP_LOCALLY = {"install": "this checkout's .venv already has asr-conformance and the audio tools"}


def _job(workflow: dict[str, Any]) -> dict[str, Any]:
    jobs = workflow.get("jobs") or {}
    if len(jobs) != 1:
        raise SystemExit(f"{WORKFLOW.name}: expected exactly one job, found {len(jobs)}")
    return next(iter(jobs.values()))


def _read_github_env(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (the single-line form of GitHub's environment file)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            name, value = line.split("=", 1)
            out[name.strip()] = value
    return out


def _stop_group(pgid: int) -> None:
    """Stop what a step left running in its process group: TERM, then KILL after 5 s."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def _expand(value: Any, env: dict[str, str]) -> str:
    """Substitute ``${{ env.NAME }}`` expressions, the only ones the example's ``with:`` blocks use."""
    return _ENV_EXPR.sub(lambda m: env.get(m.group(1), ""), str(value))


def _upload(step: dict[str, Any], env: dict[str, str], artifacts: Path) -> int:
    source = ROOT / _expand(step.get("with", {}).get("path", ""), env)
    name = _expand(step.get("with", {}).get("name", "artifact"), env)
    if not source.exists():
        print(f"  upload-artifact: {source} does not exist", flush=True)
        return 1
    dest = artifacts / name
    shutil.rmtree(dest, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, dest)
    else:
        dest.mkdir(parents=True)
        shutil.copy2(source, dest)
    print(f"  upload-artifact: copied {source} to {dest}", flush=True)
    return 0


def run(overrides: dict[str, str], artifacts: Path) -> int:
    job = _job(yaml.safe_load(WORKFLOW.read_text()))
    work = Path(tempfile.mkdtemp(prefix="gha-local-"))
    summary, github_env = work / "step_summary.md", work / "github_env"
    summary.touch()
    github_env.touch()
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in (job.get("env") or {}).items()})
    env.update(overrides)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(CI="true", GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(ROOT), RUNNER_TEMP=str(work))
    env.update(GITHUB_STEP_SUMMARY=str(summary), GITHUB_ENV=str(github_env))
    failed = False
    groups: list[int] = []
    try:
        for number, step in enumerate(job["steps"], 1):
            label = step.get("name") or step.get("uses") or step.get("id") or f"step {number}"
            always = "always()" in str(step.get("if", ""))
            if failed and not always:
                print(f"-- {label}: skipped (an earlier step failed)", flush=True)
                continue
            if step.get("id") in SKIP_LOCALLY:
                print(f"-- {label}: skipped locally ({SKIP_LOCALLY[step['id']]})", flush=True)
                continue
            uses = str(step.get("uses", ""))
            if uses.startswith("actions/upload-artifact"):
                print(f"-- {label}", flush=True)
                failed |= _upload(step, env, artifacts) != 0
                continue
            if uses:
                print(f"-- {label}: skipped locally (this checkout is the result of {uses})", flush=True)
                continue
            print(f"-- {label}", flush=True)
            proc = subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=ROOT,
                env={**env, **_read_github_env(github_env)},
                start_new_session=True,  # its own process group: what it leaves behind is stopped later
            )
            groups.append(proc.pid)
            code = proc.wait()
            if code != 0:
                print(f"   exit status {code}", flush=True)
                failed |= not step.get("continue-on-error", False)
    finally:
        for pgid in groups:
            _stop_group(pgid)
    print("\n== step summary ==\n" + summary.read_text(), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="override job env")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "reports" / "artifacts")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--env wants NAME=VALUE, not {item!r}")
        overrides[name] = value
    return run(overrides, args.artifacts)


if __name__ == "__main__":
    sys.exit(main())
