"""Helpers for the mock server tests: real audio files, URLs."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from asr_conformance.mock_server import audio

MODEL = "openai/whisper-large-v3"
PATH = f"/models/{MODEL}"


def tone(seconds: float, rate: int = 16000, channels: int = 1, gaps: bool = False) -> np.ndarray:
    """A 300 Hz tone; with ``gaps`` it sounds only in the first half of every second."""
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 300 * t)
    if gaps:
        wave = wave * ((t % 1.0) < 0.5)
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def wav(seconds: float = 2.0, **kwargs: Any) -> bytes:
    rate = kwargs.pop("rate", 16000)
    return audio.encode(tone(seconds, rate, **kwargs), rate, "wav")


def silence(seconds: float = 2.0, codec: str = "wav") -> bytes:
    return audio.encode(np.zeros((int(16000 * seconds), 1), dtype=np.float32), 16000, codec)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
