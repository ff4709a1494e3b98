"""Every ``--violate`` switch against real mock servers: the checks it names fire, the others stay quiet.

For each switch, small scenarios (the requests a generated case of that kind would send) go over HTTP
to two real servers on loopback: the faithful mock, where every check that judges a scenario must PASS,
and the mock with the switch on, where every check whose ``fired_by`` names the switch must FAIL in one
of the switch's scenarios and no other check may move. The full sweep through the runner and generator
is the runner's test.
"""

from __future__ import annotations

import atexit
import base64
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from asr_conformance.conformance.cases import AudioRecipe, CaseSpec
from asr_conformance.conformance.checks import CheckContext, all_checks, run_checks, select
from asr_conformance.conformance.generation.render import UNKNOWN_MODEL_SUFFIX
from asr_conformance.conformance.model import CheckResult, Exchange, Outcome, Request, Response
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.conformance.targets.canary import Canary
from asr_conformance.mock_server.audio import encode
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer
from asr_conformance.mock_server.violations import VIOLATIONS

SECONDS = 4.0
TOKEN = "test-token-not-a-secret"
LOADING = ("x-mock-fault", "loading")
NO_CACHE = ("x-use-cache", "false")
TS = {"return_timestamps": True}


@cache
def audio(codec: str = "wav", rate: int = 16000, seconds: float = SECONDS) -> bytes:
    """A deterministic two-tone signal (not silence: the mock transcribes only what it hears)."""
    t = np.arange(int(rate * seconds)) / rate
    signal = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t)
    return encode(signal.astype(np.float32).reshape(-1, 1), rate, codec)


def recipe(codec: str = "wav", rate: int = 16000, seconds: float = SECONDS) -> AudioRecipe:
    return AudioRecipe(codec, rate, 1, "s16", seconds, "tone")


def raw(*headers: tuple[str, str], body: bytes | None = None) -> Request:
    return Request("POST", "", tuple(headers), audio() if body is None else body)


def as_json(
    parameters: dict[str, Any] | None = None, *headers: tuple[str, str], body: bytes | None = None
) -> Request:
    payload: dict[str, Any] = {"inputs": base64.b64encode(audio() if body is None else body).decode()}
    if parameters is not None:
        payload["parameters"] = parameters
    return Request("POST", "", (("Content-Type", "application/json"), *headers), json.dumps(payload).encode())


@dataclass(frozen=True)
class Scenario:
    case: CaseSpec
    requests: tuple[Request, ...]
    config: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    router: bool = False


def case(kind: str, **kw: Any) -> CaseSpec:
    fields: dict[str, Any] = {
        "id": f"{kind}-{kw.get('protocol') or 'case'}",
        "phase": "examples",
        "kind": kind,
        "form": "raw",
        "audio": recipe(),
        "expected_duration_s": SECONDS,
        "duration_tolerance_s": 0.05,
    }
    fields.update(kw)
    return CaseSpec(**fields)


def positive_raw(**kw: Any) -> Scenario:
    return Scenario(case("positive"), (raw(),), **kw)


def timestamps(seconds: float = SECONDS) -> Scenario:
    body = audio(seconds=seconds)
    return Scenario(
        case("implementation_defined", form="json", parameters=TS, expected_duration_s=seconds),
        (as_json(TS, body=body),),
    )


def speech_timestamps() -> Scenario:
    """Timestamps asked for a case rendered as speech (the mock transcribes the tone it gets alike)."""
    scenario = timestamps()
    speech = replace(recipe(), kind="speech", text="testing one two three")
    return replace(scenario, case=replace(scenario.case, audio=speech))


def large_body(form: str = "raw") -> Scenario:
    """A valid body of about 1.5 MiB (16 s of 48 kHz mono WAV; 12 s as base64 JSON)."""
    seconds = 16.0 if form == "raw" else 12.0
    body = audio("wav", 48000, seconds)
    request = raw(("Content-Type", "audio/wav"), body=body) if form == "raw" else as_json(body=body)
    kw = {"audio": recipe("wav", 48000, seconds), "expected_duration_s": seconds, "form": form}
    return Scenario(case("positive", **kw), (request,))


def client(content_type: str, codec: str = "wav", form: str = "raw") -> Scenario:
    """A valid request with the Content-Type a real client sends."""
    meta = {"client": "test client", "content_type": content_type}
    body = audio(codec)
    if form == "json":
        request = replace(as_json(body=body), headers=(("Content-Type", content_type), ("Accept", "*/*")))
    else:
        request = raw(("Content-Type", content_type), ("Accept", "*/*"), body=body)
    return Scenario(case("positive", form=form, audio=recipe(codec), meta=meta), (request,))


@cache
def _canary() -> Canary:
    return Canary("127.0.0.1")


