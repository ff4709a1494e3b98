"""Reading exchanges the way every check needs: JSON bodies, request form, what the request asked for.

Facts are read from the exchange itself (the request as built, the response as received) rather than
from the case, so that the same checks judge generated cases, recorded real exchanges and replays alike.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from asr_conformance.conformance.checks.base import CheckContext
from asr_conformance.conformance.model import Exchange, Request, Response

#: Case kinds whose requests are invalid and must be rejected with a 4xx.
REJECT_KINDS = frozenset({"negative", "malformed_audio"})

_NOT_JSON = object()


def is_json_media(content_type: str | None) -> bool:
    """``application/json`` or any ``+json`` type, parameters ignored."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


@lru_cache(maxsize=32)  # bodies are hashed once (bytes cache their hash); keep few alive
def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # also UnicodeDecodeError
        return _NOT_JSON


def forget_parsed() -> None:
    """Drop the parse cache: a long-lived judge of ever-new bodies (the proxy) calls it after each
    exchange, so no body outlives its judging."""
    _parse.cache_clear()


def response_json(response: Response | None) -> tuple[bool, Any]:
    """``(True, value)`` when the response body is JSON, else ``(False, None)``."""
    if response is None or not response.body:
        return False, None
    value = _parse(response.body)
    return (False, None) if value is _NOT_JSON else (True, value)


def request_json(request: Request) -> dict[str, Any] | None:
    """The request body as a JSON object (the JSON form), or ``None`` for raw audio and anything else."""
    body = request.body.lstrip()
    if not body.startswith(b"{"):  # raw audio never starts with "{": skip parsing megabytes of it
        return None
    value = _parse(request.body)
    return value if isinstance(value, dict) else None


def request_form(request: Request) -> str:
    """``"json"`` when the body is a JSON object carrying ``inputs``, else ``"raw"``."""
    payload = request_json(request)
    return "json" if payload is not None and "inputs" in payload else "raw"


def asks_timestamps(request: Request) -> bool:
    """True when the request asked for timestamps (``parameters.return_timestamps: true``)."""
    payload = request_json(request) or {}
    params = payload.get("parameters")
    return isinstance(params, dict) and params.get("return_timestamps") is True


def timestamps_level(request: Request) -> str:
    """What the request asked of timestamps, read only within the ``must_accept`` domain.

    ``"none"``: not asked (raw audio, no ``parameters``, ``return_timestamps`` absent or ``false``);
    ``"segment"``: ``return_timestamps: true`` (the documented boolean); ``"other"``: anything else
    (``"word"``, ``"char"``, ``1``, ``"true"``, a ``parameters`` that is not an object ...), whose
    meaning is the server's to choose, so no check may hold the answer to "none" or "segment".
    """
    payload = request_json(request)
    if payload is None or "parameters" not in payload:
        return "none"
    params = payload["parameters"]
    if not isinstance(params, dict):
        return "other"
    value = params.get("return_timestamps", False)
    if value is False:
        return "none"
    return "segment" if value is True else "other"


def header_true(value: str | None) -> bool:
    """Header booleans as clients send them: ``true`` / ``1`` (case-insensitive)."""
    return value is not None and value.strip().lower() in {"true", "1"}


def answered(ctx: CheckContext) -> list[tuple[int, Exchange, Response]]:
    """``(index, exchange, response)`` for every exchange that got a response."""
    return [(i, ex, ex.response) for i, ex in enumerate(ctx.exchanges) if ex.response is not None]


def successes(ctx: CheckContext) -> list[tuple[int, Exchange, Any]]:
    """``(index, exchange, body)`` for every 200 answer whose body is a JSON object."""
    found = []
    for i, ex, resp in answered(ctx):
        if resp.status != 200:
            continue
        ok, body = response_json(resp)
        if ok and isinstance(body, dict):
            found.append((i, ex, body))
    return found


def expects_rejection(ctx: CheckContext) -> bool:
    """The case is invalid and must be refused (a truncated file may decode in part: ``expect: either``)."""
    return ctx.case.kind in REJECT_KINDS and ctx.case.meta.get("expect", "reject") == "reject"


def where(ctx: CheckContext, index: int) -> str:
    """Names an exchange in messages when a case has several."""
    return f"exchange {index + 1}: " if len(ctx.exchanges) > 1 else ""


def short(value: Any, limit: int = 120) -> str:
    """A value for a message, cut to ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def body_excerpt(response: Response, limit: int = 120) -> str:
    return short(response.body.decode("utf-8", "replace"), limit)


__all__ = [
    "REJECT_KINDS",
    "answered",
    "asks_timestamps",
    "body_excerpt",
    "expects_rejection",
    "forget_parsed",
    "header_true",
    "is_json_media",
    "request_form",
    "request_json",
    "response_json",
    "short",
    "successes",
    "timestamps_level",
    "where",
]
