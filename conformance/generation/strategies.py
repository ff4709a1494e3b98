"""Hypothesis strategies for the fuzz phase, built from the spec's domains (not from JSON Schema).

Generation is seeded and uses no example database, so the same seed and profile give the same cases
on every machine, and nothing (no request, no secret) is written to ``.hypothesis/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from conformance.cases import AudioRecipe, CaseSpec
from conformance.generation import builders
from conformance.generation.audio import CODEC_FORMATS, CODEC_RATES, CODECS, SENTENCES, espeak_available
from conformance.generation.render import MALFORMED_KINDS
from conformance.generation.values import FieldValue, by_bucket, survives_serialisation
from conformance.profiles import Profile

T = TypeVar("T")


#: codecs weighted by how often clients send them (and how cheap they are to render): lossless mostly
_CODEC_WEIGHTS = {"wav": 6, "flac": 4, "ogg": 1, "opus": 1, "mp3": 2, "webm": 1, "m4a": 1}
_CODEC = st.sampled_from([c for c in CODECS for _ in range(_CODEC_WEIGHTS[c])])
_RATE = {c: st.sampled_from(sorted(CODEC_RATES[c], key=lambda r: abs(r - 16000))) for c in CODECS}
_FORMAT = {c: st.sampled_from(CODEC_FORMATS[c]) for c in CODECS}
_LOSSLESS = frozenset({"wav", "flac"})


@st.composite
def recipes(
    draw: st.DrawFn, profile: Profile, kinds: Sequence[str] = ("tone", "noise", "silence")
) -> AudioRecipe:
    """Audio recipes the codec can store as drawn; simplest first (wav, 16 kHz, mono, short).

    Lossy encoders cost 10-50 ms a clip: their recipes come from a small pool of seeds and durations so
    that renders repeat (and hit the cache) while every codec, rate and layout still gets drawn.
    """
    codec = draw(_CODEC)
    rate = draw(_RATE[codec])
    channels = draw(st.sampled_from((1, 2)))
    sample_format = draw(_FORMAT[codec])
    lo, hi = round(profile.min_duration_s * 100), round(profile.max_duration_s * 100)
    kind = draw(st.sampled_from(tuple(kinds)))
    if codec in _LOSSLESS:
        # Mostly short clips (the target decodes every byte), now and then up to the profile's bound.
        short = st.integers(lo, min(hi, 300))
        centis = draw(st.one_of(*[short] * 5, st.integers(lo, hi)))
        seed = draw(st.integers(0, 2**16))
    else:
        centis = draw(st.sampled_from(sorted({lo, 50, 100, 250, min(hi, 600)})))
        seed = draw(st.integers(0, 3))
    text = SENTENCES[seed % len(SENTENCES)] if kind == "speech" else ""
    return AudioRecipe(codec, rate, channels, sample_format, centis / 100, kind, seed, text)


def fuzz_cases(profile: Profile, values: Sequence[FieldValue]) -> st.SearchStrategy[CaseSpec | None]:
    """Cases of every kind, weighted towards positive ones; ids are assigned by the caller."""
    accept = by_bucket(values, "must_accept")
    body_accept = [v for v in accept if not v.is_inputs]
    reject = [v for v in by_bucket(values, "must_reject") if survives_serialisation(v, accept)]
    impl = by_bucket(values, "implementation_defined")
    kinds = ("tone", "noise", "silence", "speech") if espeak_available() else ("tone", "noise", "silence")
    audio = recipes(profile, kinds)
    params = (
        st.lists(st.sampled_from(body_accept), max_size=4, unique_by=lambda v: v.path)
        if body_accept
        else (st.just([]))
    )

    @st.composite
    def one(draw: st.DrawFn) -> CaseSpec | None:
        recipe = draw(audio)
        choice = draw(
            st.sampled_from(
                ["positive"] * 10
                + ["negative"] * (5 if reject else 0)
                + ["implementation_defined"] * (2 if impl else 0)
                + ["malformed", "determinism", "forms"]
            )
        )
        if choice == "positive":
            form = draw(st.sampled_from(("raw", "json")))
            return builders.positive("", "fuzz", recipe, form, draw(params))
        if choice in ("negative", "implementation_defined"):
            change = draw(st.sampled_from(reject if choice == "negative" else impl))
            return builders.changed("", "fuzz", recipe, change, draw(params))
        if choice == "malformed":
            kind = draw(st.sampled_from(MALFORMED_KINDS))
            form = draw(st.sampled_from(("raw", "json")))
            return builders.malformed("", "fuzz", recipe, kind, form, recipe.seed)
        return builders.protocol("", "fuzz", recipe, choice, draw(st.sampled_from(("raw", "json"))))

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
