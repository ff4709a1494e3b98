"""What the validating proxy decides about one exchange: the client's violations, the checks' verdicts on
the answer, and whether a body is JSON too deep to hand to either (their parsers and the schema validator
recurse). Pure functions, run off the proxy's event loop."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.checks.base import CheckContext
from asr_conformance.conformance.checks.reading import request_form, request_json
from asr_conformance.conformance.checks.registry import run_checks, select
from asr_conformance.conformance.model import Exchange, Outcome, Request, Response
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.mock_server.request import MAX_JSON_DEPTH, json_depth

from asr_conformance import spec

#: Reported id of an ERROR verdict: the target broke (invalid JSON where JSON was due, reset, timeout).
TARGET_ERROR = "target_error"
#: Decompressed answers are judged up to this size; a bigger one (a compression bomb) is judged as it came.
MAX_DECODED = 256 * 1024 * 1024


@dataclass(frozen=True)
class Violation:
    """One finding on one proxied exchange."""

    check_id: str
    severity: str
    message: str
    spec_ref: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def request_violations(request: Request, view: str) -> list[Violation]:
    """The client's side: a JSON payload against the spec's request schema."""
    payload = request_json(request)
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if payload is None:
        if content_type == "application/json" and request.body:
            return [
                Violation(
                    "request:json",
                    "error",
                    "Content-Type is application/json but the body is not a JSON object",
                )
            ]
        return []  # raw audio: nothing to validate without decoding it
    validator = spec.validator("request", view=view)
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(map(str, e.absolute_path)))
    return [Violation("request:schema", "error", f"{_where(e.absolute_path)}: {e.message}") for e in errors]


def _where(path: Sequence[Any]) -> str:
    return "/".join(map(str, path)) or "payload"


def decoded(response: Response) -> Response:
    """The response with its body decompressed (gzip/deflate) for judging; the client gets the original."""
    encoding = (response.header("content-encoding") or "").strip().lower()
    if encoding not in {"gzip", "deflate"}:
        return response
    decoder = zlib.decompressobj(wbits=47)  # 32+15: gzip or zlib header, detected
    try:  # bounded: a compression bomb from upstream is judged as it came
        body = decoder.decompress(response.body, MAX_DECODED)
    except zlib.error:
        return response
    if decoder.unconsumed_tail:
        return response
    headers = tuple((k, v) for k, v in response.headers if k.lower() != "content-encoding")
    return Response(response.status, headers, body, response.elapsed_s)


def judge(
    exchange: Exchange, info: TargetInfo, view: str, checks: Sequence[Any] | None = None
) -> list[Violation]:
    """The suite's single-exchange checks on one exchange, as violations (FAIL and ERROR verdicts)."""
    case = CaseSpec(
        id="proxied",
        phase="proxy",
        kind="implementation_defined",
        form=request_form(exchange.request),  # type: ignore[arg-type]
        audio=None,
        parameters=_parameters(exchange.request),
        headers=tuple((k, v) for k, v in exchange.request.headers if k.lower().startswith("x-")),
    )
    response = decoded(exchange.response) if exchange.response is not None else None
    ctx = CheckContext(
        case=case,
        exchanges=(Exchange(exchange.request, response, exchange.transport_error),),
        target=info,
        view=view,
    )
    selected = list(checks) if checks is not None else list(select())
    found: list[Violation] = []
    errors: set[str] = set()
    for result in run_checks(ctx, selected):
        if result.outcome == Outcome.FAIL:
            found += [Violation(f.check_id, str(f.severity), f.message, f.spec_ref) for f in result.failures]
        elif result.outcome == Outcome.ERROR and result.message not in errors:
            # One broken answer (invalid JSON in a 200, say) errors every check alike: report it once, as
            # the target's error rather than under whichever check happened to run first.
            errors.add(result.message)
            check_id = result.check_id if result.message.startswith("check crashed") else TARGET_ERROR
            found.append(Violation(check_id, "error", result.message))
    return found


def _parameters(request: Request) -> dict[str, Any] | None:
    params = (request_json(request) or {}).get("parameters")
    return params if isinstance(params, dict) else None


def header_value(violations: Sequence[Violation]) -> str:
    """``N`` or ``N; id, id``: the count, then the distinct check ids in order of appearance."""
    if not violations:
        return "0"
    ids = list(dict.fromkeys(v.check_id for v in violations))
    return f"{len(violations)}; {', '.join(ids)}"


def too_deep(body: bytes) -> bool:
    """True when ``body`` is JSON nested deeper than ``MAX_JSON_DEPTH`` (or too deep to parse at all)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False  # cannot nest deeper than it has brackets: almost every body stops here
    try:  # orjson does not recurse (it refuses past 1,024 levels); json takes what orjson refuses
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            value = json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False  # not JSON: the checks' parser says so without recursing
    return json_depth(value) > MAX_JSON_DEPTH


__all__ = [
    "MAX_JSON_DEPTH",
    "TARGET_ERROR",
    "Violation",
    "decoded",
    "header_value",
    "judge",
    "request_violations",
    "too_deep",
]
