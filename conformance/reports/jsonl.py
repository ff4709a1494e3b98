"""JSON Lines report: the event stream itself, one event per line (header, cases, footer).

Lines are flushed as they are written, so an interrupted run still leaves every finished case on disk,
and the file re-renders every other report (``asr-conformance report events.jsonl``).

Audio makes up nearly all of a run's bytes (a ``default`` run against the mock sends about 70 MB), so
request bodies over :data:`ELIDE_ABOVE` bytes are cut down in cases where nothing failed or errored:
a JSON body keeps every key with ``inputs`` emptied, any other body its first :data:`KEEP_PREFIX`
bytes; ``body_elided`` is true and ``body_size`` / ``body_sha256`` describe the body that was sent.
Every report re-renders the same from such a file (examples come only from failed cases, which keep
their bodies; coverage needs only the keys), and the body itself is reproducible: the case's recipe
(``meta.case``) renders it again byte for byte. ``--record`` keeps everything.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from asr_conformance.conformance.model import CaseFinished, Event, Outcome, event_to_json
from asr_conformance.conformance.reports.tally import redact

ELIDE_ABOVE = 16 * 1024
KEEP_PREFIX = 64


def _cut(body: bytes) -> bytes:
    """What an elided body keeps: its JSON keys (``inputs`` emptied), or a prefix telling audio from JSON."""
    if body[:1] == b"{":
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("inputs"), str):
            return json.dumps({**data, "inputs": ""}, separators=(",", ":")).encode()
        if data is not None:
            return body  # JSON without string inputs: nothing large to drop without losing its shape
    return body[:KEEP_PREFIX]


def _elide_bodies(event: CaseFinished, data: dict[str, Any]) -> None:
    for exchange, out in zip(event.exchanges, data["exchanges"], strict=True):
        body = exchange.request.body
        if len(body) > ELIDE_ABOVE:
            kept = _cut(body)
            out["request"].update(
                body_b64=base64.b64encode(kept).decode(), body_elided=True, body_size=len(body)
            )


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
            _elide_bodies(event, data)
        # base64 bodies cannot contain the token patterns, so redacting the whole line is safe
        self._fh.write(redact(json.dumps(data, ensure_ascii=False)) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


__all__ = ["ELIDE_ABOVE", "KEEP_PREFIX", "JsonlWriter"]
