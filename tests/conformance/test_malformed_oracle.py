"""The malformed-audio oracle: every body the suite demands a 4xx for is refused by FFmpeg and libsndfile.

Walks every ``must_reject`` kind × codec × rate the generator can build (both forms, two seeds), and pins
that damage a mainstream decoder still reads (a WAV cut short) is implementation-defined instead.
"""

from __future__ import annotations

import base64
import json

import pytest
from asr_conformance.conformance.cases import AudioRecipe
from asr_conformance.conformance.generation import builders
from asr_conformance.conformance.generation.audio import CODEC_RATES, CODECS, render
from asr_conformance.conformance.generation.decoders import ffmpeg_reads, readers, sndfile_reads
from asr_conformance.conformance.generation.render import (
    MALFORMED_KINDS,
    READABLE_DAMAGE,
    NotMalformedError,
    build_requests,
    malformed_body,
)

ALL = [(codec, rate) for codec in CODECS for rate in CODEC_RATES[codec]]


def _sent_audio(case) -> bytes:
    (request,) = build_requests(case)
    if case.form == "json":
        return base64.b64decode(json.loads(request.body)["inputs"])
    return request.body


@pytest.mark.parametrize(("codec", "rate"), ALL)
def test_every_must_reject_body_is_refused_by_ffmpeg_and_libsndfile(codec, rate):
    for kind in MALFORMED_KINDS:
        for seed, form in ((3, "raw"), (4, "json")):
            recipe = AudioRecipe(codec, rate, 1 + seed % 2, "s16", 1.0, "tone", seed)
            case = builders.malformed("m", "coverage", recipe, kind, form, seed)
            assert case.kind == "malformed_audio", (kind, codec, rate)
            body = _sent_audio(case)
            assert not ffmpeg_reads(body), (kind, codec, rate, seed, "ffmpeg reads it")
            assert not sndfile_reads(body), (kind, codec, rate, seed, "libsndfile reads it")


@pytest.mark.parametrize("codec", CODECS)
def test_the_oracle_reads_good_audio(codec):
    # Without this the walk above could pass on an oracle that refuses everything.
    good = render(AudioRecipe(codec, 16000, 1, "s16", 1.0, "tone", 1))
    assert ffmpeg_reads(good)
    if codec in ("wav", "flac", "ogg"):
        assert sndfile_reads(good)


def test_a_truncated_wav_is_read_by_both_decoders_so_it_is_implementation_defined():
    good = render(AudioRecipe("wav", 16000, 1, "s16", 1.0, "tone", 1))
    short = good[: len(good) // 10]  # header declares 1 s, a tenth of the data is there
    assert readers(short) == ("ffmpeg", "libsndfile")
    case = builders.malformed(
        "m", "coverage", AudioRecipe("wav", 16000, 1, "s16", 1.0, "tone", 1), "cut_short", "raw", 1
    )
    assert "cut_short" in READABLE_DAMAGE
    assert case.kind == "implementation_defined"
    assert "[implementation-defined]" in (case.mutation or "")
    assert readers(_sent_audio(case))
    # ... while "truncated" (must_reject) skips that gentle cut for one no decoder reads.
    assert malformed_body("truncated", good, 1) != short


def test_a_kind_without_a_refused_body_is_an_error_not_a_4xx_demand(monkeypatch):
    from asr_conformance.conformance.generation import render as render_module

    monkeypatch.setattr(render_module, "refused_by_all", lambda body: False)
    render_module.malformed_body.cache_clear()
    try:
        with pytest.raises(NotMalformedError):
            render_module.malformed_body("random_bytes", b"RIFF", 99)
    finally:
        render_module.malformed_body.cache_clear()
