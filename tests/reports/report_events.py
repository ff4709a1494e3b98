"""A realistic event stream built from the model (real WAV bodies, response bodies shaped like the service's).

Used where no live run is wanted: writer unit tests and the HTML screenshot script.
"""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import wave

from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Event,
    Exchange,
    Failure,
    Outcome,
    Repro,
    Request,
    Response,
    RunFinished,
    RunStarted,
    Severity,
)

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "chunks_only_when_asked",
    "timestamps_numeric",
    "negative_data_rejection",
    "loading_shape",
)
JSON_HEADERS = (("content-type", "application/json"),)


def wav_bytes(seconds: float = 0.25, rate: int = 16000, freq: float = 440.0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(
            b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n))
        )
    return buf.getvalue()


def json_request(audio: bytes, parameters: dict | None = None) -> Request:
    payload: dict = {"inputs": base64.b64encode(audio).decode()}
    if parameters is not None:
        payload["parameters"] = parameters
    return Request("POST", "", JSON_HEADERS, json.dumps(payload).encode())


def raw_request(audio: bytes, headers: tuple[tuple[str, str], ...] = ()) -> Request:
    return Request("POST", "", (("content-type", "audio/wav"), *headers), audio)


def response(status: int, body: object, headers: tuple[tuple[str, str], ...] = JSON_HEADERS) -> Response:
    return Response(status, headers, json.dumps(body).encode(), 0.042)


def _result(check: str, case: str, outcome: Outcome, *failures: Failure, msg: str = "") -> CheckResult:
    sev = Severity.WARNING if check == "chunks_only_when_asked" else Severity.ERROR
    return CheckResult(check, case, outcome, sev, failures, msg)


def _passes(case: str, *checks: str) -> tuple[CheckResult, ...]:
    return tuple(_result(c, case, Outcome.PASS) for c in checks)


def _repro(case: str, ext: str = "wav") -> Repro:
    return Repro(
        curl=(
            "curl -sS -X POST http://127.0.0.1:8080/models/openai/whisper-large-v3 "
            "-H 'Authorization: Bearer ***' -H 'Content-Type: application/json' "
            f"--data-binary @case-{case}.{ext}"
        ),
        seed=1234,
        replay_id=case,
        body_file=f"case-{case}.{ext}",
    )


