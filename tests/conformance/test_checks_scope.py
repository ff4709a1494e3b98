"""A check judges only what the request asked within the ``must_accept`` domain.

One field's implementation-defined value (``return_timestamps: "word"``, ``1``, ``"true"``, ``"char"``)
must not make another check fail on a faithful answer.
"""

from __future__ import annotations

import pytest
from asr_conformance.conformance.checks.data import LENIENT_TITLE
from asr_conformance.conformance.checks.reading import timestamps_level
from asr_conformance.conformance.model import Outcome, Response, Severity
from check_builders import case, chunked, context, err, json_request, judge, ok, raw_request

WORDS = [{"text": " hello", "timestamp": [0.0, 0.5]}, {"text": " world", "timestamp": [0.5, 1.0]}]
CHARS = [{"text": c, "timestamp": [i * 0.1, i * 0.1 + 0.1]} for i, c in enumerate("HELLOWORLD")]


@pytest.mark.parametrize("value", ["word", 1, "true", "char", None])
def test_chunks_for_an_implementation_defined_timestamps_value_are_not_unasked(value):
    ctx = context(
        case("implementation_defined", form="json"),
        (json_request({"return_timestamps": value}), chunked(WORDS)),
    )
    assert judge("chunks_absent_unless_requested", ctx) is None


@pytest.mark.parametrize(
    "request_", [raw_request(), json_request(), json_request({"return_timestamps": False})]
)
def test_chunks_are_still_unasked_when_nothing_or_false_was_asked(request_):
    result = judge("chunks_absent_unless_requested", context(case(), (request_, chunked(WORDS))))
    assert result is not None and result.outcome is Outcome.FAIL


def test_character_chunks_without_spaces_match_the_text_for_char_timestamps():
    resp = chunked(CHARS, text="HELLO WORLD")
    ctx = context(
        case("implementation_defined", form="json"), (json_request({"return_timestamps": "char"}), resp)
    )
    assert judge("chunk_text_matches_text", ctx).outcome is Outcome.PASS
    wrong = chunked(CHARS, text="GOODBYE")
    ctx = context(
        case("implementation_defined", form="json"), (json_request({"return_timestamps": "char"}), wrong)
    )
    assert judge("chunk_text_matches_text", ctx).outcome is Outcome.FAIL
    # ... while segment chunks for ``true`` must join with or without spaces, as before.
    ctx = context(case(form="json"), (json_request({"return_timestamps": True}), resp))
    assert judge("chunk_text_matches_text", ctx).outcome is Outcome.FAIL


def test_timestamps_level_reads_only_the_must_accept_domain():
    assert timestamps_level(raw_request()) == "none"
    assert timestamps_level(json_request({})) == "none"
    assert timestamps_level(json_request({"return_timestamps": False})) == "none"
    assert timestamps_level(json_request({"return_timestamps": True})) == "segment"
    for other in ("word", 1, 0, "true", None, "maybe"):
        assert timestamps_level(json_request({"return_timestamps": other})) == "other", other


# ------------------------------------------------------------------------------ lenient servers

NEGATIVE = case(
    "negative",
    form="json",
    parameters={"generation_parameters": {"top_p": "high"}},
    mutation="parameters.generation_parameters.top_p: string 'high'",
    mutated_path="parameters.generation_parameters.top_p",
    meta={"evidence": "documented"},
)
HIGH = json_request({"generation_parameters": {"top_p": "high"}})


def test_a_transcript_for_a_must_reject_value_is_a_lenient_warning():
    ctx = context(NEGATIVE, (HIGH, ok()))
    result = judge("negative_data_rejection", ctx)
    assert result.outcome is Outcome.FAIL and result.severity is Severity.WARNING
    assert [f.title for f in result.failures] == [LENIENT_TITLE]
    assert judge("status_code_conformance", ctx).outcome is Outcome.PASS


@pytest.mark.parametrize(
    "resp",
    [err(500, {"error": "unknown error"}), err(200, {"error": "no"}), err(400, b"bad", headers=())],
)
def test_a_crash_or_a_non_transcript_on_a_must_reject_value_stays_an_error(resp):
    result = judge("negative_data_rejection", context(NEGATIVE, (HIGH, resp)))
    assert result.outcome is Outcome.FAIL and result.severity is Severity.ERROR
    assert LENIENT_TITLE not in [f.title for f in result.failures]


def test_a_non_json_200_on_a_must_reject_value_is_an_error():
    bad = Response(200, (("Content-Type", "application/json"),), b"<html>", 0.01)
    assert judge("negative_data_rejection", context(NEGATIVE, (HIGH, bad))).outcome is Outcome.ERROR


def test_a_transcript_for_undecodable_audio_is_not_lenient():
    ctx = context(case("malformed_audio", malformed="random_bytes"), (raw_request(body=b"\x01" * 9), ok()))
    result = judge("negative_data_rejection", ctx)
    assert result.outcome is Outcome.FAIL and result.severity is Severity.ERROR
    assert judge("status_code_conformance", ctx).outcome is Outcome.FAIL
