"""The strict parameter policy and what reaches generate() (no model needed)."""

from __future__ import annotations

import pytest
from asr_conformance.mock_server.engine import EngineError, InferenceParams
from asr_conformance.reference.generation_params import (
    DOCUMENTED,
    check_passthrough,
    check_strict,
    generate_kwargs,
    is_sampling,
)


def params(generation: dict | None = None, **extra: object) -> InferenceParams:
    return InferenceParams(generation=generation or {}, extra=dict(extra))


def refusal(p: InferenceParams, multilingual: bool = False) -> str:
    with pytest.raises(EngineError) as info:
        check_strict(p, multilingual)
    assert info.value.status == 400
    return info.value.body["error"]


def test_sixteen_documented_parameters() -> None:
    assert len(DOCUMENTED) == 16


@pytest.mark.parametrize(
    "generation",
    [
        {},
        {"num_beams": 4, "early_stopping": "never"},
        {"do_sample": True, "temperature": 0.7, "top_k": 0, "top_p": 0.9, "typical_p": 1.0},
        {"epsilon_cutoff": 0.0003, "eta_cutoff": 0.002, "use_cache": False},
        {"max_new_tokens": 446, "min_new_tokens": 2, "min_length": 0},
        {"max_length": 3},
        {"temperature": None, "top_k": None},  # null = not sent
    ],
)
def test_strict_accepts(generation: dict) -> None:
    check_strict(params(generation), multilingual=False)


@pytest.mark.parametrize(
    ("generation", "named"),
    [
        ({"max_new_tokens": 447}, "max_new_tokens: 447 is outside [1, 446]"),
        ({"max_length": 2}, "max_length"),
        ({"num_beams": 17}, "num_beams"),
        ({"num_beams": True}, "num_beams: expected an integer"),
        ({"do_sample": True, "temperature": 0}, "temperature"),
        ({"epsilon_cutoff": 1}, "epsilon_cutoff"),
        ({"early_stopping": 1}, "early_stopping"),
        ({"use_cache": "false"}, "use_cache: expected a boolean"),
        ({"num_beam_groups": 1}, "num_beam_groups: not available in this reference"),
        ({"repetition_penalty": 1.2}, "repetition_penalty: not a documented generation parameter"),
    ],
)
def test_strict_refuses_naming_the_parameter(generation: dict, named: str) -> None:
    assert named in refusal(params(generation))


def test_multilingual_prompt_is_longer() -> None:
    check_strict(params({"max_new_tokens": 444}), multilingual=True)
    assert "max_new_tokens" in refusal(params({"max_new_tokens": 445}), multilingual=True)


def test_pipeline_only_and_task_language() -> None:
    assert "chunk_length_s: not available" in refusal(params(chunk_length_s=30))
    assert "only transcribes" in refusal(params(task="translate"))
    assert "English" in refusal(params(language="fr"))
    check_strict(params(task="transcribe", language="en", unknown_key=1), multilingual=False)


def test_passthrough_refuses_only_unknown_pipeline_arguments() -> None:
    check_passthrough(params({"num_beams": 0, "whatever": "x"}))
    with pytest.raises(EngineError, match="unexpected keyword argument 'task'"):
        check_passthrough(params(task="translate"))


def test_do_sample_means_what_it_says() -> None:
    """Whisper's generate samples by temperature alone; strict mode makes do_sample decide."""
    sampled = generate_kwargs(params({"do_sample": True}), strict=True)
    assert sampled["temperature"] == 1.0 and is_sampling(sampled)
    greedy = generate_kwargs(params({"do_sample": False, "temperature": 0.8}), strict=True)
    assert "temperature" not in greedy and not is_sampling(greedy)
    assert is_sampling(generate_kwargs(params({"temperature": 0.5}), strict=True))
    assert generate_kwargs(params({}), strict=True) == {"num_beams": 1}
    raw = {"num_beams": 0, "temperature": None}
    assert generate_kwargs(params(raw), strict=False) == raw
