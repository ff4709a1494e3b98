"""Run a workflow that uses the asr-conformance action on this machine, the way a GitHub runner would.

    python run_locally.py --workspace SERVER_REPO [--workflow FILE] [--python-bin DIR] [--env NAME=VALUE]
                          [--artifacts DIR] [--with NAME=VALUE]

What it does, in ``--workspace`` (the server's repository, the job's working directory):

* the workflow's one job runs step by step; a ``uses:`` of the asr-conformance action (any ``uses`` that
  names a repository called ``asr-conformance``, or ``./``) is expanded into the composite steps of the
  ``action.yml`` next to this folder, with its inputs (``with:``, ``--with`` overrides, then the defaults);
* ``run:`` steps go through ``bash --noprofile --norc -eo pipefail`` (GitHub's shell) with the job's ``env``,
  the step's ``env``, ``$GITHUB_ENV`` (lines appended become environment for later steps),
  ``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY`` and ``$RUNNER_TEMP``; ``--python-bin`` goes first on ``PATH``
  (what ``actions/setup-python`` does);
* ``${{ env.X }}``, ``${{ inputs.x }}``, ``${{ github.action_path }}`` / ``action_repository`` /
  ``action_ref`` and ``${{ steps.ID.outputs.X }}`` are substituted; ``if:`` understands ``always()``,
  ``inputs.x != ''`` and ``&&``; after a failed step only ``always()`` steps run, as on GitHub;
* ``actions/upload-artifact`` copies its ``path`` to ``--artifacts``; other ``uses:`` (checkout,
  setup-python) are skipped: the workspace and ``--python-bin`` are what they set up;
* each step runs in its own process group, and what a step left behind (the server) is stopped at the end.

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
ACTION = HERE.parents[1] / "action.yml"
WORKFLOW = HERE / "asr-conformance.yml"
_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


class Context:
    """What expressions see: env, inputs, the action's github.* values and step outputs."""

    def __init__(self, env: dict[str, str], inputs: dict[str, str], github: dict[str, str]) -> None:
        self.env, self.inputs, self.github = env, inputs, github
        self.outputs: dict[str, dict[str, str]] = {}

    def value(self, expr: str) -> str:
        scope, _, name = expr.strip().partition(".")
        if scope == "env":
            return self.env.get(name, "")
        if scope == "inputs":
            return self.inputs.get(name, "")
        if scope == "github":
            return self.github.get(name, "")
        if scope == "steps":
            step, _, output = name.partition(".outputs.")
            return self.outputs.get(step, {}).get(output, "")
        raise SystemExit(f"run_locally: unsupported expression {expr!r}")

    def expand(self, text: Any) -> str:
        return _EXPR.sub(lambda m: self.value(m.group(1)), str(text))

    def condition(self, raw: Any, failed: bool) -> bool:
        """``if:`` as GitHub reads it, for the forms the action and the example use."""
        text = _EXPR.sub(lambda m: m.group(1), str(raw or "")).strip()
        if not text:
            return not failed
        ok, always = True, False
        for part in (p.strip() for p in text.split("&&")):
            if part == "always()":
                always = True
            elif m := re.fullmatch(r"([\w.-]+)\s*(==|!=)\s*'([^']*)'", part):
                equal = self.value(m.group(1)) == m.group(3)
                ok &= equal if m.group(2) == "==" else not equal
            else:
                raise SystemExit(f"run_locally: unsupported condition {part!r}")
        return ok and (always or not failed)


def _job(workflow: dict[str, Any], path: Path) -> dict[str, Any]:
    jobs = workflow.get("jobs") or {}
    if len(jobs) != 1:
        raise SystemExit(f"{path.name}: expected exactly one job, found {len(jobs)}")
    return next(iter(jobs.values()))


