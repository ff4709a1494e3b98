"""The deterministic engine: synthetic transcripts that behave like a real model's, without a model.

* The same decoded audio, parameters and seed always give the same text; the words come from a fixed
  vocabulary, picked by SHAKE-128 of the decoded sound (:func:`pcm_digest`) and the server seed. Words
  follow the samples, not the container's bytes: lossless re-encodings (WAV, FLAC, JSON or raw) of the
  same audio give the same transcript, as real engines do. Fixtures are still found by the bytes' sha256.
* Only sound makes words: 20 ms frames quieter than -50 dBFS are silence, so silence gives ``""`` and the
  number of words is proportional to the non-silent duration (``words_per_second``).
* Timestamps are segment chunks (like Whisper's): within [0, duration], never decreasing, chunk texts
  joining exactly to ``text`` (first chunk without a leading space, the others with one).
* ``max_new_tokens`` truncates (one word = one token).
* ``--fixtures FILE``: recorded responses for known audio replace the synthetic text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import Chunk, DecodedAudio, InferenceParams, Transcription
from asr_conformance.mock_server.request import params_from_json

FRAME_S = 0.02
SILENCE_DBFS = -50.0
#: quiet gaps shorter than this do not split a stretch of speech
MERGE_GAP_S = 0.3
#: most words in one chunk (Whisper segments are a sentence or so)
WORDS_PER_CHUNK = 8
#: timestamps are reported at Whisper's resolution
TIMESTAMP_STEP_S = 0.02

_WORDS = """the a man said to universe sir i exist however fact has not created in me sense of obligation
    quick brown fox jumps over lazy dog she sells sea shells by shore rain spain stays mainly plain
    we hold these truths be self evident all are equal it was best times worst age wisdom foolishness
    call me ishmael some years ago never mind how long precisely having little or no money my purse
    nothing particular interest on thought would sail about see watery part world way have driving off
    spleen regulating circulation whenever find myself growing grim mouth damp drizzly november soul
    then account high time get sea soon can this substitute pistol ball with philosophical flourish
    cato throws himself upon his sword quietly take ship there is surprising if they but knew almost
    men their degree other cherish very nearly same feelings towards ocean"""
VOCABULARY: tuple[str, ...] = tuple(_WORDS.split())


@dataclass(frozen=True)
class _Fixture:
    text: str
    chunks: tuple[Chunk, ...] | None


class MockEngine:
    """Implements :class:`asr_conformance.mock_server.engine.Engine` with synthetic, reproducible
    transcripts.
    """

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self.compute_type = config.compute_type
        self.model_sha = config.model_sha
        self._ready_at = 0.0
        self._fixtures = load_fixtures(config.fixtures) if config.fixtures else {}
        self._calls = 0  # only the nondeterministic-text violation uses it

    async def start(self) -> None:
        self._ready_at = time.monotonic() + self.config.loading_seconds

    def is_ready(self) -> bool:
        return time.monotonic() >= self._ready_at

    def estimated_load_seconds(self) -> float:
        return max(0.0, self._ready_at - time.monotonic())

    async def wait_ready(self, timeout: float) -> bool:
        remaining = self.estimated_load_seconds()
        if remaining > timeout:
            await asyncio.sleep(timeout)
            return False
        await asyncio.sleep(remaining)
        return True

    def validate(self, params: InferenceParams) -> None:
        """The mock takes every parameter the spec allows."""

    async def transcribe(self, audio: DecodedAudio, params: InferenceParams) -> Transcription:
        return self.transcribe_sync(audio, params)

    def transcribe_sync(self, audio: DecodedAudio, params: InferenceParams) -> Transcription:
        """The whole work of :meth:`transcribe`, without the coroutine (the front calls it inline)."""
        power = frame_power(audio.samples, audio.sample_rate)
        regions = regions_of(power)
        fixture = self._fixture(audio.sha256, params)
        if fixture is not None:
            if not params.return_timestamps:
                return Transcription(fixture.text)
            if fixture.chunks is not None:
                return Transcription(fixture.text, fixture.chunks)
            words = fixture.text.split()
        else:
            words = self._words(audio, regions, power)
        limit = params.generation.get("max_new_tokens")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
            words = words[:limit]
        if not params.return_timestamps:
            return Transcription(" ".join(words))  # what the chunks would join to
        chunks = place_words(words, regions, audio.duration_s)
        return Transcription("".join(c.text for c in chunks), chunks)

    async def close(self) -> None:
        """Nothing to release."""

    def _words(self, audio: DecodedAudio, regions: list[tuple[float, float]], power: np.ndarray) -> list[str]:
        voiced = sum(end - start for start, end in regions)
        if voiced <= 0:
            return []
        count = max(1, round(voiced * self.config.words_per_second))
        salt = ""
        if self.config.violates("nondeterministic-text"):
            self._calls += 1
            salt = f":{self._calls}"
        # an extendable-output hash is the PRNG: one C call for all the word picks
        stream = hashlib.shake_128(f"{pcm_digest(power, regions)}:{self.config.seed}{salt}".encode()).digest(
            2 * count
        )
        size = len(VOCABULARY)
        return [VOCABULARY[int.from_bytes(stream[i : i + 2]) % size] for i in range(0, 2 * count, 2)]

    def _fixture(self, sha256: str, params: InferenceParams) -> _Fixture | None:
        if not self._fixtures:
            return None
        return self._fixtures.get((sha256, params.canonical())) or self._fixtures.get((sha256, None))


def pcm_digest(power: np.ndarray, regions: list[tuple[float, float]]) -> str:
    """A digest of what the audio sounds like, stable across lossless re-encodings.

    Two decoders of the same PCM (the WAV fast path, FFmpeg) differ by a few 1e-5 after resampling, so
    the samples themselves cannot be hashed: the voiced regions (20 ms steps) and each region's level
    (0.5 dB steps, from the frame powers ``regions_of`` already used) are, which also tells different
    speech apart.
    """
    parts = []
    for start, end in regions:  # a Python loop: cheaper than numpy's call overhead for a few regions
        first, last = round(start / FRAME_S), round(end / FRAME_S)
        mean = float(power[first:last].sum()) / max(1, last - first)
        level = round(20 * math.log10(max(mean, 1e-12)))  # twice the level in dB: 0.5 dB steps
        parts.append(f"{first}-{last}@{level}")
    return hashlib.sha256(",".join(parts).encode()).hexdigest()


def frame_power(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mean square of each whole 20 ms frame."""
    frame = max(1, int(rate * FRAME_S))
    count = len(samples) // frame
    frames = samples[: count * frame].reshape(count, frame)
    return np.einsum("ij,ij->i", frames, frames) / frame


