"""``--checks ID…``: send only the cases that can feed the chosen checks.

Whether a check applies is decided on the exchanges, so each case is tried on a stand-in: the request as
its form would carry it (the JSON payload without audio, or a raw body's Content-Type) answered once with a
faithful success (chunks only when timestamps were asked for) and once with an error. A case any chosen
check applies to, either way, is kept; a check that cannot decide (it raises) keeps the case too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.checks.base import Check, CheckContext
from asr_conformance.conformance.checks.reading import timestamps_level
from asr_conformance.conformance.generation.audio import MIME
from asr_conformance.conformance.model import Exchange, Request, Response
from asr_conformance.conformance.target import TargetInfo

_JSON = (("content-type", "application/json"),)
_CHUNKS = Response(200, _JSON, b'{"text": "a b", "chunks": [{"text": "a b", "timestamp": [0.0, 1.0]}]}', 0.0)
_TEXT = Response(200, _JSON, b'{"text": "a b"}', 0.0)
_ERROR = Response(400, _JSON, b'{"error": "bad request"}', 0.0)


def _stand_in(case: CaseSpec) -> Request:
    if case.form == "json":
        payload = (
            case.raw_json if case.raw_json is not None else {"inputs": "", "parameters": case.parameters}
        )
        if payload.get("parameters") is None and case.raw_json is None:
            payload = {"inputs": ""}
        return Request("POST", "", (*case.headers, *_JSON), json.dumps(payload, default=str).encode())
    ctype = case.meta.get("content_type", "auto")  # as the renderer labels a raw body
    if ctype == "auto":
        ctype = (
            MIME[case.audio.codec]
            if case.audio is not None and not case.malformed
            else "application/octet-stream"
        )
    headers = () if ctype == "@missing" else (("Content-Type", ctype),)
    return Request("POST", "", (*headers, *case.headers), b"RIFF")


def feeds(case: CaseSpec, checks: Sequence[Check], info: TargetInfo) -> bool:
    """True when some check in ``checks`` may judge ``case``."""
    request = _stand_in(case)
    n = 2 if case.protocol else 1  # protocol scenarios send several requests
    # A faithful answer carries chunks only when timestamps were asked for (in any spelling).
    success = _TEXT if timestamps_level(request) == "none" else _CHUNKS
    for response in (success, _ERROR):
        ctx = CheckContext(case=case, exchanges=(Exchange(request, response),) * n, target=info)
        for chk in checks:
            try:
                if chk.applies(ctx):
                    return True
            except Exception:  # undecidable on a stand-in: keep the case
                return True
    return False


def feeding(cases: Sequence[CaseSpec], checks: Sequence[Check], info: TargetInfo) -> list[CaseSpec]:
    """The cases that may feed ``checks`` (in plan order)."""
    return [c for c in cases if feeds(c, checks, info)]


__all__ = ["feeding", "feeds"]
