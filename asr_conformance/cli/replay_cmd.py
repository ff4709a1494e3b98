"""``asr-conformance replay ID``: send one case of a previous run again and judge it afresh.

The case comes from the run's events.jsonl (REPORT_DIR/events.jsonl, or the newest REPORT_DIR/*/); the
target is ``--target``, else the one recorded in that file (said on stderr), else the in-process mock.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from asr_conformance.cli.options import parse_headers, token_from_env
from asr_conformance.cli.run_cmd import _defaults, _path, _pick
from asr_conformance.conformance.model import CaseFinished, Request, RunStarted


def find_case(events_path: Path, replay_id: str) -> tuple[CaseFinished, dict[str, Any], list[Request]]:
    """The case with this replay id in an events file: its event, its case JSON and its exact requests."""
    from asr_conformance.conformance.reports import read_events

    for event in read_events(events_path):
        if not isinstance(event, CaseFinished):
            continue
        shrunk = event.meta.get("shrunk")
        if shrunk and shrunk["case"]["id"] == replay_id:
            return event, shrunk["case"], [Request.from_json(r) for r in shrunk["requests"]]
        if event.meta.get("case", {}).get("id") == replay_id or event.case_id == replay_id:
            return event, event.meta["case"], [e.request for e in event.exchanges]
    raise click.UsageError(f"no case with replay id {replay_id!r} in {events_path}")


def _events_file(report_dir: Path) -> Path:
    """The run's events: REPORT_DIR/events.jsonl, else the newest of REPORT_DIR/*/events.jsonl."""
    if (report_dir / "events.jsonl").is_file():
        return report_dir / "events.jsonl"
    found = [p for p in report_dir.glob("*/events.jsonl") if p.is_file()]
    if found:
        return max(found, key=lambda p: p.stat().st_mtime)  # the latest run, never the alphabetical first
    raise click.UsageError(f"no events.jsonl in {report_dir} (pass the --report-dir of the run)")


def _recorded_target(events_path: Path) -> str | None:
    """The target the run in ``events_path`` was against (None: the in-process mock)."""
    from asr_conformance.conformance.reports import read_events

    for event in read_events(events_path):
        if isinstance(event, RunStarted):
            return event.target if event.target.startswith(("http://", "https://")) else None
    return None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("replay_id")
@click.option("--target", help="Model URL or 'mock' (default: the target recorded in events.jsonl).")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), help="The run's report dir.")
@click.option("--token-env", metavar="VAR", help="Environment variable holding the bearer token.")
@click.option(
    "-H", "--header", "headers", multiple=True, metavar="'Name: value'", help="Extra header (repeatable)."
)
@click.option(
    "--spec", "spec_view", type=click.Choice(["served", "documented"]), help="Spec view to judge by."
)
@click.option(
    "--mock-violate", multiple=True, metavar="NAME", help="Start the in-process mock with this violation."
)
def replay(**opts: Any) -> None:
    """Re-send the case REPLAY_ID from a previous run's events.jsonl and re-run its checks."""
    settings = _defaults()
    report_dir = _path(_pick(opts["report_dir"], settings, "report_dir")) or Path("reports")
    events_path = _events_file(report_dir)
    _, case_json, requests = find_case(events_path, opts["replay_id"])
    target = _pick(opts["target"], settings, "target")
    if target is None and (recorded := _recorded_target(events_path)) is not None:
        target = recorded
        click.echo(f"replaying against the recorded target {recorded} (--target to send elsewhere)", err=True)
    from asr_conformance.conformance.engine.config import RunConfig
    from asr_conformance.conformance.generation.caseio import case_from_json

    token_env = _pick(opts["token_env"], settings, "token_env")
    config = RunConfig(
        target=target,
        token=token_from_env(token_env),
        token_env=token_env,
        headers=parse_headers(tuple(opts["headers"])),
        spec_view=_pick(opts["spec_view"], settings, "spec"),
        mock_violate=tuple(opts["mock_violate"]),
    )
    sys.exit(asyncio.run(_replay(config, case_from_json(case_json), requests)))


async def _replay(config: Any, case: Any, requests: list[Request]) -> int:
    from asr_conformance.conformance.engine.budget import Budget
    from asr_conformance.conformance.engine.config import open_for
    from asr_conformance.conformance.engine.execute import judge, send_requests
    from asr_conformance.conformance.targets.factory import TargetError

    try:
        target = await open_for(config)
    except (TargetError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    try:
        exchanges = await send_requests(case, requests, target, config, Budget(None))
    finally:
        await target.close()
    finished = judge(case, exchanges, target.info, config)
    click.echo(f"replay {case.id} against {target.info.name}: {finished.description}")
    for ex in exchanges:
        got = ex.response.status if ex.response else f"transport error: {ex.transport_error}"
        click.echo(f"  {ex.request.method} {target.info.name}{ex.request.path} -> {got}")
    for result in finished.results:
        click.echo(f"  {result.outcome.upper():20} {result.check_id}")
        for failure in result.failures:
            click.echo(f"      [{failure.severity}] {failure.message}")
    if finished.repro:
        click.echo("repro:\n" + finished.repro.curl)
    from asr_conformance.conformance.engine.execute import exit_code

    return exit_code(finished.results, config.fail_on)


__all__ = ["find_case", "replay"]