def dereference(kind: str) -> Scenario:
    """``inputs`` as a path this test wrote, or as a URL of a loopback canary."""
    if kind == "path":
        folder = tempfile.mkdtemp(prefix="asr-conformance-test-")
        atexit.register(shutil.rmtree, folder, True)  # no folder left in /tmp per test session
        path = Path(folder) / "speech.wav"
        path.write_bytes(audio())
        value, target = str(path), {}
    else:
        canary = _canary()
        token = f"t{time.monotonic_ns()}"
        value = canary.url(token)
        target = {"canary_url": canary.base_url, "canary_hits": canary.hits}
    meta = {"dereference": kind, "canary_token": token if kind == "url" else None}
    body = json.dumps({"inputs": value}).encode()
    request = Request("POST", "", (("Content-Type", "application/json"),), body)
    probe = case("negative", form="json", mutated_path="inputs", meta=meta, expected_duration_s=None)
    return Scenario(probe, (request,), target=target)


def unknown_model() -> Scenario:
    """A mock serving one model id, asked for another, on a run with --model-must-match."""
    request = replace(raw(), path=UNKNOWN_MODEL_SUFFIX)
    return Scenario(
        case("protocol", protocol="unknown_model"),
        (request,),
        config={"model_id": "test/model"},
        target={"model_must_match": True},
    )


def malformed() -> Scenario:
    return Scenario(
        case("malformed_audio", audio=None, malformed="random_bytes"), (raw(body=bytes(range(256)) * 8),)
    )


def loading(wait: str = "true") -> Scenario:
    return Scenario(
        case("protocol", protocol="loading"),
        (raw(LOADING), raw(LOADING, ("x-wait-for-model", wait))),
        target={"exposes_mock_controls": True},
    )


def cache_protocol() -> Scenario:
    return Scenario(case("protocol", protocol="cache"), (raw(), raw(), raw(NO_CACHE)))


def body_limit() -> Scenario:
    return Scenario(
        case("protocol", protocol="body_limit"),
        (raw(),),
        config={"max_body_bytes": 64_000},
        target={"max_body_bytes": 64_000},
    )


def forms() -> Scenario:
    return Scenario(case("protocol", protocol="forms"), (raw(), as_json()))


def invalid_params() -> Scenario:
    params = {"generation_parameters": {"top_k": "many"}}
    return Scenario(
        case(
            "negative",
            form="json",
            parameters=params,
            mutation="parameters.generation_parameters.top_k: string instead of integer",
            mutated_path="parameters.generation_parameters.top_k",
        ),
        (as_json(params),),
    )


def content_types() -> Scenario:
    return Scenario(
        case("protocol", protocol="content_type"),
        (raw(), raw(("Content-Type", "application/octet-stream")), raw(("Content-Type", "audio/wav"))),
    )


def auth_missing() -> Scenario:
    return Scenario(
        case("protocol", protocol="auth_missing"),
        (raw(),),
        config={"token": TOKEN},
        target={"has_token": True},
    )


def routed(make: Callable[[], Scenario]) -> Callable[[], Scenario]:
    """The same scenario sent to the router form of the model URL."""
    return lambda: replace(make(), router=True)


def positive_json() -> Scenario:
    return Scenario(case("positive", form="json"), (as_json(),))


MIME = {"wav": "audio/wav", "mp3": "audio/mpeg"}


def in_codec(codec: str, rate: int) -> Scenario:
    body = audio(codec, rate)
    return Scenario(
        case("positive", audio=recipe(codec, rate)), (raw(("Content-Type", MIME[codec]), body=body),)
    )


