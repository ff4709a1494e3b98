"""How the reference treats request parameters: the strict policy, and what reaches ``generate()``.

Strict mode (the default) honours each of the 16 documented ``generation_parameters`` or refuses the
request with 400 naming the parameter; ``null`` means "not sent" (clients drop ``None``). Passthrough mode
hands the parameters to ``generate()`` unchanged and lets transformers decide, as the HF service did.

``do_sample`` decides in strict mode (see :func:`generate_kwargs`); without it a temperature above 0
samples, as in Whisper's own ``generate``. Defaults (nothing sent): greedy decoding (``num_beams=1``, no
sampling), up to Whisper's 448-token limit. The transformers 5 ASR pipeline would silently use
``num_beams=5, max_new_tokens=256``; the reference does not. Sampling is reproducible only when the
server has ``--seed`` (the API has no seed field).
"""

from __future__ import annotations

import json
import math
from typing import Any

from asr_conformance.mock_server.engine import EngineError, InferenceParams

from asr_conformance import spec

#: Whisper's decoder length (max_target_positions), prompt included
MAX_TARGET_POSITIONS = 448
#: beams cost memory and time linearly; more than this is refused
MAX_BEAMS = 16
#: the smallest temperature above 0 that strict mode samples at. Whisper divides float32 logits by the
#: temperature: near float32's smallest values (1e-45, 5e-324 rounds to 0) the quotient overflows to
#: inf and softmax gives NaN; logits stay within about 1e3, so 1e-6 keeps them under 1e9, far from
#: overflow, and sampling there is greedy in all but name
MIN_TEMPERATURE = 1e-6
#: passthrough's hottest temperature: Whisper divides float32 logits by it, and beyond float32's range it
#: becomes inf, suppressed tokens' -inf / inf is NaN and sampling fails (a 500 caused by input)
MAX_PASSTHROUGH_TEMPERATURE = 3.4028234663852886e38
#: passthrough forwards any num_beams, but not unbounded memory: beams x 30 s windows above this is
#: refused with 400 (implementation-defined; 64 beams on a 30-60 s clip still passes)
PASSTHROUGH_BEAM_WINDOWS = 128
#: the 16 documented generation parameters, in table order (from the spec's transcription)
DOCUMENTED = tuple(f.name for f in spec.fields() if f.path.startswith("parameters.generation_parameters."))
#: need generation code that transformers 5 fetches from the hub (group beam / contrastive search)
HUB_ONLY = ("num_beam_groups", "penalty_alpha")
#: ``parameters`` keys the transformers pipeline takes that this reference does not implement
PIPELINE_ONLY = ("chunk_length_s", "stride_length_s", "return_language", "decoder_kwargs", "ignore_warning")


