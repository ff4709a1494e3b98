"""``asr-conformance update-expectations`` and ``asr-conformance report``: work on a finished run's events."""

from __future__ import annotations

from pathlib import Path

import click

from asr_conformance.conformance.model import Severity
from asr_conformance.conformance.reports import FORMATS, read_events, write_reports
from asr_conformance.conformance.reports import expectations as exp
from asr_conformance.conformance.reports.markdown import render
from asr_conformance.conformance.reports.tally import RunTally, tally_events

_EVENTS = click.Path(exists=True, dir_okay=False, path_type=Path)


def _load_tally(path: Path) -> RunTally:
    try:
        return tally_events(read_events(path))
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"{path}: not an events.jsonl file written by asr-conformance ({exc})"
        raise click.ClickException(msg) from exc


@click.command("update-expectations")
@click.option(
    "--from",
    "sources",
    type=_EVENTS,
    multiple=True,
    required=True,
    help="events.jsonl of a run; repeat to merge runs (passed in one, failed in another: intermittent).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Expectations file to write (TOML; JSON if it ends in .json). Issue links already in it are kept.",
)
@click.option("--issue", default="", help="Issue link for entries this adds.")
def update_expectations(sources: tuple[Path, ...], out: Path, issue: str) -> None:
    """Write the expectations that make these runs pass, so CI gates on regressions only."""
    tallies = [_load_tally(p) for p in sources]
    try:
        previous = exp.load(out) if out.exists() else None
    except exp.ExpectationsError as exc:
        raise click.ClickException(str(exc)) from exc
    target = next((t.stamp()["target"] for t in tallies if t.started), "")
    updated = exp.update([exp.verdicts(t) for t in tallies], previous, target=target, issue=issue)
    exp.dump(updated, out)
    listed = ", ".join(f"{c}={'|'.join(sorted(e.expected))}" for c, e in updated.checks.items()) or "none"
    click.echo(f"wrote {out}: {len(updated.checks)} known deviation(s): {listed}")


@click.command("report")
@click.argument("events_file", type=_EVENTS)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the reports (default: next to EVENTS_FILE).",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice([f for f in FORMATS if f != "jsonl"]),
    multiple=True,
    help="Formats to render (default: junit, markdown, html).",
)
@click.option(
    "--expectations",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Judge the run against an expectations file; exit 1 only on regressions.",
)
@click.option("--fail-on", type=click.Choice([s.value for s in Severity]), default="error", show_default=True)
def report(
    events_file: Path,
    report_dir: Path | None,
    formats: tuple[str, ...],
    expectations: Path | None,
    fail_on: str,
) -> None:
    """Re-render the reports of a finished run from its events.jsonl and print its summary."""
    tally = _load_tally(events_file)  # validates the whole file before anything is written
    chosen = formats or tuple(f for f in FORMATS if f != "jsonl")  # never overwrite the source
    write_reports(read_events(events_file), report_dir or events_file.parent, chosen)
    click.echo(render(tally))
    if expectations is not None:
        try:
            result = exp.gate(expectations, tally, fail_on)
        except exp.ExpectationsError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(result.render())
        raise SystemExit(result.exit_code)
    failing = tally.failing(Severity(fail_on))
    raise SystemExit(1 if failing else 0)


__all__ = ["report", "update_expectations"]
