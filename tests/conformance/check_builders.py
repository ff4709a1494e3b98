"""Hand-built cases and exchanges for judging checks without a server (shared by the check tests)."""

from __future__ import annotations

import base64
import json
from typing import Any

from asr_conformance.conformance.cases import AudioRecipe, CaseSpec
from asr_conformance.conformance.checks import CheckContext, get, run_checks
from asr_conformance.conformance.model import CheckResult, Exchange, Request, Response
from asr_conformance.conformance.target import TargetInfo

RECIPE = AudioRecipe(
    codec="wav", sample_rate=16000, channels=1, sample_format="s16", duration_s=2.0, kind="tone"
)
#: Stands in for audio: the checks read the request's form, never decode its audio.
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)
SHA = "569a6236e92bd5f7652a0420bfe9bb94c5664080"
SUCCESS_HEADERS = (
    ("Content-Type", "application/json"),
    ("x-compute-time", "0.012"),
    ("x-compute-type", "cpu"),
    ("x-request-id", "abc123"),
    ("x-sha", SHA),
    ("x-compute-audio-length", "2.0"),
)
ERROR_HEADERS = (("Content-Type", "application/json"), ("x-request-id", "err123"))
MOCK = TargetInfo(name="mock:test", model_url="http://127.0.0.1:1/models/m", is_mock=True)
REAL = TargetInfo(name="http://example.test/models/m", model_url="http://example.test/models/m")


def raw_request(headers: tuple[tuple[str, str], ...] = (), body: bytes = AUDIO) -> Request:
    return Request("POST", "", headers, body)


def json_request(
    parameters: dict[str, Any] | None = None, headers: tuple[tuple[str, str], ...] = ()
) -> Request:
    payload: dict[str, Any] = {"inputs": base64.b64encode(AUDIO).decode()}
    if parameters is not None:
        payload["parameters"] = parameters
    return Request("POST", "", (("Content-Type", "application/json"), *headers), json.dumps(payload).encode())


def ok(
    body: Any = None, headers: tuple[tuple[str, str], ...] = SUCCESS_HEADERS, elapsed: float = 0.01
) -> Response:
    payload = {"text": "hello world"} if body is None else body
    return Response(200, headers, json.dumps(payload).encode(), elapsed)


def err(status: int, body: Any = None, headers: tuple[tuple[str, str], ...] = ERROR_HEADERS) -> Response:
    payload = {"error": "Malformed soundfile"} if body is None else body
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Response(status, headers, raw, 0.01)


def chunked(chunks: list[Any], text: str | None = None) -> Response:
    joined = "".join(c["text"] for c in chunks if isinstance(c, dict) and isinstance(c.get("text"), str))
    return ok({"text": joined if text is None else text, "chunks": chunks})


def case(kind: str = "positive", **overrides: Any) -> CaseSpec:
    fields: dict[str, Any] = {
        "id": "case-1",
        "phase": "examples",
        "kind": kind,
        "form": "raw",
        "audio": RECIPE,
        "expected_duration_s": 2.0,
    }
    fields.update(overrides)
    return CaseSpec(**fields)


def context(
    spec_case: CaseSpec,
    *pairs: tuple[Request, Response | None],
    target: TargetInfo = MOCK,
    view: str = "served",
) -> CheckContext:
    exchanges = tuple(
        Exchange(req, resp, None if resp is not None else "connection reset") for req, resp in pairs
    )
    return CheckContext(case=spec_case, exchanges=exchanges, target=target, view=view)


def judge(check_id: str, ctx: CheckContext) -> CheckResult | None:
    """The check's verdict, or ``None`` when it does not apply."""
    results = run_checks(ctx, [get(check_id)])
    return results[0] if results else None
