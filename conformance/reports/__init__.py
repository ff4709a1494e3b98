"""Report writers over a run's event stream: JUnit XML, JSON Lines, Markdown summary, one HTML page.

Every writer has the same two methods (:class:`ReportWriter`); the runner feeds each event to every writer
as it happens and closes them at the end, so a report never needs a second pass over the run::

    writers = open_writers(Path("reports/mock"))          # junit, jsonl, markdown, html
    for event in run_events:
        for w in writers:
            w.handle(event)
    for w in writers:
        w.close()

Writer modules are imported on demand, so ``import asr_conformance.conformance.reports`` stays cheap.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from asr_conformance.conformance.model import Event, event_from_json


class ReportWriter(Protocol):
    """Consumes events one at a time; writes its file(s) no later than :meth:`close`."""

    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...


#: format name -> (module:class, file name in the report dir)
FORMATS: dict[str, tuple[str, str]] = {
    "junit": ("asr_conformance.conformance.reports.junit:JUnitWriter", "junit.xml"),
    "jsonl": ("asr_conformance.conformance.reports.jsonl:JsonlWriter", "events.jsonl"),
    "markdown": ("asr_conformance.conformance.reports.markdown:MarkdownWriter", "summary.md"),
    "html": ("asr_conformance.conformance.reports.html:HtmlWriter", "report.html"),
}
DEFAULT_FORMATS: tuple[str, ...] = tuple(FORMATS)


def _writer_class(fmt: str) -> type:
    target, _ = FORMATS[fmt]
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def open_writers(report_dir: Path, formats: Sequence[str] | None = None) -> list[ReportWriter]:
    """One writer per format (all four by default), each writing ``report_dir/<its file name>``."""
    chosen = list(DEFAULT_FORMATS if formats is None else formats)
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; choose from {sorted(FORMATS)}")
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    return [_writer_class(fmt)(report_dir / FORMATS[fmt][1]) for fmt in dict.fromkeys(chosen)]


def write_reports(events: Iterable[Event], report_dir: Path, formats: Sequence[str] | None = None) -> None:
    """Feed a finished list of events through :func:`open_writers` (used to re-render an events file)."""
    writers = open_writers(report_dir, formats)
    try:
        for event in events:
            for writer in writers:
                writer.handle(event)
    finally:
        for writer in writers:
            writer.close()


def read_events(path: Path) -> Iterator[Event]:
    """The events of an ``events.jsonl`` file, in order (lines of unknown kind are passed over)."""
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: not JSON ({exc})") from exc
            if data.get("kind") in ("run_started", "case_finished", "run_finished"):
                yield event_from_json(data)


def render_summary(events: Iterable[Event]) -> str:
    """The run summary as Markdown: verdicts per check, failures with repro, spec coverage."""
    from asr_conformance.conformance.reports.markdown import render
    from asr_conformance.conformance.reports.tally import tally_events

    return render(tally_events(events))


__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "ReportWriter",
    "open_writers",
    "read_events",
    "render_summary",
    "write_reports",
]
