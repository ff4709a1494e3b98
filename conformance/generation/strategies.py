"""Hypothesis strategies for the fuzz phase, built from the spec's domains (not from JSON Schema).

Generation is seeded and uses no example database, so the same seed and profile give the same cases
on every machine, and nothing (no request, no secret) is written to ``.hypothesis/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from asr_conformance.conformance.cases import AudioRecipe, CaseSpec
from asr_conformance.conformance.generation import builders
from asr_conformance.conformance.generation.audio import (
    CODEC_FORMATS,
    CODEC_RATES,
    CODECS,
    SENTENCES,
    espeak_available,
)
from asr_conformance.conformance.generation.profiles import Profile
from asr_conformance.conformance.generation.render import MALFORMED_KINDS, READABLE_DAMAGE
from asr_conformance.conformance.generation.values import FieldValue, by_bucket, survives_serialisation
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

T = TypeVar("T")


#: codecs weighted by how often clients send them (and how cheap they are to render): lossless mostly
_CODEC_WEIGHTS = {"wav": 6, "flac": 4, "ogg": 1, "opus": 1, "mp3": 2, "webm": 1, "m4a": 1}
_CODEC = st.sampled_from([c for c in CODECS for _ in range(_CODEC_WEIGHTS[c])])
_RATE = {c: st.sampled_from(sorted(CODEC_RATES[c], key=lambda r: abs(r - 16000))) for c in CODECS}
_FORMAT = {c: st.sampled_from(CODEC_FORMATS[c]) for c in CODECS}
_LOSSLESS = frozenset({"wav", "flac"})


def recipes(
    profile: Profile, kinds: Sequence[str] = ("tone", "noise", "silence")
) -> st.SearchStrategy[AudioRecipe]:
    """Audio recipes the codec can store as drawn; simplest first (wav, 16 kHz, mono, short).

    Lossy encoders cost 10-50 ms a clip: their recipes come from a small pool of seeds and durations so
    that renders repeat (and hit the cache) while every codec, rate and layout still gets drawn.
    """
    lo, hi = round(profile.min_duration_s * 100), round(profile.max_duration_s * 100)
    short = st.integers(lo, min(hi, 300))
    # Mostly short clips (the target decodes every byte), now and then up to the profile's bound.
    lossless_centis = st.one_of(*[short] * 5, st.integers(lo, hi))
    lossy_centis = st.sampled_from(sorted({lo, 50, 100, 250, min(hi, 600)}))
    lossless_seed, lossy_seed = st.integers(0, 2**16), st.integers(0, 3)
    channels, kind_st = st.sampled_from((1, 2)), st.sampled_from(tuple(kinds))

    @st.composite
    def recipe(draw: st.DrawFn) -> AudioRecipe:
        codec = draw(_CODEC)
        rate = draw(_RATE[codec])
        n_channels = draw(channels)
        sample_format = draw(_FORMAT[codec])
        kind = draw(kind_st)
        lossless = codec in _LOSSLESS
        centis = draw(lossless_centis if lossless else lossy_centis)
        seed = draw(lossless_seed if lossless else lossy_seed)
        text = SENTENCES[seed % len(SENTENCES)] if kind == "speech" else ""
        return AudioRecipe(codec, rate, n_channels, sample_format, centis / 100, kind, seed, text)

    return recipe()


def fuzz_cases(profile: Profile, values: Sequence[FieldValue]) -> st.SearchStrategy[CaseSpec | None]:
    """Cases of every kind, weighted towards positive ones; ids are assigned by the caller.

    Every sub-strategy is built once, here: building strategies inside a draw costs hypothesis a
    validation per example.
    """
    accept = by_bucket(values, "must_accept")
    body_accept = [v for v in accept if not v.is_inputs]
    reject = [v for v in by_bucket(values, "must_reject") if survives_serialisation(v, accept)]
    impl = by_bucket(values, "implementation_defined")
    kinds = ("tone", "noise", "silence", "speech") if espeak_available() else ("tone", "noise", "silence")
    audio = recipes(profile, kinds)
    params = (
        st.lists(st.sampled_from(body_accept), max_size=4, unique_by=lambda v: v.path)
        if body_accept
        else st.just([])
    )
    choices = st.sampled_from(
        ["positive"] * 10
        + ["negative"] * (5 if reject else 0)
        + ["implementation_defined"] * (2 if impl else 0)
        + ["malformed", "determinism", "forms"]
    )
    forms = st.sampled_from(("raw", "json"))
    changes = {
        "negative": st.sampled_from(reject or [None]),
        "implementation_defined": st.sampled_from(impl or [None]),
    }
    malformed_kinds = st.sampled_from((*MALFORMED_KINDS, *READABLE_DAMAGE))

    @st.composite
    def one(draw: st.DrawFn) -> CaseSpec | None:
        recipe = draw(audio)
        choice = draw(choices)
        if choice == "positive":
            return builders.positive("", "fuzz", recipe, draw(forms), draw(params))
        if choice in changes:
            return builders.changed("", "fuzz", recipe, draw(changes[choice]), draw(params))
        if choice == "malformed":
            kind = draw(malformed_kinds)
            return builders.malformed("", "fuzz", recipe, kind, draw(forms), recipe.seed)
        return builders.protocol("", "fuzz", recipe, choice, draw(forms))

    return one()


def draw_examples(strategy: st.SearchStrategy[T], n: int, seed: int) -> list[T]:
    """Up to ``n`` examples of ``strategy``, the same ones for the same seed (no database, no shrinking)."""
    out: list[T] = []

    @settings(
        max_examples=max(1, n),
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: T) -> None:
        out.append(example)

    run: Callable[[], None] = hypothesis_seed(seed)(collect)
    run()
    return out[:n]


__all__ = ["draw_examples", "fuzz_cases", "recipes"]
