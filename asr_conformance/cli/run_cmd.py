"""``asr-conformance run`` and ``asr-conformance replay``: the suite from the command line.

Flags override ``[tool.asr-conformance]`` (pyproject.toml) or ``asr-conformance.toml`` defaults. Exit
status: 0 when nothing at or above ``--fail-on`` failed, 1 when something did (or, with
``--expectations``, when something regressed), 2 for usage errors and targets that cannot be judged, 3
when nothing failed but the run stopped early (``--max-requests`` spent), 130 when interrupted.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from asr_conformance.cli.interrupts import EXIT_INTERRUPTED, stop_on_signals
from asr_conformance.cli.options import parse_headers, token_from_env
from asr_conformance.cli.progress import Progress
from asr_conformance.conformance.model import Event, RunStarted

BUILTIN: dict[str, Any] = {
    "profile": "default",
    "spec": "served",
    "fail_on": "error",
    "workers": 16,
    "request_timeout": 60.0,
    "ready_timeout": 120.0,
}


def _split_ids(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(i.strip() for v in values for i in v.split(",") if i.strip())


def _defaults() -> dict[str, Any]:
    from asr_conformance.conformance.settings import SettingsError, load_defaults

    try:
        return load_defaults()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


def _pick(flag: Any, settings: dict[str, Any], key: str) -> Any:
    """The flag if given, else the project setting, else the built-in default."""
    if flag not in (None, ()):
        return flag
    return settings.get(key, BUILTIN.get(key))


def _plain() -> bool:
    """No live status line: output that is not a terminal (CI logs, pipes, files)."""
    return not sys.stdout.isatty()


def _color() -> bool:
    """NO_COLOR (https://no-color.org) removes colour and nothing else."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--target", help="Model URL, 'mock' (default: the mock in this process) or cassette:PATH.")
@click.option("--token-env", metavar="VAR", help="Environment variable holding the bearer token.")
@click.option(
    "-H", "--header", "headers", multiple=True, metavar="'Name: value'", help="Extra header (repeatable)."
)
@click.option(
    "--profile", type=click.Choice(["quick", "default", "thorough"]), help="Run size (default: default)."
)
@click.option("--seed", type=int, help="Seed for generation (random and printed when not given).")
@click.option(
    "--max-examples", type=click.IntRange(min=0), help="Fuzz cases (the profile's count otherwise)."
)
@click.option(
    "--spec", "spec_view", type=click.Choice(["served", "documented"]), help="Spec view to judge by."
)
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), help="Write reports here.")
@click.option(
    "--fail-on", type=click.Choice(["error", "warning"]), help="Lowest severity that fails the run."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Most cases in flight at once (default 16; fewer while the target is slow).",
)
@click.option("--request-timeout", type=click.FloatRange(min=0.1), help="Seconds per request (default 60).")
@click.option(
    "--ready-timeout",
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for a target that is loading its model (default 120).",
)
@click.option("--checks", "checks", multiple=True, help="Only these check ids (comma-separated, repeatable).")
@click.option("--exclude-checks", multiple=True, help="Leave these check ids out.")
@click.option("--include-legacy", is_flag=True, default=None, help="Also run checks of legacy behaviour.")
@click.option(
    "--model-must-match",
    is_flag=True,
    default=None,
    help="The target serves named models: an unknown model id must get 404 (error, not a warning).",
)
@click.option("--dry-run", is_flag=True, help="Show the planned cases; send nothing.")
@click.option("--max-requests", type=click.IntRange(min=1), help="Request budget (retries included).")
@click.option(
    "--max-body-bytes", type=click.IntRange(min=1), help="The target's body limit (enables 413 checks)."
)
@click.option(
    "--mock-violate", multiple=True, metavar="NAME", help="Start the in-process mock with this violation."
)
@click.option(
    "--record", type=click.Path(file_okay=False, path_type=Path), help="Record a cassette into DIR."
)
@click.option(
    "--record-mode",
    type=click.Choice(["all", "once", "new_episodes", "none"]),
    help="As VCR.py's: all (default) re-records; once replays an existing cassette; new_episodes reuses "
    "recorded answers and records the rest; none only replays.",
)
@click.option(
    "--expectations", type=click.Path(dir_okay=False, path_type=Path), help="Gate on regressions only."
)
def run(**opts: Any) -> None:
    """Run the conformance suite against a target and print a summary."""
    settings = _defaults()
    config = _build_config(opts, settings)
    if opts["dry_run"]:
        _dry_run(config)
        return
    expectations = opts["expectations"] or (
        Path(settings["expectations"]) if settings.get("expectations") else None
    )
    record_mode = _pick(opts["record_mode"], settings, "record_mode") or "all"
    loaded = _load_expectations(expectations) if expectations is not None else None
    sys.exit(asyncio.run(_run(config, expectations, _plain(), record_mode, loaded)))


