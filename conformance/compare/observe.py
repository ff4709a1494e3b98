"""What one exchange shows on the dimensions compared across targets (WER: ``conformance.transcripts``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asr_conformance.conformance.model import Exchange

DIMENSIONS = ("status", "error_shape", "schema", "chunks")


#: Tells whether a JSON body is valid for a schema name ("response" or "error").
SchemaCheck = Callable[[str, Any], bool]


@dataclass(frozen=True)
class Observation:
    """What one exchange showed, on the dimensions compared across targets."""

    status: str
    error_shape: str | None = None
    schema: str | None = None  # "valid" | "invalid" | None (no body to judge)
    chunks: str | None = None  # "present" | "absent" | None (not a success)
    text: str | None = None  # the transcript of a success

    def value(self, dimension: str) -> str | None:
        return getattr(self, dimension)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def error_shape(body: Any, raw: bytes) -> str:
    """The shape of an error body: the API puts a string, or a list of strings, under ``error``."""
    if body is None:
        return "not JSON" if raw else "empty body"
    if not isinstance(body, dict) or "error" not in body:
        return "no error key"
    err = body["error"]
    if isinstance(err, str):
        return "error: string"
    if isinstance(err, list) and all(isinstance(e, str) for e in err):
        return "error: list"
    return f"error: {type(err).__name__}"


def observe(exchange: Exchange, schema_ok: SchemaCheck) -> Observation:
    """Reduce one exchange to the compared dimensions."""
    resp = exchange.response
    if resp is None:
        return Observation(status="transport error")
    try:
        body: Any = json.loads(resp.body) if resp.body else None
    except ValueError:
        body = None
    cls = status_class(resp.status)
    if resp.status < 400:
        if body is None:
            return Observation(status=cls, schema="invalid" if resp.status == 200 else None)
        has_chunks = isinstance(body, dict) and "chunks" in body
        text = body.get("text") if isinstance(body, dict) and isinstance(body.get("text"), str) else None
        return Observation(
            status=cls,
            schema="valid" if schema_ok("response", body) else "invalid",
            chunks="present" if has_chunks else "absent",
            text=text,
        )
    shape = error_shape(body, resp.body)
    schema = None if body is None else ("valid" if schema_ok("error", body) else "invalid")
    return Observation(status=cls, error_shape=shape, schema=schema)


def spec_schema_check(view: str) -> SchemaCheck:
    """``schema_ok(name, body)`` from the spec's validators in ``view``."""
    from asr_conformance import spec

    def schema_ok(name: str, body: Any) -> bool:
        return bool(spec.validator(name, view=view).is_valid(body))

    return schema_ok
