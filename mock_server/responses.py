"""What goes back on the wire: the real service's error bodies, success bodies, response headers.

Bodies reproduce the recordings: 503 ``{"error": "Model <id> is currently loading", "estimated_time": S}``,
400 ``{"error": "Malformed soundfile"}``, 401 ``{"error": "Invalid username or password."}`` (with
``X-Error-Message`` and ``WWW-Authenticate``), 429 rate limit, 500 ``{"error": "unknown error",
"warnings": ["There was an inference error: ..."]}``. The violations that change the shape of bodies are
applied here, in one place.
"""

from __future__ import annotations

import json
import os
import re
from base64 import urlsafe_b64encode
from typing import Any

import orjson
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import Transcription

MALFORMED_SOUNDFILE = "Malformed soundfile"
UNAUTHORIZED = "Invalid username or password."
RATE_LIMITED = "Rate limit reached. Please log in or use a HF access token"
WWW_AUTHENTICATE = 'Bearer realm="Authentication required", charset="UTF-8"'

#: headers on every response of the model routes (as recorded from api-inference / hf-inference)
COMMON_HEADERS: dict[str, str] = {
    "server": "uvicorn",
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": "x-compute-type, x-compute-time",
    "vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
}

JSON_TYPE = "application/json"
_NOT_VISIBLE_ASCII = re.compile(r"[^\x21-\x7e]")


def loading_body(model_id: str, estimated_time: float, config: MockConfig) -> dict[str, Any]:
    body: dict[str, Any] = {"error": f"Model {model_id} is currently loading"}
    if not config.violates("loading-no-estimated-time"):
        body["estimated_time"] = float(estimated_time)
    return body


def inference_error_body(detail: str) -> dict[str, Any]:
    return {"error": "unknown error", "warnings": [f"There was an inference error: {detail}"]}


def short_id() -> str:
    """A 21-character id like the service's ``x-request-id`` / ``x-inference-id``."""
    return urlsafe_b64encode(os.urandom(16)).decode()[:21]


def request_id(trace_id: str | None, router: bool) -> str:
    """``Root=1-<time>-<random>;<client trace id>`` behind the router (as recorded), else a short id."""
    if router and trace_id:
        # only visible ASCII goes back in a header: undecodable bytes would fail the response's encoding
        trace = _NOT_VISIBLE_ASCII.sub("", trace_id[:100])
        return f"Root=1-{os.urandom(4).hex()}-{os.urandom(12).hex()};{trace}"
    return short_id()


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON, as the service writes it; never fails on what a request can carry."""
    try:
        return orjson.dumps(body)
    except TypeError:  # integers beyond 64 bits, lone surrogates (undecodable header bytes) echoed back
        # ASCII escapes: a lone surrogate becomes a valid ``\udcxx`` escape instead of an encode error
        return json.dumps(body, separators=(",", ":")).encode()


def error_payload(body: dict[str, Any], config: MockConfig) -> tuple[bytes, str]:
    """An error body and its content type, after the violations that change error shapes."""
    if config.violates("plain-text-errors"):
        message = body.get("error")
        text = message if isinstance(message, str) else json.dumps(message)
        return text.encode(), "text/plain; charset=utf-8"
    if config.violates("error-key-missing") and "error" in body:
        body = {("message" if k == "error" else k): v for k, v in body.items()}
    return dumps(body), JSON_TYPE


def success_body(result: Transcription, duration: float, config: MockConfig) -> dict[str, Any]:
    """``{"text", "chunks"?}`` in the configured view, with the body-shape violations applied."""
    body: dict[str, Any] = {}
    if not config.violates("text-missing"):
        body["text"] = result.text.split() if config.violates("text-not-string") else result.text
    if result.chunks is None or config.violates("no-chunks"):
        return body
    if config.violates("empty-timestamped-speech"):
        return {**body, "text": "", "chunks": []}
    plural = config.spec_view == "documented" or config.violates("plural-chunk-key")
    key = "timestamps" if plural else "timestamp"
    stamps: list[list[Any]] = [[c.start, c.end] for c in result.chunks]
    texts = [c.text for c in result.chunks]
    if stamps:
        stamps, texts = _break_chunks(stamps, texts, duration, config)
    body["chunks"] = [{"text": t, key: s} for t, s in zip(texts, stamps, strict=True)]
    return body


def _break_chunks(
    stamps: list[list[Any]], texts: list[str], duration: float, config: MockConfig
) -> tuple[list[list[Any]], list[str]]:
    if config.violates("timestamps-past-end"):
        stamps[-1][1] = round(duration + 1.5, 2)
    if config.violates("timestamps-decreasing"):
        if len(stamps) > 1:
            stamps = stamps[::-1]
        else:
            stamps[0] = [stamps[0][1], stamps[0][0]]
    if config.violates("timestamp-null-end"):
        stamps[-1][1] = None
    if config.violates("timestamps-strings"):
        stamps = [[None if v is None else f"{v:.2f}" for v in pair] for pair in stamps]
    if config.violates("chunk-text-mismatch"):
        texts = [*texts[:-1], texts[-1] + " extra"]
    return stamps, texts


__all__ = [
    "COMMON_HEADERS",
    "JSON_TYPE",
    "MALFORMED_SOUNDFILE",
    "RATE_LIMITED",
    "UNAUTHORIZED",
    "WWW_AUTHENTICATE",
    "dumps",
    "error_payload",
    "inference_error_body",
    "loading_body",
    "request_id",
    "short_id",
    "success_body",
]
