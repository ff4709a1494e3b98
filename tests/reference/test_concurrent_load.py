"""Two reference engines in one process may load at the same time (compare runs strict and passthrough)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from asr_conformance.mock_server.engine import DecodedAudio, InferenceParams
from asr_conformance.reference.whisper_engine import EngineSettings, WhisperEngine

pytestmark = [pytest.mark.whisper, pytest.mark.slow]


async def test_two_engines_load_concurrently_and_agree(tiny_en: Path) -> None:
    engines = [
        WhisperEngine(EngineSettings(model=str(tiny_en), device="cpu", validation=mode))
        for mode in ("strict", "passthrough")
    ]
    try:
        await asyncio.gather(*(e.start() for e in engines))
        ready = await asyncio.gather(*(e.wait_ready(120) for e in engines))
        assert ready == [True, True]
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
        audio = DecodedAudio(tone, 16000, 16000, 1, "wav", "0" * 64)
        params = InferenceParams(generation={"num_beams": 1})
        texts = [(await e.transcribe(audio, params)).text for e in engines]
        assert texts[0] == texts[1]
    finally:
        await asyncio.gather(*(e.close() for e in engines))