def _read_kv(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (the single-line form of GitHub's environment and output files)."""
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


def _is_our_action(uses: str) -> bool:
    return uses in (".", "./") or uses.split("@", 1)[0].rstrip("/").endswith("/asr-conformance")


def _action_steps(step: dict[str, Any], ctx: Context, overrides: dict[str, str]) -> tuple[list, Context]:
    """The composite steps of action.yml and the context they run in (its inputs resolved)."""
    action = yaml.safe_load(ACTION.read_text())
    given = {k: ctx.expand(v) for k, v in (step.get("with") or {}).items()}
    inputs = {}
    for name, spec in (action.get("inputs") or {}).items():
        inputs[name] = overrides.get(name, given.get(name, str((spec or {}).get("default", ""))))
        if (spec or {}).get("required") and not inputs[name]:
            raise SystemExit(f"run_locally: input {name!r} is required")
    unknown = set(given) - set(inputs)
    if unknown:
        raise SystemExit(f"run_locally: unknown input(s) {sorted(unknown)} for {step['uses']}")
    ref = step["uses"].partition("@")[2]
    github = {"action_path": str(ACTION.parent), "action_repository": "asr-conformance/asr-conformance"}
    inner = Context(ctx.env, inputs, {**github, "action_ref": ref})
    return action["runs"]["steps"], inner


class Runner:
    """One job's steps in a workspace, with GitHub's files for env, outputs and the summary."""

    def __init__(self, workspace: Path, env: dict[str, str], artifacts: Path) -> None:
        self.workspace, self.artifacts = workspace, artifacts
        self.temp = Path(tempfile.mkdtemp(prefix="gha-local-"))
        self.summary, self.github_env = self.temp / "step_summary.md", self.temp / "github_env"
        self.summary.touch()
        self.github_env.touch()
        self.base_env = {**env, "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace)}
        self.base_env.update(RUNNER_TEMP=str(self.temp), GITHUB_STEP_SUMMARY=str(self.summary))
        self.base_env["GITHUB_ENV"] = str(self.github_env)
        self.failed = False
        self.groups: list[int] = []

    def env(self) -> dict[str, str]:
        return {**self.base_env, **_read_kv(self.github_env)}

    def upload(self, step: dict[str, Any], ctx: Context) -> int:
        source = self.workspace / ctx.expand(step.get("with", {}).get("path", ""))
        dest = self.artifacts / ctx.expand(step.get("with", {}).get("name", "artifact"))
        if not source.exists():
            print(f"  upload-artifact: {source} does not exist", flush=True)
            return 1
        shutil.rmtree(dest, ignore_errors=True)
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            dest.mkdir(parents=True)
            shutil.copy2(source, dest)
        print(f"  upload-artifact: copied {source} to {dest}", flush=True)
        return 0

    def shell(self, step: dict[str, Any], ctx: Context) -> int:
        output = self.temp / f"output-{len(self.groups)}"
        output.touch()
        step_env = {k: ctx.expand(v) for k, v in (step.get("env") or {}).items()}
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", ctx.expand(step["run"])],
            cwd=self.workspace,
            env={**self.env(), **step_env, "GITHUB_OUTPUT": str(output)},
            start_new_session=True,  # its own process group: what it leaves behind is stopped later
        )
        self.groups.append(proc.pid)
        code = proc.wait()
        if step.get("id"):
            ctx.outputs[step["id"]] = _read_kv(output)
        return code

    def steps(self, steps: list[dict[str, Any]], ctx: Context, overrides: dict[str, str]) -> None:
        for number, step in enumerate(steps, 1):
            label = step.get("name") or step.get("uses") or step.get("id") or f"step {number}"
            ctx.env = self.env()
            if not ctx.condition(step.get("if"), self.failed):
                print(f"-- {label}: skipped (if: {step.get('if') or 'success()'})", flush=True)
                continue
            uses = str(step.get("uses", ""))
            if _is_our_action(uses):
                print(f"-- {label}: the asr-conformance action", flush=True)
                inner_steps, inner = _action_steps(step, ctx, overrides)
                self.steps(inner_steps, inner, overrides)
                continue
            if uses.startswith("actions/upload-artifact"):
                print(f"-- {label}", flush=True)
                self.failed |= self.upload(step, ctx) != 0
                continue
            if uses:
                print(f"-- {label}: skipped locally (the workspace is the result of {uses})", flush=True)
                continue
            print(f"-- {label}", flush=True)
            code = self.shell(step, ctx)
            if code != 0:
                print(f"   exit status {code}", flush=True)
                self.failed |= not step.get("continue-on-error", False)

    def close(self) -> None:
        for pgid in self.groups:
            _stop_group(pgid)
        print("\n== step summary ==\n" + self.summary.read_text(), flush=True)
        shutil.rmtree(self.temp, ignore_errors=True)


def run(
    workflow: Path,
    workspace: Path,
    env: dict[str, str],
    overrides: dict[str, str],
    artifacts: Path,
    inputs: dict[str, str],
) -> int:
    """Run the workflow's job in ``workspace``; ``overrides`` win over the job's ``env``."""
    job = _job(yaml.safe_load(workflow.read_text()), workflow)
    runner = Runner(workspace.resolve(), env, artifacts.resolve())
    ctx = Context({}, {}, {})
    runner.base_env.update({str(k): ctx.expand(v) for k, v in (job.get("env") or {}).items()})
    runner.base_env.update(overrides)
    try:
        runner.steps(job["steps"], ctx, inputs)
    finally:
        runner.close()
    return 1 if runner.failed else 0


def _pairs(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"wants NAME=VALUE, not {item!r}")
        out[name] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=Path.cwd(), help="the server's repository")
    parser.add_argument("--workflow", type=Path, default=WORKFLOW)
    parser.add_argument("--python-bin", type=Path, help="put first on PATH (what setup-python does)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="override job env")
    parser.add_argument("--with", dest="inputs", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--artifacts", type=Path, default=None, help="default: WORKSPACE/.artifacts")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.python_bin:
        env["PATH"] = f"{args.python_bin}{os.pathsep}{env.get('PATH', '')}"
    artifacts = args.artifacts or args.workspace / ".artifacts"
    overrides, inputs = _pairs(parser, args.env), _pairs(parser, args.inputs)
    return run(args.workflow, args.workspace, env, overrides, artifacts, inputs)


if __name__ == "__main__":
    sys.exit(main())
