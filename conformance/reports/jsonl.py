"""JSON Lines report: the event stream itself, one event per line (header, cases, footer).

Lines are flushed as they are written, so an interrupted run still leaves every finished case on disk,
and the file re-renders every other report (``asr-conformance report events.jsonl``).
"""

from __future__ import annotations

import json
from pathlib import Path

from conformance.model import Event, event_to_json
from conformance.reports.tally import redact


class JsonlWriter:
    """Writes ``events.jsonl``; each line is ``event_to_json(event)``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh = self.path.open("w", encoding="utf-8")

    def handle(self, event: Event) -> None:
        # base64 bodies cannot contain the token patterns, so redacting the whole line is safe
        self._fh.write(redact(json.dumps(event_to_json(event), ensure_ascii=False)) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


__all__ = ["JsonlWriter"]
