"""Case generation: deterministic plans, decodable positive audio, one-change negatives, malformed bodies."""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil

import pytest
from asr_conformance.conformance.cases import AudioRecipe
from asr_conformance.conformance.engine.config import RunConfig, plan
from asr_conformance.conformance.generation.audio import (
    CODEC_FORMATS,
    CODEC_RATES,
    CODECS,
    render,
    valid_recipe,
)
from asr_conformance.conformance.generation.caseio import case_from_json, case_to_json
from asr_conformance.conformance.generation.profiles import get_profile
from asr_conformance.conformance.generation.render import build_requests, malformed_body
from asr_conformance.conformance.generation.values import (
    MISSING,
    FieldValue,
    load_values,
    parameters_from,
    resolve_inputs,
    survives_serialisation,
)
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.mock_server.audio import AudioDecodeError, decode, probe

from asr_conformance import spec

MOCK = TargetInfo(
    name="mock",
    model_url="http://127.0.0.1:1/m",
    exposes_mock_controls=True,
    has_token=True,
    max_body_bytes=1 << 20,
    is_mock=True,
)
URL = TargetInfo(name="url", model_url="http://127.0.0.1:1/m")


@pytest.fixture(scope="module")
def quick_plan():
    return plan(RunConfig(profile="quick", seed=5, max_examples=60), MOCK)


def test_plan_is_deterministic_for_a_seed_and_varies_with_it(quick_plan):
    again = plan(RunConfig(profile="quick", seed=5, max_examples=60), MOCK)
    assert again == quick_plan
    other = plan(RunConfig(profile="quick", seed=6, max_examples=60), MOCK)
    fuzz = [c for c in quick_plan if c.phase == "fuzz"]
    assert fuzz and fuzz != [c for c in other if c.phase == "fuzz"]


def test_plan_has_every_phase_in_order_and_unique_ids(quick_plan):
    phases = [c.phase for c in quick_plan]
    assert phases[0] == "probe"
    order = {"probe": 0, "examples": 1, "coverage": 2, "fuzz": 3}
    assert phases == sorted(phases, key=order.__getitem__)
    assert len({c.id for c in quick_plan}) == len(quick_plan)


def test_protocol_scenarios_follow_what_the_target_can_show(quick_plan):
    on_mock = {c.protocol for c in quick_plan if c.phase == "examples"}
    assert {
        "forms",
        "determinism",
        "cache",
        "content_type",
        "auth_missing",
        "auth_wrong",
        "loading",
        "body_limit",
    } <= on_mock
    on_url = {c.protocol for c in plan(RunConfig(profile="quick", seed=5, max_examples=0), URL)}
    # No token, no declared limit, no mock controls: those scenarios cannot be shown, so none is planned.
    assert not on_url & {"auth_missing", "auth_wrong", "loading", "body_limit"}


def test_every_positive_case_carries_decodable_audio_of_the_recipes_duration(quick_plan):
    positives = [c for c in quick_plan if c.kind == "positive"]
    assert len(positives) > 50
    for case in positives:
        (request,) = build_requests(case)
        json_form = case.form == "json"
        audio = base64.b64decode(json.loads(request.body)["inputs"]) if json_form else request.body
        info = probe(audio)
        assert abs(info.duration_s - case.expected_duration_s) <= case.duration_tolerance_s + 1e-3, case
        assert case.duration_tolerance_s >= (
            0.06 if case.audio.codec in ("mp3", "opus", "webm", "m4a") else 0
        )


def test_positive_values_come_only_from_must_accept(quick_plan):
    accepted = {v.key for v in load_values() if v.bucket == "must_accept"}
    for case in quick_plan:
        if case.kind == "positive":
            assert set(case.meta["values"]) <= accepted, case.id


def _without(body: dict, path: str) -> dict:
    """The body with the mutated path put back to a valid state (removed, or valid base64 inputs)."""
    out = copy.deepcopy(body)
    if path == "inputs":
        out["inputs"] = base64.b64encode(b"x").decode()
        return out
    keys = path.split(".")
    node = out
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            return out
        node = node[key]
    node.pop(keys[-1], None)
    return out


def test_negative_cases_change_exactly_one_thing(quick_plan):
    request_schema = spec.validator("request", "served")
    negatives = [c for c in quick_plan if c.kind == "negative" and c.form == "json"]
    assert len(negatives) > 30
    for case in negatives:
        assert case.mutation and case.mutation.startswith(case.mutated_path), case
        (request,) = build_requests(case)
        body = json.loads(request.body)
        restored = _without(body, case.mutated_path)
        errors = [e.message for e in request_schema.iter_errors(restored)]
        assert not errors, (case.id, case.mutation, errors)


