"""The same known speech in many forms: rates, channels, codecs, request forms, parameters.

Every variant is a :class:`Variant` (what was changed, and the request carrying it); the request is
built here, deterministically, so that the same variant sends the same bytes to every target.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from asr_conformance.conformance.behaviour.corpus import RATE
from asr_conformance.conformance.generation.audio import MIME
from asr_conformance.conformance.model import Request
from asr_conformance.mock_server.audio import encode
from asr_conformance.mock_server.audio_ffmpeg import resample

#: every request bypasses the cache: the same bytes must be decoded again (isolation, repeatability)
NO_CACHE = (("x-use-cache", "false"),)
#: the rates of the invariance check (the API documents none; these are the common recording rates)
RATES: tuple[int, ...] = (8000, 16000, 22050, 44100, 48000)
#: codecs of the invariance check (lossy ones at 16 kHz, where each stores the rate as is)
CODECS: tuple[str, ...] = ("wav", "flac", "mp3", "ogg", "opus", "webm", "m4a")


@dataclass(frozen=True)
class Variant:
    """One form of a clip: ``name`` says what differs from the clean 16 kHz mono raw WAV."""

    name: str
    codec: str
    rate: int
    channels: int
    form: str  # raw | json
    parameters: dict[str, Any] | None = None

    def describe(self) -> str:
        layout = "mono" if self.channels == 1 else "stereo"
        params = f", parameters {json.dumps(self.parameters, sort_keys=True)}" if self.parameters else ""
        return f"{self.form} {self.codec} {self.rate} Hz {layout}{params}"


CLEAN = Variant("clean", "wav", RATE, 1, "raw")


def invariance_variants() -> tuple[Variant, ...]:
    """Rates (WAV), stereo, each codec (16 kHz), and the JSON form: each differs from CLEAN in one way."""
    rates = tuple(Variant(f"rate {r}", "wav", r, 1, "raw") for r in RATES if r != RATE)
    codecs = tuple(Variant(f"codec {c}", c, RATE, 1, "raw") for c in CODECS if c != "wav")
    return (
        *rates,
        Variant("stereo 16000", "wav", RATE, 2, "raw"),
        Variant("stereo 44100", "wav", 44100, 2, "raw"),
        *codecs,
        Variant("form json", "wav", RATE, 1, "json"),
    )


def frames(samples: np.ndarray, rate: int, channels: int) -> np.ndarray:
    """16 kHz mono ``samples`` as ``(n, channels)`` at ``rate`` (FFmpeg's resampler)."""
    mono = samples if rate == RATE else resample([samples.reshape(-1, 1)], RATE, "mono", rate)
    mono = np.asarray(mono, dtype=np.float32)
    if channels == 1:
        return mono[:, None]
    # the right channel is quieter: a correct downmix differs from either channel, an interleaved
    # read does not look like the speech at all
    return np.stack([mono, np.float32(0.7) * mono], axis=1)


def request(samples: np.ndarray, variant: Variant) -> Request:
    """The request carrying ``samples`` (16 kHz mono speech) as ``variant``."""
    audio = encode(frames(samples, variant.rate, variant.channels), variant.rate, variant.codec)
    if variant.form == "raw" and not variant.parameters:
        return Request("POST", "", (("Content-Type", MIME[variant.codec]), *NO_CACHE), audio)
    payload: dict[str, Any] = {"inputs": base64.b64encode(audio).decode()}
    if variant.parameters:
        payload["parameters"] = variant.parameters
    body = json.dumps(payload).encode()
    return Request("POST", "", (("Content-Type", "application/json"), *NO_CACHE), body)


def with_parameters(variant: Variant, name: str, **parameters: Any) -> Variant:
    """The variant sent as JSON with ``parameters``."""
    return Variant(name, variant.codec, variant.rate, variant.channels, "json", parameters)


__all__ = ["CLEAN", "CODECS", "NO_CACHE", "RATES", "Variant", "frames", "invariance_variants", "request"]