def sample_events(failing: bool = True, finished: bool = True) -> list[Event]:
    """A run with passing, failing, erroring and skipped checks (``failing=False``: all conform)."""
    audio = wav_bytes()
    events: list[Event] = [
        RunStarted(
            run_id="run-20261126-1",
            suite_version="0.1.0",
            spec_view="served",
            upstream_commit="242f4a1e",
            target="http://127.0.0.1:8080/models/openai/whisper-large-v3",
            profile="quick",
            seed=1234,
            started_at="2026-11-26T15:40:00Z",
            checks=CHECKS,
        )
    ]
    common = ("not_a_server_error", "status_code_conformance", "response_schema_conformance")
    ok = {"text": " A tone.", "chunks": [{"text": " A tone.", "timestamp": [0.0, 0.25]}]}
    plain = {"text": " A tone."}
    for i in range(6):
        cid = f"ex-{i:04d}"
        asks = i % 2 == 0
        body = ok if asks else (ok if failing and i == 3 else plain)
        req = json_request(audio, {"return_timestamps": True} if asks else None)
        results = [*_passes(cid, *common)]
        if not asks and failing and i == 3:
            f = Failure(
                "chunks_only_when_asked",
                "chunks sent unasked",
                "`chunks` present although return_timestamps was not requested",
                Severity.WARNING,
                cid,
                "documented",
                "payload:parameters.return_timestamps",
            )
            results.append(_result("chunks_only_when_asked", cid, Outcome.FAIL, f))
        else:
            results.append(_result("chunks_only_when_asked", cid, Outcome.PASS))
        events.append(
            CaseFinished(
                cid,
                "examples",
                "positive",
                "json wav 16000 Hz mono s16 0.25 s tone",
                None,
                (Exchange(req, response(200, body)),),
                tuple(results),
                _repro(cid),
                {"parameters": {"return_timestamps": asks}},
            )
        )
    # a null chunk end: error-severity schema failure
    cid = "cov-0007"
    req = json_request(audio, {"return_timestamps": True})
    body = {"text": " A tone.", "chunks": [{"text": " A tone.", "timestamp": [0.0, None]}]} if failing else ok
    results = [*_passes(cid, "not_a_server_error", "status_code_conformance")]
    if failing:
        f1 = Failure(
            "timestamps_numeric",
            "chunk end is null",
            "chunks[0].timestamp[1] is null (known upstream: "
            "transformers leaves the last end open when audio is cut)",
            Severity.ERROR,
            cid,
            "official-schema",
            "body:chunks.timestamp",
        )
        f2 = Failure(
            "response_schema_conformance",
            "response does not match the schema",
            "chunks/0/timestamp/1: None is not of type 'number'",
            Severity.ERROR,
            cid,
            "official-schema",
            "body:chunks.timestamp",
        )
        results += [
            _result("timestamps_numeric", cid, Outcome.FAIL, f1),
            _result("response_schema_conformance", cid, Outcome.FAIL, f2),
        ]
    else:
        results += _passes(cid, "timestamps_numeric", "response_schema_conformance")
    events.append(
        CaseFinished(
            cid,
            "coverage",
            "positive",
            "json wav 16000 Hz mono s16 0.25 s tone, timestamps",
            None,
            (Exchange(req, response(200, body)),),
            tuple(results),
            _repro(cid),
            {},
        )
    )
    # negative: top_k as a string must be rejected with 400 {"error": ...}
    for j, path in enumerate(("parameters.generation_parameters.top_k", "parameters.return_timestamps")):
        cid = f"neg-{j:04d}"
        params = {"generation_parameters": {"top_k": "three"}} if j == 0 else {"return_timestamps": "yes"}
        req = json_request(audio, params)
        accepted = failing and j == 1
        resp = (
            response(200, plain)
            if accepted
            else response(400, {"error": [f"Error in `{path}`: Input should be a valid integer"]})
        )
        if accepted:
            f = Failure(
                "negative_data_rejection",
                "invalid value accepted",
                f"{path}: string instead of boolean was accepted with 200",
                Severity.ERROR,
                cid,
                "documented",
                f"payload:{path}",
            )
            res = _result("negative_data_rejection", cid, Outcome.FAIL, f)
        else:
            res = _result("negative_data_rejection", cid, Outcome.PASS)
        events.append(
            CaseFinished(
                cid,
                "coverage",
                "negative",
                "json wav 16000 Hz mono s16 0.25 s tone",
                f"{path}: string instead of {'integer' if j == 0 else 'boolean'}",
                (Exchange(req, resp),),
                (*_passes(cid, "not_a_server_error"), res),
                _repro(cid),
                {"mutated_path": path},
            )
        )
    # the target broke on one case (connection reset): ERROR, not FAIL
    cid = "fz-0001"
    req = raw_request(wav_bytes(0.1, 8000))
    exch = (
        Exchange(req, None, "ServerDisconnectedError: connection reset by peer")
        if failing
        else Exchange(req, response(200, plain))
    )
    outcome = Outcome.ERROR if failing else Outcome.PASS
    events.append(
        CaseFinished(
            cid,
            "fuzz",
            "positive",
            "raw wav 8000 Hz mono s16 0.10 s tone",
            None,
            (exch,),
            (_result("not_a_server_error", cid, outcome, msg="connection reset by peer" if failing else ""),),
            _repro(cid),
            {},
        )
    )
    # loading cannot be provoked on a plain URL: SKIP "not exercised"
    cid = "proto-loading"
    events.append(
        CaseFinished(
            cid,
            "probe",
            "protocol",
            "loading scenario",
            None,
            (),
            (
                _result(
                    "loading_shape", cid, Outcome.SKIP, msg="not exercised: target does not expose /__mock"
                ),
            ),
            None,
            {"protocol": "loading"},
        )
    )
    if finished:
        events.append(
            RunFinished(
                "run-20261126-1",
                "2026-11-26T15:40:03Z",
                3.2,
                len(events) - 1,
                {"pass": 20, "fail": 4 if failing else 0},
                ("chunks_only_when_asked",),
                1,
            )
        )
    return events