def _bad(path: str, detail: str) -> EngineError:
    return EngineError(400, {"error": f"{path}: {detail}"})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_float(value: Any) -> float | None:
    """The finite float a JSON number stands for; None for non-numbers, NaN, infinities and integers
    too large for a float (a 400-digit integer would raise OverflowError further down)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _is_number(value: Any) -> bool:
    return _as_float(value) is not None


def _check_number(path: str, value: Any, low: float, high: float, low_open: bool, high_open: bool) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and _as_float(value) is None:
        raise _bad(path, f"{str(value)[:20]}... is outside the accepted range")
    if not _is_number(value):
        raise _bad(path, f"expected a number, got {json.dumps(value)[:40]}")
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise _bad(path, f"{value!r} is outside {interval}")


def _check_int(path: str, value: Any, low: int, high: int) -> None:
    if not _is_int(value):
        raise _bad(path, f"expected an integer, got {json.dumps(value)[:40]}")
    if not low <= value <= high:
        raise _bad(path, f"{str(value)[:40]} is outside [{low}, {high}]")


def prompt_length(multilingual: bool) -> int:
    """Forced decoder prompt: <|startoftranscript|> [<|lang|> <|task|>] <|notimestamps|>."""
    return 4 if multilingual else 2


def check_strict(params: InferenceParams, multilingual: bool) -> None:
    """Raise :class:`EngineError` 400 naming the first parameter this reference cannot honour."""
    gen = {k: v for k, v in params.generation.items() if v is not None}
    prefix = "parameters.generation_parameters"
    for key in gen:
        if key not in DOCUMENTED:
            raise _bad(f"{prefix}.{key}", "not a documented generation parameter")
    for key in HUB_ONLY:
        if key in gen:
            raise _bad(
                f"{prefix}.{key}", "not available in this reference (needs generation code from the hub)"
            )
    prompt = prompt_length(multilingual)
    limit = MAX_TARGET_POSITIONS - prompt
    for key, value in gen.items():
        path = f"{prefix}.{key}"
        if key in ("do_sample", "use_cache"):
            if not isinstance(value, bool):
                raise _bad(path, f"expected a boolean, got {json.dumps(value)[:40]}")
        elif key == "early_stopping":
            if value not in (True, False, "never") or _is_int(value):
                raise _bad(path, f'expected true, false or "never", got {json.dumps(value)[:40]}')
        elif key == "temperature":
            _check_number(path, value, 0.0, 100.0, low_open=bool(gen.get("do_sample")), high_open=False)
            if 0 < value < MIN_TEMPERATURE:
                raise _bad(
                    path, f"{value!r} is above 0 but below {MIN_TEMPERATURE:g} (logits would overflow)"
                )
        elif key in ("top_p", "typical_p"):
            _check_number(path, value, 0.0, 1.0, low_open=True, high_open=False)
        elif key in ("epsilon_cutoff", "eta_cutoff"):
            _check_number(path, value, 0.0, 1.0, low_open=False, high_open=True)
        elif key == "top_k":
            _check_int(path, value, 0, 1_000_000)
        elif key == "num_beams":
            _check_int(path, value, 1, MAX_BEAMS)
        elif key == "max_new_tokens":
            _check_int(path, value, 1, limit)
        elif key == "max_length":
            _check_int(path, value, prompt + 1, MAX_TARGET_POSITIONS)
        elif key == "min_new_tokens":
            _check_int(path, value, 0, limit)
        elif key == "min_length":
            _check_int(path, value, 0, MAX_TARGET_POSITIONS)
    for key in PIPELINE_ONLY:
        if key in params.extra:
            raise _bad(f"parameters.{key}", "not available in this reference")
    if params.extra.get("task", "transcribe") != "transcribe":
        raise _bad("parameters.task", "this reference only transcribes")
    if params.extra.get("language", "en") not in ("en", "english", "<|en|>"):
        raise _bad("parameters.language", "this reference only transcribes English")


def check_passthrough(params: InferenceParams) -> None:
    """Passthrough still refuses what the pipeline itself would (unknown keyword arguments), and numbers
    that ``generate()`` would turn into a 500 rather than a ValueError (implementation-defined 400s):
    infinities, NaN and integers beyond a float (OverflowError), and a temperature in (0, 1e-6) or beyond
    float32's range (logits divided into inf or NaN, then NaN probabilities)."""
    prefix = "parameters.generation_parameters"
    for key, value in params.generation.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and _as_float(value) is None:
            raise _bad(f"{prefix}.{key}", f"{str(value)[:20]} is not a finite number a float can hold")
    temperature = params.generation.get("temperature")
    if _is_number(temperature) and not (
        temperature <= 0 or MIN_TEMPERATURE <= temperature <= MAX_PASSTHROUGH_TEMPERATURE
    ):
        interval = f"[{MIN_TEMPERATURE:g}, {MAX_PASSTHROUGH_TEMPERATURE:.8g}]"
        raise _bad(f"{prefix}.temperature", f"{temperature!r} is above 0 but outside {interval}")
    for key in params.extra:
        if key in PIPELINE_ONLY:
            raise _bad(f"parameters.{key}", "not available in this reference")
    unknown = next(iter(params.extra), None)
    if unknown is not None:  # the HF service's 400 for an unknown pipeline keyword argument
        raise EngineError(
            400, {"error": f"_sanitize_parameters() got an unexpected keyword argument '{unknown}'"}
        )


def check_passthrough_cost(generation: dict[str, Any], audio_seconds: float) -> None:
    """Passthrough forwards odd values as sent, but refuses (400) a ``num_beams`` whose memory and time
    over this audio exceed :data:`PASSTHROUGH_BEAM_WINDOWS` beam-windows (implementation-defined)."""
    beams = generation.get("num_beams")
    number = _as_float(beams) if not isinstance(beams, bool) else None
    if number is None and isinstance(beams, int | float) and not isinstance(beams, bool):
        raise _bad("parameters.generation_parameters.num_beams", "not a finite number")
    if number is None or number <= 1:
        return  # not a number (generate() answers it) or no beam search
    windows = max(1, math.ceil(audio_seconds / 30.0))
    if number * windows > PASSTHROUGH_BEAM_WINDOWS:
        raise _bad(
            "parameters.generation_parameters.num_beams",
            f"{beams!r} beams over {windows} x 30 s of audio exceed this reference's budget of "
            f"{PASSTHROUGH_BEAM_WINDOWS} beam-windows",
        )


def generate_kwargs(params: InferenceParams, strict: bool) -> dict[str, Any]:
    """What goes to ``generate()``: passthrough is verbatim; strict drops nulls, defaults to greedy and
    makes ``do_sample`` mean what it says. Whisper's ``generate`` decides sampling by temperature alone
    (``do_sample: true`` without a temperature decodes greedily there), so strict mode adds
    ``temperature=1.0`` (transformers' sampling default) to ``do_sample: true`` and drops the temperature
    under ``do_sample: false``."""
    if not strict:
        return dict(params.generation)
    kwargs = {k: v for k, v in params.generation.items() if v is not None}
    kwargs.setdefault("num_beams", 1)
    if kwargs.get("do_sample") is True:
        kwargs.setdefault("temperature", 1.0)
    elif kwargs.get("do_sample") is False:
        kwargs.pop("temperature", None)
    return kwargs


def is_sampling(generation: dict[str, Any]) -> bool:
    """True when Whisper's ``generate`` will sample: whenever the temperature is above 0."""
    temperature = generation.get("temperature")
    return _is_number(temperature) and temperature > 0


__all__ = [
    "DOCUMENTED",
    "HUB_ONLY",
    "MAX_BEAMS",
    "MAX_PASSTHROUGH_TEMPERATURE",
    "MIN_TEMPERATURE",
    "PASSTHROUGH_BEAM_WINDOWS",
    "check_passthrough",
    "check_passthrough_cost",
    "check_strict",
    "generate_kwargs",
    "is_sampling",
]