def test_mutations_made_valid_by_serialisation_are_dropped():
    accept = [FieldValue("parameters.generation_parameters.top_k", 5, "must_accept")]
    integral = FieldValue("parameters.generation_parameters.top_k", 5.0, "must_reject")
    nan = FieldValue("parameters.generation_parameters.top_k", float("nan"), "must_reject")
    equal = FieldValue("parameters.generation_parameters.top_k", 5, "must_reject")
    text = FieldValue("parameters.generation_parameters.top_k", "5", "must_reject")
    assert not survives_serialisation(integral, accept)  # JSON has one number type: 5.0 is an integer
    assert not survives_serialisation(nan, accept)  # not JSON at all
    assert not survives_serialisation(equal, accept)
    assert survives_serialisation(text, accept)


def test_parameters_nest_and_non_objects_are_kept_as_sent():
    values = [
        FieldValue("parameters.generation_parameters.top_k", 5, "must_accept"),
        FieldValue("parameters.return_timestamps", False, "must_accept"),
        FieldValue("header:x-use-cache", "false", "must_accept"),
    ]
    assert parameters_from(values) == {"generation_parameters": {"top_k": 5}, "return_timestamps": False}
    assert parameters_from([FieldValue("parameters", "fast", "must_reject")]) == "fast"
    assert parameters_from([]) is None


def test_symbolic_inputs_resolve_against_the_audio():
    audio = b"\x01\x02\x03\x04"
    plain = base64.b64encode(audio).decode()
    assert resolve_inputs("@base64-valid", audio) == plain
    assert resolve_inputs("@missing", audio) is MISSING
    assert resolve_inputs("@not-a-string:123", audio) == 123
    assert resolve_inputs("@base64-unpadded", audio) == plain.rstrip("=") != plain
    with pytest.raises(ValueError):
        base64.b64decode(resolve_inputs("@base64-undecodable", audio), validate=True)


@pytest.mark.parametrize("kind", ["empty", "random_bytes", "truncated", "wrong_header"])
@pytest.mark.parametrize("codec", ["wav", "flac", "mp3", "m4a"])
def test_malformed_bodies_are_really_undecodable(kind, codec):
    good = render(AudioRecipe(codec, 16000, 1, "s16", 1.0, "tone", 3))
    with pytest.raises(AudioDecodeError):
        decode(malformed_body(kind, good, 3))


def test_recipes_render_deterministically_for_every_codec_rate_and_layout():
    for codec in CODECS:
        for rate in (min(CODEC_RATES[codec]), max(CODEC_RATES[codec])):
            for fmt in CODEC_FORMATS[codec]:
                recipe = AudioRecipe(codec, rate, 2, fmt, 0.5, "noise", 9)
                assert valid_recipe(recipe)
                data = render(recipe)
                render.cache_clear()
                assert render(recipe) == data, recipe
                info = probe(data)
                assert info.channels == 2 and abs(info.duration_s - 0.5) <= 0.1, (recipe, info)


def test_speech_needs_espeak_ng():
    if shutil.which("espeak-ng") is None:
        if os.environ.get("ASR_CONFORMANCE_REQUIRE_TOOLS"):
            pytest.fail("espeak-ng is required (ASR_CONFORMANCE_REQUIRE_TOOLS is set)")
        pytest.skip("espeak-ng not installed")
    recipe = AudioRecipe("flac", 16000, 1, "s16", 3.0, "speech", 0, "testing one two three")
    audio = decode(render(recipe))
    assert abs(audio.duration_s - 3.0) < 0.02
    assert float(abs(audio.samples).max()) > 0.05  # a voice, not silence


def test_cases_round_trip_through_json(quick_plan):
    for case in quick_plan:
        assert case_from_json(json.loads(json.dumps(case_to_json(case)))) == case


def test_profiles_bound_durations(quick_plan):
    bound = get_profile("quick").max_duration_s
    speech = [c for c in quick_plan if c.audio and c.audio.kind == "speech"]
    assert all(c.audio.duration_s <= bound for c in quick_plan if c.audio and c not in speech)
    assert all(c.audio.duration_s <= 10.0 for c in speech)
