"""A request that times out frees the worker: the next request is not held behind its decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from asr_conformance.mock_server.engine import DecodedAudio, EngineError, InferenceParams
from asr_conformance.reference.whisper_engine import EngineSettings, WhisperEngine

pytestmark = [pytest.mark.whisper, pytest.mark.slow]


async def test_timed_out_decode_stops_and_the_queue_moves_on(tiny_en: Path) -> None:
    engine = WhisperEngine(EngineSettings(model=str(tiny_en), device="cpu", timeout_s=6.0))
    try:
        await engine.start()
        assert await engine.wait_ready(120)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
        audio = DecodedAudio(tone, 16000, 16000, 1, "wav", "0" * 64)
        # 8 beams forced to 400 tokens take tens of seconds on a CPU: far past the 6 s timeout
        slow_params = InferenceParams(generation={"num_beams": 8, "min_new_tokens": 400})
        with pytest.raises(EngineError) as slow:
            await engine.transcribe(audio, slow_params)
        assert slow.value.status == 504
        # Without a bound on generate() itself this request waits behind the slow decode and gets a 504 too.
        result = await engine.transcribe(audio, InferenceParams(generation={"num_beams": 1}))
        assert isinstance(result.text, str)
    finally:
        await engine.close()
