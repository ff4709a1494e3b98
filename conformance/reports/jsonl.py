"""JSON Lines report: the event stream itself, one event per line (header, cases, footer).

Lines are flushed as they are written, so an interrupted run still leaves every finished case on disk,
and the file re-renders every other report (``asr-conformance report events.jsonl``).

Audio makes up nearly all of a run's bytes (a ``default`` run against the mock sends about 70 MB), so
request bodies over :data:`ELIDE_ABOVE` bytes are left out of cases where nothing failed or errored:
``body_b64`` is empty, ``body_elided`` is true, ``body_size`` and ``body_sha256`` stay. Such a body is
still reproducible: the case's recipe (``meta.case``) renders it again byte for byte. Cases that failed
keep every body, so the failing examples re-render exactly; ``--record`` keeps everything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.model import CaseFinished, Event, Outcome, event_to_json
from conformance.reports.tally import redact

ELIDE_ABOVE = 16 * 1024


def _elide_bodies(data: dict[str, Any]) -> None:
    for exchange in data["exchanges"]:
        request = exchange["request"]
        size = (len(request["body_b64"]) * 3) // 4 - request["body_b64"][-2:].count("=")
        if size > ELIDE_ABOVE:
            request.update(body_b64="", body_elided=True, body_size=size)


class JsonlWriter:
    """Writes ``events.jsonl``; each line is ``event_to_json(event)`` (large passing bodies elided)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh = self.path.open("w", encoding="utf-8")

    def handle(self, event: Event) -> None:
        data = event_to_json(event)
        if isinstance(event, CaseFinished) and not any(
            r.outcome in (Outcome.FAIL, Outcome.ERROR) for r in event.results
        ):
            _elide_bodies(data)
        # base64 bodies cannot contain the token patterns, so redacting the whole line is safe
        self._fh.write(redact(json.dumps(data, ensure_ascii=False)) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


__all__ = ["ELIDE_ABOVE", "JsonlWriter"]