def _load_expectations(path: Path) -> Any:
    """The expectations file, checked before anything is sent: a bad file or an unknown id is exit 2."""
    from asr_conformance.conformance.reports.expectations import ExpectationsError, load, unknown_ids

    try:
        loaded = load(path)
    except ExpectationsError as exc:
        raise click.BadParameter(str(exc), param_hint="--expectations") from exc
    unknown = unknown_ids(loaded)
    if unknown:
        raise click.BadParameter(
            f"{path}: unknown check id(s) {', '.join(unknown)} (see `asr-conformance checks list`)",
            param_hint="--expectations",
        )
    return loaded


def _build_config(opts: dict[str, Any], settings: dict[str, Any]) -> Any:
    from asr_conformance.conformance.engine.config import RunConfig

    token_env = _pick(opts["token_env"], settings, "token_env")
    target = _pick(opts["target"], settings, "target")
    violate = tuple(opts["mock_violate"])
    if violate:
        from asr_conformance.mock_server.violations import VIOLATIONS

        unknown = [v for v in violate if v not in VIOLATIONS]
        if unknown:
            raise click.BadParameter(f"unknown violation(s) {unknown}", param_hint="--mock-violate")
        if target not in (None, "mock"):
            raise click.UsageError("--mock-violate applies only to the in-process mock (no --target)")
    checks = _split_ids(opts["checks"]) or tuple(settings.get("checks", ())) or None
    exclude = _split_ids(opts["exclude_checks"]) or tuple(settings.get("exclude_checks", ()))
    config = RunConfig(
        target=target,
        token=token_from_env(token_env),
        token_env=token_env,
        headers=parse_headers(tuple(opts["headers"]) or tuple(settings.get("headers", ()))),
        profile=_pick(opts["profile"], settings, "profile"),
        seed=_pick(opts["seed"], settings, "seed"),
        max_examples=_pick(opts["max_examples"], settings, "max_examples"),
        spec_view=_pick(opts["spec_view"], settings, "spec"),
        fail_on=_pick(opts["fail_on"], settings, "fail_on"),
        checks=checks,
        exclude_checks=exclude,
        workers=_pick(opts["workers"], settings, "workers"),
        request_timeout=_pick(opts["request_timeout"], settings, "request_timeout"),
        ready_timeout_s=_pick(opts["ready_timeout"], settings, "ready_timeout"),
        max_requests=_pick(opts["max_requests"], settings, "max_requests"),
        dry_run=opts["dry_run"],
        report_dir=_path(_pick(opts["report_dir"], settings, "report_dir")),
        include_legacy=bool(_pick(opts["include_legacy"], settings, "include_legacy")),
        model_must_match=bool(_pick(opts["model_must_match"], settings, "model_must_match")),
        max_body_bytes=_pick(opts["max_body_bytes"], settings, "max_body_bytes"),
        mock_violate=violate,
        record=_path(_pick(opts["record"], settings, "record")),
    )
    from asr_conformance.conformance.engine.config import selected_checks

    try:
        selected_checks(config)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--checks/--exclude-checks") from exc
    return config


def _path(value: Any) -> Path | None:
    return Path(value) if value else None


def _dry_run(config: Any) -> None:
    from asr_conformance.conformance.engine.config import offline_info, plan

    info = offline_info(config)
    cases = plan(replace(config, seed=config.seed or 0), info)
    for case in cases:
        from asr_conformance.conformance.engine.execute import describe

        click.echo(f"{case.id:10} {case.phase:9} {case.kind:22} {describe(case)}")
    from asr_conformance.conformance.engine.behaviour_phase import planned
    from asr_conformance.conformance.engine.config import selected_checks

    only = f", only those feeding {', '.join(config.checks)}" if config.checks else ""
    # the live total (RunStarted.planned) counts them too; what they send depends on the answers
    known = planned(config.profile, selected_checks(config))
    also = f"; plus {known} behaviour cases if the target hears speech" if known else ""
    seed = config.seed or 0
    click.echo(f"{len(cases)} cases planned for {info.name} (seed {seed}{only}{also}); nothing sent")