SCENARIOS: dict[str, tuple[Callable[[], Scenario], ...]] = {
    "plural-chunk-key": (timestamps,),
    "chunks-unasked": (positive_json,),
    "no-chunks": (timestamps,),
    "timestamps-past-end": (timestamps,),
    # several chunks come back reversed; a single chunk gets its start and end swapped
    "timestamps-decreasing": (timestamps, lambda: timestamps(seconds=1.0)),
    "timestamp-null-end": (timestamps,),
    "timestamps-strings": (timestamps,),
    "chunk-text-mismatch": (timestamps,),
    "empty-timestamped-speech": (speech_timestamps,),
    "audio-length-ms": (positive_raw, timestamps),
    "compute-time-not-number": (positive_raw,),
    "small-body-limit": (large_body, lambda: large_body("json")),
    "inputs-dereferenced": (lambda: dereference("path"), lambda: dereference("url")),
    "any-model-id": (unknown_model,),
    "strict-client-headers": (
        lambda: client("audio/x-wav"),
        lambda: client("audio/mp3", "mp3"),
        lambda: client("application/json; charset=utf-8", form="json"),
    ),
    "text-missing": (positive_raw,),
    "text-not-string": (positive_raw,),
    "500-on-bad-audio": (malformed,),
    "plain-text-errors": (malformed, body_limit, loading),
    "error-key-missing": (malformed, body_limit, loading),
    "ignored-auth": (auth_missing,),
    "ignored-wait-for-model": (loading,),
    "loading-no-estimated-time": (loading,),
    "strict-boolean-headers": (lambda: loading(wait="1"),),  # huggingface_hub 0.24-0.28 sent exactly this
    "nondeterministic-text": (
        lambda: Scenario(case("protocol", protocol="determinism"), (raw(NO_CACHE), raw(NO_CACHE))),
    ),
    "cache-always": (cache_protocol,),
    "cache-unmarked": (cache_protocol,),
    "accept-invalid-params": (invalid_params,),
    "reject-valid-params": (
        lambda: Scenario(
            case("positive", form="json", parameters={"generation_parameters": {"max_new_tokens": 32}}),
            (as_json({"generation_parameters": {"max_new_tokens": 32}}),),
        ),
    ),
    "reject-raw-without-content-type": (content_types, positive_raw),
    "reject-json-form": (forms, positive_json),
    "wrong-content-type": (positive_raw,),
    "missing-compute-headers": (positive_raw, cache_protocol),
    "ignore-body-limit": (body_limit,),
    "reject-mp3": (lambda: in_codec("mp3", 16000),),
    "reject-8khz": (lambda: in_codec("wav", 8000),),
    "slow": (
        lambda: Scenario(
            case("positive", meta={"latency_budget_s": 0.5}), (raw(),), config={"slow_seconds": 1.0}
        ),
    ),
    "500-on-huge-param": (
        lambda: Scenario(
            case(
                "implementation_defined",
                form="json",
                parameters={"generation_parameters": {"max_new_tokens": 2**40}},
            ),
            (as_json({"generation_parameters": {"max_new_tokens": 2**40}}),),
        ),
    ),
    # every request to the router form gets 404: whatever expects an answer from the model fails
    "router-path-404": tuple(
        routed(make)
        for make in (positive_raw, invalid_params, forms, content_types, body_limit, auth_missing)
    ),
}


def send(url: str, request: Request) -> Exchange:
    start = time.perf_counter()
    try:
        resp = requests.post(url + request.path, data=request.body, headers=dict(request.headers), timeout=30)
    except requests.RequestException as exc:
        return Exchange(request, None, f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - start
    return Exchange(request, Response(resp.status_code, tuple(resp.headers.items()), resp.content, elapsed))


def judge(scenario: Scenario, violate: tuple[str, ...] = ()) -> dict[str, CheckResult]:
    config = MockConfig(violate=violate, **scenario.config)
    with MockServer(config) as mock:
        url = mock.model_url(router=scenario.router)
        exchanges = tuple(send(url, r) for r in scenario.requests)
        target = TargetInfo(name="mock:test", model_url=url, is_mock=True, **scenario.target)
    ctx = CheckContext(case=scenario.case, exchanges=exchanges, target=target)
    return {r.check_id: r for r in run_checks(ctx, select(include_legacy=True))}


def test_every_switch_has_a_scenario() -> None:
    assert sorted(SCENARIOS) == sorted(VIOLATIONS)


@pytest.mark.parametrize("switch", sorted(VIOLATIONS))
def test_switch_fires_exactly_its_checks(switch: str) -> None:
    expected = {c.id for c in all_checks() if switch in c.fired_by}
    judged: set[str] = set()
    fired: set[str] = set()
    for make in SCENARIOS[switch]:
        scenario = make()
        faithful = judge(scenario)
        not_passing = {
            k: (r.outcome, r.message, [f.message for f in r.failures])
            for k, r in faithful.items()
            if r.outcome is not Outcome.PASS
        }
        assert not_passing == {}, f"the faithful mock must pass every check on {scenario.case.id}"
        judged |= set(faithful)

        broken = judge(scenario, (switch,))
        fired |= {k for k, r in broken.items() if r.outcome is Outcome.FAIL}
        # A check that cannot judge the broken answer any more (SKIP) accuses nobody; only a FAIL or an
        # ERROR outside the switch's own checks would be a wrong verdict.
        others = {
            k: r.outcome
            for k, r in broken.items()
            if k not in expected and r.outcome not in (Outcome.PASS, Outcome.SKIP)
        }
        assert others == {}, f"{switch} also moved checks it does not name on {scenario.case.id}: {others}"
    assert expected <= judged, f"no scenario of {switch} is judged by {expected - judged}"
    assert fired >= expected, f"{switch} did not fire {expected - fired}"
