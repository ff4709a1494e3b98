"""Broken recognisers: switches that wrap ANY engine and break one behaviour of what it hears.

:class:`ViolatingEngine` sits at the front/engine seam, so the same switch breaks the mock and the
real Whisper reference alike (``asr-conformance reference --violate truncate-30s``). Each switch
emulates a bug alternative implementations really ship, from the audio the front decoded:

* ``no-resample`` / ``interleaved-stereo`` rebuild what a server that skips resampling or reads
  stereo frames as mono would have fed its model (time-stretched speech);
* ``truncate-30s``, ``timestamps-reset-per-window``, ``ignore-max-new-tokens``, ``empty-transcript``
  change the input or the answer directly;
* ``crosstalk-under-load`` hands a request the answer of another one decoded at the same time.

The behavioural checks (``asr_conformance.conformance.behaviour``) must fire on each.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from asr_conformance.mock_server.engine import Chunk, DecodedAudio, Engine, InferenceParams, Transcription

ENGINE_VIOLATIONS: dict[str, str] = {
    "no-resample": "audio is fed to the model at its own rate as if it were 16 kHz (8 kHz plays 2x fast)",
    "interleaved-stereo": "stereo frames are read as mono samples (L R L R ...: twice as long, half speed)",
    "truncate-30s": "only the first 30 s of the audio are transcribed",
    "timestamps-reset-per-window": "chunk times restart at 0 in every 30 s window",
    "ignore-max-new-tokens": "`generation_parameters.max_new_tokens` is silently ignored",
    "crosstalk-under-load": "a request decoded while others are in flight gets another request's answer",
    "empty-transcript": 'every answer is `{"text": ""}` (no chunks)',
}
WINDOW_S = 30.0


def _stretch(samples: np.ndarray, factor: float) -> np.ndarray:
    """``samples`` played ``factor`` times slower (linear interpolation; > 1 lengthens)."""
    n = max(1, round(len(samples) * factor))
    positions = np.linspace(0, len(samples) - 1, n)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


class ViolatingEngine:
    """An :class:`Engine` around ``inner`` with the named switches on (``switches`` may change later)."""

    def __init__(self, inner: Engine, switches: tuple[str, ...] | set[str] = ()) -> None:
        unknown = sorted(set(switches) - set(ENGINE_VIOLATIONS))
        if unknown:
            raise ValueError(f"unknown engine violation(s) {unknown}; known: {', '.join(ENGINE_VIOLATIONS)}")
        self.inner = inner
        self.switches: set[str] = set(switches)
        self._in_flight = 0
        self._last: tuple[str, Transcription] | None = None  # (sha256, answer) of the last one done

    def __getattr__(self, name: str) -> Any:  # compute_type, model_sha, load_error, runner, ...
        return getattr(self.inner, name)

    async def start(self) -> None:
        await self.inner.start()

    def is_ready(self) -> bool:
        return self.inner.is_ready()

    def estimated_load_seconds(self) -> float:
        return self.inner.estimated_load_seconds()

    async def wait_ready(self, timeout: float) -> bool:
        return await self.inner.wait_ready(timeout)

    def validate(self, params: InferenceParams) -> None:
        self.inner.validate(params)

    async def close(self) -> None:
        await self.inner.close()

    async def transcribe(self, audio: DecodedAudio, params: InferenceParams) -> Transcription:
        on = self.switches
        audio = self._broken_input(audio)
        if "ignore-max-new-tokens" in on and "max_new_tokens" in params.generation:
            generation = {k: v for k, v in params.generation.items() if k != "max_new_tokens"}
            params = dataclasses.replace(params, generation=generation)
        self._in_flight += 1
        crowded = self._in_flight > 1
        try:
            result = await self.inner.transcribe(audio, params)
            crowded = crowded or self._in_flight > 1
        finally:
            self._in_flight -= 1
        if "crosstalk-under-load" in on:
            previous, self._last = self._last, (audio.sha256, result)
            if crowded and previous is not None and previous[0] != audio.sha256:
                result = previous[1]
        if "timestamps-reset-per-window" in on and result.chunks:
            result = Transcription(result.text, tuple(_reset(c) for c in result.chunks))
        if "empty-transcript" in on:
            result = Transcription("", () if params.return_timestamps else None)
        return result

    def _broken_input(self, audio: DecodedAudio) -> DecodedAudio:
        samples = audio.samples
        if "no-resample" in self.switches and audio.source_sample_rate != audio.sample_rate:
            # the source rate's samples, read at the model's rate: slower above 16 kHz, faster below
            samples = _stretch(samples, audio.source_sample_rate / audio.sample_rate)
        if "interleaved-stereo" in self.switches and audio.source_channels == 2:
            samples = np.repeat(samples, 2)  # each frame's two samples in turn: half speed
        if "truncate-30s" in self.switches:
            samples = samples[: int(WINDOW_S * audio.sample_rate)]
        if samples is audio.samples:
            return audio
        return dataclasses.replace(audio, samples=np.ascontiguousarray(samples, dtype=np.float32))


def _reset(chunk: Chunk) -> Chunk:
    window = WINDOW_S * int(chunk.start // WINDOW_S)
    end = None if chunk.end is None else max(0.0, round(chunk.end - window, 2))
    return Chunk(chunk.text, round(chunk.start - window, 2), end)


def wrap(engine: Engine, switches: tuple[str, ...]) -> Engine:
    """``engine`` itself without switches, else wrapped."""
    return ViolatingEngine(engine, switches) if switches else engine


__all__ = ["ENGINE_VIOLATIONS", "ViolatingEngine", "wrap"]