async def _run(
    config: Any, expectations: Path | None, plain: bool, record_mode: str = "all", loaded: Any = None
) -> int:
    from asr_conformance.conformance.engine.config import open_for
    from asr_conformance.conformance.engine.probe import TargetUnreachable
    from asr_conformance.conformance.engine.runner import run as run_suite
    from asr_conformance.conformance.reports import open_writers
    from asr_conformance.conformance.reports.tally import RunTally
    from asr_conformance.conformance.targets.factory import TargetError

    try:
        from asr_conformance.conformance.record.cassette import apply_record_mode

        secrets = (config.token,) if config.token else ()
        target, recording, notes = await apply_record_mode(
            await open_for(config), config.record, record_mode, secrets, seed=config.seed
        )
    except (TargetError, OSError, ValueError) as exc:  # a CassetteError is a ValueError
        click.echo(f"error: {exc}", err=True)
        return 2
    for note in notes:
        click.echo(note, err=True)
    if config.seed is None and getattr(target, "recorded_seed", None) is not None:  # new_episodes
        config = replace(config, seed=target.recorded_seed)
    progress = Progress(plain, color=_color())
    tally = RunTally()
    writers: list[Any] = open_writers(config.report_dir) if config.report_dir else []
    for tallied in (tally, *(getattr(w, "tally", None) for w in writers)):
        if tallied is not None:  # expected failures show as expected in every report, not as ❌
            tallied.expectations = loaded
    listeners: list[Callable[[Event], None]] = [tally.add, progress.handle, *(w.handle for w in writers)]

    def on_event(event: Event) -> None:
        if isinstance(event, RunStarted) and recording is not None and not recording.replays:
            from asr_conformance.conformance.record.cassette import CassetteRecorder

            recorder = CassetteRecorder(
                config.record, event, target_info=target.info, secrets=(config.token,) if config.token else ()
            )
            writers.append(recorder)
            listeners.append(recorder.handle)
        for listen in listeners:
            listen(event)

    try:
        with stop_on_signals(lambda: tally.started is not None) as stop:
            finished = await run_suite(config, on_event, target=target, stop=stop, notify=_note)
    except TargetUnreachable as exc:
        progress.close()
        click.echo(f"error: {exc}", err=True)
        return 2
    except asyncio.CancelledError:  # a second signal, or one before the run started
        return _interrupted(tally, progress)
    finally:
        progress.close()
        await target.close()
        for writer in writers:
            writer.close()
    _print_summary(tally)
    if config.report_dir:
        click.echo(f"reports: {config.report_dir}/")
    for writer in writers:
        if hasattr(writer, "bodies"):  # the cassette recorder
            click.echo(f"cassette: {writer.path} (+ {writer.bodies.path.name}, {writer.size() / 1e6:.1f} MB)")
    if expectations is not None:
        from asr_conformance.conformance.reports.expectations import gate

        result = gate(expectations, tally, config.fail_on)
        click.echo(result.render())
        # An incomplete run is never a clean pass, whatever the expectations say.
        return result.exit_code or (finished.exit_code if finished.stopped else 0)
    return finished.exit_code


def _note(line: str) -> None:
    click.echo(line, err=True)


def _interrupted(tally: Any, progress: Progress) -> int:
    progress.close()
    click.echo(f"interrupted after {tally.cases} judged cases; the reports cover them", err=True)
    return EXIT_INTERRUPTED


def _print_summary(tally: Any) -> None:
    """Plain text on every output (a repro command is one line, never wrapped); colour on the headline
    only where the terminal has colour."""
    from asr_conformance.conformance.reports.text import render_text

    headline, _, rest = render_text(tally).partition("\n")
    failing = headline.split(": ", 1)[-1].startswith("❌")
    click.echo(click.style(headline, fg="red" if failing else "green", bold=True) if _color() else headline)
    click.echo(rest)


__all__ = ["run"]