def regions_of(power: np.ndarray) -> list[tuple[float, float]]:
    """Stretches of sound in a frame-power series as (start_s, end_s), short gaps merged."""
    loud = power > 10 ** (SILENCE_DBFS / 10)
    if not loud.any():
        return []
    # edges of runs of loud frames
    padded = np.concatenate(([False], loud, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    regions: list[tuple[float, float]] = []
    for start_i, end_i in zip(edges[::2], edges[1::2], strict=True):
        start, end = float(start_i) * FRAME_S, float(end_i) * FRAME_S
        if regions and start - regions[-1][1] < MERGE_GAP_S:
            regions[-1] = (regions[-1][0], end)
        else:
            regions.append((start, end))
    return regions


def voiced_regions(samples: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """Stretches of sound as (start_s, end_s), 20 ms resolution, short gaps merged."""
    return regions_of(frame_power(samples, rate))


def _snap(t: float, duration: float) -> float:
    """Round to the timestamp resolution without leaving [0, duration]."""
    snapped = round(round(t / TIMESTAMP_STEP_S) * TIMESTAMP_STEP_S, 2)
    if snapped > duration:
        snapped = np.floor(duration / TIMESTAMP_STEP_S) * TIMESTAMP_STEP_S
    return max(0.0, round(float(snapped), 2))


def place_words(words: list[str], regions: list[tuple[float, float]], duration: float) -> tuple[Chunk, ...]:
    """Share ``words`` out over the voiced regions (by length), evenly inside each; a chunk never spans
    a silence and holds at most WORDS_PER_CHUNK words."""
    if not words:
        return ()
    if not regions:
        regions = [(0.0, duration)]
    counts = _shares(len(words), [end - start for start, end in regions])
    chunks: list[Chunk] = []
    remaining = iter(words)
    for (start, end), count in zip(regions, counts, strict=True):
        if count == 0:
            continue
        step = (end - start) / count
        region_words = [next(remaining) for _ in range(count)]
        for first in range(0, count, WORDS_PER_CHUNK):
            group = region_words[first : first + WORDS_PER_CHUNK]
            t0 = start + first * step
            t1 = start + (first + len(group)) * step
            chunks.append(_chunk(group, t0, t1, first=not chunks, duration=duration))
    return tuple(chunks)


def _shares(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder, ties to the earlier region)."""
    weight_sum = sum(weights) or 1.0
    exact = [total * w / weight_sum for w in weights]
    counts = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _chunk(words: list[str], start: float, end: float, *, first: bool, duration: float) -> Chunk:
    text = " ".join(words)
    t0 = _snap(start, duration)
    return Chunk(text if first else " " + text, t0, max(t0, _snap(end, duration)))


def load_fixtures(path: Path) -> dict[tuple[str, str | None], _Fixture]:
    """Read a fixtures file: ``{"fixtures": [{"sha256", "parameters"?, "response": {...}}]}``.

    ``parameters`` (the JSON ``parameters`` object, optional) narrows an entry to requests with exactly
    those parameters; without it the entry serves the audio whatever the parameters.
    """
    data = json.loads(Path(path).read_text())
    entries = data.get("fixtures") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected an object with a 'fixtures' list")
    table: dict[tuple[str, str | None], _Fixture] = {}
    for index, entry in enumerate(entries):
        try:
            sha = str(entry["sha256"]).lower()
            response = entry["response"]
            text = response["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
            raw_chunks = response.get("chunks")
            chunks = None
            if raw_chunks is not None:
                chunks = tuple(_fixture_chunk(c) for c in raw_chunks)
            key = None
            if entry.get("parameters") is not None:
                key = params_from_json(entry["parameters"]).canonical()
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: fixture #{index} is malformed: {exc}") from exc
        table[(sha, key)] = _Fixture(text, chunks)
    return table


def _fixture_chunk(raw: dict[str, Any]) -> Chunk:
    stamp = raw.get("timestamp", raw.get("timestamps"))
    if not isinstance(stamp, list) or len(stamp) != 2:
        raise ValueError("chunk timestamp must be [start, end]")
    return Chunk(str(raw["text"]), float(stamp[0]), None if stamp[1] is None else float(stamp[1]))


__all__ = ["VOCABULARY", "MockEngine", "load_fixtures", "pcm_digest", "place_words", "voiced_regions"]
