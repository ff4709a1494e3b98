"""Every check on hand-built exchanges: it fails on its deviation and passes on the faithful answer.

The same checks are run against real mock servers with each ``--violate`` switch in test_checks_mock.py;
these cases pin the boundaries (what is a warning, what is SKIP, what is not judged at all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from asr_conformance.conformance.checks import CheckContext, all_checks, run_checks
from asr_conformance.conformance.model import Outcome, Response, Severity
from asr_conformance.conformance.target import TargetInfo
from check_builders import (
    ERROR_HEADERS,
    MOCK,
    REAL,
    RECIPE,
    SUCCESS_HEADERS,
    case,
    chunked,
    context,
    err,
    json_request,
    judge,
    ok,
    raw_request,
)

TS = {"return_timestamps": True}


def c(text: str, start: float | None, end: float | None) -> dict:
    return {"text": text, "timestamp": [start, end]}


GOOD_CHUNKS = [c(" hello", 0.0, 0.8), c(" world", 0.8, 1.6)]
WITH_TOKEN = TargetInfo(name="mock:test", model_url="http://x/models/m", is_mock=True, has_token=True)
MOCK_LOADING = TargetInfo(
    name="mock:test", model_url="http://x/models/m", is_mock=True, exposes_mock_controls=True
)
LIMITED = TargetInfo(name="mock:test", model_url="http://x/models/m", is_mock=True, max_body_bytes=100)


def positive(resp: Response, **kw) -> CheckContext:
    return context(case("positive", **kw), (raw_request(), resp))


def labelled(resp: Response) -> CheckContext:
    """A positive raw case sent with its audio type, as the generator sends most of them."""
    return context(case("positive"), (raw_request((("Content-Type", "audio/wav"),)), resp))


def timestamps(resp: Response) -> CheckContext:
    return context(case("implementation_defined", form="json", parameters=TS), (json_request(TS), resp))


def negative(resp: Response) -> CheckContext:
    return context(
        case(
            "negative",
            form="json",
            mutation="top_k: string",
            mutated_path="parameters.generation_parameters.top_k",
        ),
        (json_request({"generation_parameters": {"top_k": "x"}}), resp),
    )


def speech_timestamps(resp: Response) -> CheckContext:
    speech = replace(RECIPE, kind="speech", text="hello world")
    return context(
        case("implementation_defined", form="json", parameters=TS, audio=speech), (json_request(TS), resp)
    )


def large(resp: Response, target: TargetInfo = MOCK) -> CheckContext:
    return context(case("positive"), (raw_request(body=bytes(3 << 19)), resp), target=target)


def from_client(resp: Response) -> CheckContext:
    meta = {"client": "browser File .wav", "content_type": "audio/x-wav"}
    return context(case("positive", meta=meta), (raw_request((("Content-Type", "audio/x-wav"),)), resp))


def path_probe(resp: Response, **meta) -> CheckContext:
    probe = case("negative", form="json", meta={"dereference": "path", **meta}, expected_duration_s=None)
    return context(probe, (json_request(), resp))


def with_header(name: str, value: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, value if k == name else v) for k, v in SUCCESS_HEADERS)


def malformed(resp: Response) -> CheckContext:
    return context(
        case("malformed_audio", audio=None, malformed="random_bytes"), (raw_request(body=b"\x01" * 9), resp)
    )


def proto(name: str, *responses: Response | None, target: TargetInfo = MOCK, requests=None) -> CheckContext:
    reqs = requests or [raw_request() for _ in responses]
    return context(case("protocol", protocol=name), *zip(reqs, responses, strict=True), target=target)


NO_CACHE = (("x-use-cache", "false"),)
CACHE_HEADERS = tuple((k, "cache" if k == "x-compute-type" else v) for k, v in SUCCESS_HEADERS)

# check id -> (deviating context, faithful context, severity of the deviation)
SCENARIOS: dict[str, tuple[Callable[[], CheckContext], Callable[[], CheckContext], Severity]] = {
    "not_a_server_error": (
        lambda: malformed(err(500, {"error": "unknown error"})),
        lambda: malformed(err(400)),
        Severity.ERROR,
    ),
    "status_code_conformance": (
        lambda: negative(err(404, {"error": "no"})),  # a 200 is lenient: negative_data_rejection warns
        lambda: negative(err(400, {"error": ["bad top_k"]})),
        Severity.ERROR,
    ),
    "content_type_conformance": (
        lambda: positive(ok(headers=(("Content-Type", "text/plain"), *SUCCESS_HEADERS[1:]))),
        lambda: positive(
            ok(headers=(("Content-Type", "application/json; charset=utf-8"), *SUCCESS_HEADERS[1:]))
        ),
        Severity.ERROR,
    ),
    "response_headers_conformance": (
        lambda: positive(ok(headers=(("Content-Type", "application/json"), ("x-compute-time", "fast")))),
        lambda: positive(ok()),
        Severity.WARNING,
    ),
    "response_time_bounded": (
        lambda: positive(ok(elapsed=3.5)),
        lambda: positive(ok(elapsed=0.2)),
        Severity.WARNING,
    ),
    "response_schema_conformance": (
        lambda: positive(ok({"txt": "hi"})),
        lambda: positive(ok({"text": ""})),
        Severity.ERROR,
    ),
    "error_body_shape": (
        lambda: malformed(err(400, b"Malformed soundfile", headers=(("Content-Type", "text/plain"),))),
        lambda: malformed(err(400, {"error": "Malformed soundfile", "warnings": ["w"]})),
        Severity.ERROR,
    ),
    "negative_data_rejection": (
        lambda: negative(err(500, {"error": "unknown error"})),
        lambda: negative(err(400)),
        Severity.ERROR,
    ),
    "positive_data_acceptance": (lambda: positive(err(400)), lambda: positive(ok()), Severity.ERROR),
    "audio_formats_accepted": (lambda: labelled(err(400)), lambda: labelled(ok()), Severity.ERROR),
    "ignored_auth": (
        lambda: proto("auth_missing", ok(), target=WITH_TOKEN),
        lambda: proto("auth_wrong", err(401, {"error": "Invalid username or password."}), target=WITH_TOKEN),
        Severity.ERROR,
    ),
    "request_forms_accepted": (
        lambda: proto("forms", ok(), err(400), requests=[raw_request(), json_request()]),
        lambda: proto("forms", ok(), ok(), requests=[raw_request(), json_request()]),
        Severity.ERROR,
    ),
    "raw_content_type_tolerated": (
        lambda: proto(
            "content_type",
            err(400),
            ok(),
            requests=[raw_request(), raw_request((("Content-Type", "audio/wav"),))],
        ),
        lambda: proto(
            "content_type",
            ok(),
            ok(),
            requests=[raw_request(), raw_request((("Content-Type", "audio/wav"),))],
        ),
        Severity.ERROR,
    ),
    "greedy_deterministic": (
        lambda: proto("determinism", ok({"text": "a b"}), ok({"text": "a c"})),
        lambda: proto("determinism", ok({"text": "a b"}), ok({"text": "a b"})),
        Severity.WARNING,
    ),
    "cache_hit_consistent": (
        lambda: proto("cache", ok(), ok({"text": "other"}, headers=CACHE_HEADERS), ok()),
        lambda: proto("cache", ok(), ok(headers=CACHE_HEADERS), ok()),
        Severity.WARNING,  # legacy evidence (E6) weighs a warning when judged on request
    ),
    "cache_bypass_honoured": (
        lambda: proto(
            "cache",
            ok(),
            ok(headers=CACHE_HEADERS),
            ok(headers=CACHE_HEADERS),
            requests=[raw_request(), raw_request(), raw_request(NO_CACHE)],
        ),
        lambda: proto(
            "cache",
            ok(),
            ok(headers=CACHE_HEADERS),
            ok(),
            requests=[raw_request(), raw_request(), raw_request(NO_CACHE)],
        ),
        Severity.WARNING,
    ),
    "loading_response_shape": (
        lambda: proto(
            "loading", err(503, {"error": "Model m is currently loading"}), ok(), target=MOCK_LOADING
        ),
        lambda: proto(
            "loading",
            err(503, {"error": "Model m is currently loading", "estimated_time": 20.0}),
            ok(),
            target=MOCK_LOADING,
        ),
        Severity.WARNING,
    ),
    "wait_for_model_honoured": (
        lambda: proto(
            "loading",
            err(503, {"error": "loading", "estimated_time": 1.0}),
            err(503, {"error": "loading", "estimated_time": 1.0}),
            target=MOCK_LOADING,
        ),
        lambda: proto(
            "loading", err(503, {"error": "loading", "estimated_time": 1.0}), ok(), target=MOCK_LOADING
        ),
        Severity.WARNING,
    ),
    "body_limit_enforced": (
        lambda: proto("body_limit", ok(), target=LIMITED, requests=[raw_request(body=bytes(200))]),
        lambda: proto(
            "body_limit",
            err(413, {"error": "Payload too large"}),
            target=LIMITED,
            requests=[raw_request(body=bytes(200))],
        ),
        Severity.WARNING,
    ),
    "chunks_when_timestamps_requested": (
        lambda: timestamps(ok()),
        lambda: timestamps(chunked(GOOD_CHUNKS)),
        Severity.ERROR,
    ),
    "chunks_absent_unless_requested": (
        lambda: positive(chunked(GOOD_CHUNKS)),
        lambda: positive(ok()),
        Severity.WARNING,
    ),
    "timestamps_numeric": (
        lambda: timestamps(chunked([{"text": " hello", "timestamp": ["0.0", "0.8"]}])),
        lambda: timestamps(chunked(GOOD_CHUNKS)),
        Severity.ERROR,
    ),
    "timestamp_end_present": (
        lambda: timestamps(chunked([c(" hello", 0.0, 0.8), c(" world", 0.8, None)])),
        lambda: timestamps(chunked(GOOD_CHUNKS)),
        Severity.WARNING,
    ),
    "timestamps_within_audio": (
        lambda: timestamps(chunked([c(" hello", 0.0, 0.8), c(" world", 1.6, 0.9)])),
        lambda: timestamps(chunked([c(" hello", 0.0, 0.8), c(" world", 0.8, 2.04)])),
        Severity.ERROR,
    ),
    "timestamps_ordered": (
        lambda: timestamps(chunked([c(" hello", 0.8, 1.6), c(" world", 0.0, 0.8)])),
        lambda: timestamps(chunked(GOOD_CHUNKS)),
        Severity.WARNING,
    ),
    "chunk_text_matches_text": (
        lambda: timestamps(chunked(GOOD_CHUNKS, text="hello there")),
        lambda: timestamps(chunked(GOOD_CHUNKS, text="hello  world ")),
        Severity.WARNING,
    ),
    "speech_chunks_not_empty": (
        lambda: speech_timestamps(ok({"text": "", "chunks": []})),
        lambda: speech_timestamps(chunked(GOOD_CHUNKS)),
        Severity.ERROR,
    ),
    "large_body_accepted": (
        lambda: large(err(413, {"error": "Payload too large"})),
        lambda: large(ok()),
        Severity.ERROR,
    ),
    "client_requests_accepted": (
        lambda: from_client(err(400, {"error": 'Content type "audio/x-wav" not supported.'})),
        lambda: from_client(ok()),
        Severity.ERROR,
    ),
    "inputs_not_dereferenced": (
        lambda: path_probe(ok({"text": "a man said to the universe"})),
        lambda: path_probe(err(400, {"error": "inputs: not valid base64 audio"})),
        Severity.ERROR,
    ),
    "unknown_model_refused": (
        lambda: proto("unknown_model", err(400, {"error": "no such model"})),
        lambda: proto("unknown_model", err(404, b"Not Found", headers=(("Content-Type", "text/plain"),))),
        Severity.WARNING,
    ),
    "compute_audio_length_matches": (
        lambda: positive(ok(headers=with_header("x-compute-audio-length", "2000"))),
        lambda: positive(ok(headers=with_header("x-compute-audio-length", "2.04"))),
        Severity.WARNING,
    ),
}


def test_every_check_has_a_scenario() -> None:
    # the behavioural checks are proven on real speech instead: tests/behaviour (tiny.en and the mock)
    from asr_conformance.conformance.engine.behaviour_phase import BEHAVIOUR_IDS

    assert sorted(SCENARIOS) == sorted(chk.id for chk in all_checks() if chk.id not in BEHAVIOUR_IDS)


@pytest.mark.parametrize("check_id", sorted(SCENARIOS))
def test_check_fails_on_deviation(check_id: str) -> None:
    bad, _, severity = SCENARIOS[check_id]
    result = judge(check_id, bad())
    assert result is not None, "check did not apply"
    assert result.outcome is Outcome.FAIL, result
    assert result.failures and all(f.check_id == check_id and f.message for f in result.failures)
    assert result.severity is severity


@pytest.mark.parametrize("check_id", sorted(SCENARIOS))
def test_check_passes_faithful_answer(check_id: str) -> None:
    _, good, _ = SCENARIOS[check_id]
    result = judge(check_id, good())
    assert result is not None, "check did not apply"
    assert result.outcome is Outcome.PASS, result


# ------------------------------------------------------------------------------ boundaries


def test_error_list_and_warnings_are_a_valid_error_shape() -> None:
    ctx = malformed(
        err(400, {"error": ["Error in `inputs`: bad"], "warnings": ["There was an inference error"]})
    )
    for check_id in ("error_body_shape", "response_schema_conformance", "negative_data_rejection"):
        assert judge(check_id, ctx).outcome is Outcome.PASS


def test_plain_text_404_is_not_an_error_shape_failure() -> None:
    ctx = positive(Response(404, (("Content-Type", "text/plain"),), b"Not Found", 0.01))
    assert judge("error_body_shape", ctx).outcome is Outcome.PASS
    assert judge("positive_data_acceptance", ctx).outcome is Outcome.FAIL


def test_missing_audio_length_header_is_only_a_warning() -> None:
    headers = tuple(h for h in SUCCESS_HEADERS if h[0] != "x-compute-audio-length")
    result = judge("response_headers_conformance", positive(ok(headers=headers)))
    assert result.outcome is Outcome.FAIL and result.severity is Severity.WARNING
    assert "x-compute-audio-length" in result.failures[0].message


def test_content_type_of_a_json_error_is_judged() -> None:
    result = judge("content_type_conformance", malformed(err(400, headers=(("Content-Type", "text/html"),))))
    assert result.outcome is Outcome.FAIL


def test_plural_chunk_key_named_in_message() -> None:
    ctx = timestamps(chunked([{"text": " hi", "timestamps": [0.0, 0.5]}]))
    result = judge("timestamps_numeric", ctx)
    assert result.outcome is Outcome.FAIL and "timestamps" in result.failures[0].message
    assert judge("response_schema_conformance", ctx).outcome is Outcome.FAIL


def test_documented_view_reads_the_plural_key() -> None:
    ctx = context(
        case("implementation_defined", form="json", parameters=TS),
        (json_request(TS), chunked([{"text": " hi", "timestamps": [0.0, 0.5]}])),
        view="documented",
    )
    assert judge("timestamps_numeric", ctx).outcome is Outcome.PASS


def test_null_end_message_names_the_upstream_bug() -> None:
    result = judge("timestamp_end_present", timestamps(chunked([c(" hi", 0.0, None)])))
    assert "transformers #23231" in result.failures[0].message


def test_timestamps_without_known_duration_still_check_order_of_start_and_end() -> None:
    ctx = context(
        case("implementation_defined", form="json", parameters=TS, expected_duration_s=None),
        (json_request(TS), chunked([c(" hi", 0.5, 0.2)])),
    )
    assert judge("timestamps_within_audio", ctx).outcome is Outcome.FAIL
    far = context(
        case("implementation_defined", form="json", parameters=TS, expected_duration_s=None),
        (json_request(TS), chunked([c(" hi", 0.0, 99.0)])),
    )
    assert judge("timestamps_within_audio", far).outcome is Outcome.PASS


def test_chunk_checks_do_not_apply_without_chunks() -> None:
    for check_id in (
        "timestamps_numeric",
        "timestamps_ordered",
        "timestamps_within_audio",
        "chunk_text_matches_text",
    ):
        assert judge(check_id, positive(ok())) is None


def test_nothing_expects_empty_text_for_silence() -> None:
    """Whisper invents words on silence: a transcript for silent audio is no deviation."""
    silence = case("positive", audio=replace(RECIPE, kind="silence"))
    ctx = context(silence, (raw_request(), ok({"text": " you"})))
    results = run_checks(ctx, all_checks())
    assert results and all(r.outcome is Outcome.PASS for r in results)


def test_mislabelled_audio_type_refused_is_a_warning() -> None:
    ctx = proto(
        "content_type",
        ok(),
        err(400),
        requests=[raw_request(), raw_request((("Content-Type", "audio/mpeg"),))],
    )
    result = judge("raw_content_type_tolerated", ctx)
    assert result.outcome is Outcome.FAIL and result.severity is Severity.WARNING


def test_forms_transcribing_differently_is_a_warning() -> None:
    ctx = proto("forms", ok({"text": "a"}), ok({"text": "b"}), requests=[raw_request(), json_request()])
    result = judge("request_forms_accepted", ctx)
    assert result.outcome is Outcome.FAIL and result.severity is Severity.WARNING


def test_negative_failure_points_at_the_mutated_field() -> None:
    result = judge("negative_data_rejection", negative(ok()))
    failure = result.failures[0]
    assert failure.spec_ref == "payload:parameters.generation_parameters.top_k"
    assert "top_k: string" in failure.message


def test_real_targets_get_a_generous_latency_budget() -> None:
    ctx = context(case("positive"), (raw_request(), ok(elapsed=30.0)), target=REAL)
    assert judge("response_time_bounded", ctx).outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("check_id", "ctx", "why"),
    [
        ("ignored_auth", lambda: proto("auth_missing", ok()), "no token"),
        ("body_limit_enforced", lambda: proto("body_limit", ok()), "no declared body limit"),
        ("loading_response_shape", lambda: proto("loading", ok(), ok(), target=REAL), "not seen loading"),
        (
            "wait_for_model_honoured",
            lambda: proto("loading", ok(), ok(), target=MOCK_LOADING),
            "asked to load",
        ),
    ],
)
def test_not_exercised_is_skip_never_pass(check_id: str, ctx, why: str) -> None:
    result = judge(check_id, ctx())
    assert result.outcome is Outcome.SKIP and why in result.message


def test_loading_seen_on_a_real_target_is_judged() -> None:
    ctx = proto(
        "loading",
        err(503, {"error": "Model m is currently loading", "estimated_time": 22.307266235351562}),
        ok(),
        target=REAL,
    )
    assert judge("loading_response_shape", ctx).outcome is Outcome.PASS


def test_error_answers_need_only_the_error_header_rules() -> None:
    assert (
        judge("response_headers_conformance", malformed(err(400, headers=ERROR_HEADERS))).outcome
        is Outcome.PASS
    )


def test_truncated_audio_may_be_transcribed() -> None:
    """A truncated file may decode in part: the generator marks it ``expect: either``."""
    ctx = context(
        case("malformed_audio", malformed="truncated", meta={"expect": "either"}),
        (raw_request(body=b"RIFF"), ok()),
    )
    assert judge("negative_data_rejection", ctx) is None
    assert judge("status_code_conformance", ctx).outcome is Outcome.PASS


def test_refusing_the_json_form_is_not_blamed_on_the_audio() -> None:
    ctx = context(case("positive", form="json"), (json_request(), err(400)))
    assert judge("audio_formats_accepted", ctx) is None
    assert judge("positive_data_acceptance", ctx).outcome is Outcome.FAIL


def test_end_past_the_audio_is_a_warning() -> None:
    """Real Whisper puts invented words on 0.3 s of silence at [0.0, 2.06] (measured on tiny.en)."""
    short = context(
        case("implementation_defined", form="json", parameters=TS, expected_duration_s=0.3),
        (json_request(TS), chunked([c(" you", 0.0, 2.06)])),
    )
    result = judge("timestamps_within_audio", short)
    assert result.outcome is Outcome.FAIL and result.severity is Severity.WARNING
    assert result.failures[0].title == "Chunk ends after the audio"
    within = judge("timestamps_within_audio", timestamps(chunked([c(" you", 0.0, 2.07)])))
    assert within.outcome is Outcome.PASS  # 2.0 s + 0.05 s tolerance + one 20 ms step


def test_audio_length_in_milliseconds_is_named() -> None:
    result = judge(
        "compute_audio_length_matches", positive(ok(headers=with_header("x-compute-audio-length", "2000")))
    )
    assert "milliseconds" in result.failures[0].message


def test_speech_chunks_with_only_empty_texts_fail() -> None:
    chunks = [{"text": " ", "timestamp": [0.0, 1.0]}]
    result = judge("speech_chunks_not_empty", speech_timestamps(ok({"text": " ", "chunks": chunks})))
    assert result.outcome is Outcome.FAIL and len(result.failures) == 2


def test_empty_chunks_on_tones_are_not_judged() -> None:
    assert judge("speech_chunks_not_empty", timestamps(ok({"text": "", "chunks": []}))) is None


def test_a_413_over_the_declared_limit_is_no_large_body_failure() -> None:
    limited = replace(MOCK, max_body_bytes=1 << 20)
    result = judge("large_body_accepted", large(err(413, {"error": "too large"}), target=limited))
    assert result.outcome is Outcome.SKIP
    assert judge("large_body_accepted", positive(err(413, {"error": "too large"}))) is None


def test_a_client_label_refused_is_not_an_audio_format_refusal() -> None:
    assert judge("audio_formats_accepted", from_client(err(400))) is None


def test_an_unknown_model_served_is_reported_unless_it_must_match() -> None:
    result = judge("unknown_model_refused", proto("unknown_model", ok()))
    assert result.outcome is Outcome.SKIP and "answered 200" in result.message
    strict = replace(MOCK, model_must_match=True)
    result = judge("unknown_model_refused", proto("unknown_model", ok(), target=strict))
    assert result.outcome is Outcome.FAIL and result.severity is Severity.ERROR
