"""Hostile input against the reference's front and engine: no mock controls, no faults, no 5xx from
values that would crash ``generate()``, bounded passthrough, one deadline per request.

Most tests drive the real :class:`WhisperEngine` over a recording stand-in for the model (fast); the last
one decodes a long clip with tiny.en to show the deadline spans every 30 s window.
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asr_conformance.mock_server.engine import DecodedAudio, EngineError, InferenceParams, Transcription
from asr_conformance.mock_server.front import create_app
from asr_conformance.reference.whisper_engine import EngineSettings, WhisperEngine, front_config

pytestmark = [pytest.mark.whisper, pytest.mark.slow]

PATH = "/models/openai/whisper-large-v3"


class RecordingRunner:
    """Stands in for a loaded model: records what it was asked, answers at once."""

    multilingual = False

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def run(
        self, audios, generation, return_timestamps=False, seed=None, deadline=None
    ) -> list[Transcription]:
        self.calls.append({"generation": dict(generation), "deadline": deadline, "n": len(audios)})
        return [Transcription(text="ok") for _ in audios]


def wav_bytes(seconds: float) -> bytes:
    from asr_conformance.mock_server.audio import encode

    tone = 0.2 * np.sin(2 * np.pi * 300 * np.arange(int(16000 * seconds)) / 16000)
    return encode(tone.astype(np.float32)[:, None], 16000, "wav")


async def serve(aiohttp_client, validation: str = "strict", timeout_s: float = 300.0):
    runner = RecordingRunner()
    settings = EngineSettings(model="stand-in", device="cpu", validation=validation, timeout_s=timeout_s)  # type: ignore[arg-type]
    engine = WhisperEngine(settings, runner=runner)  # type: ignore[arg-type]
    client = await aiohttp_client(create_app(engine, front_config(engine)))
    return client, runner


async def post_json(client, parameters: dict[str, Any], seconds: float = 0.5):
    body = {"inputs": base64.b64encode(wav_bytes(seconds)).decode(), "parameters": parameters}
    return await client.post(PATH, json=body)


async def test_the_reference_has_no_mock_controls_and_honours_no_faults(aiohttp_client) -> None:
    client, runner = await serve(aiohttp_client)
    for method, path in [
        ("GET", "/__mock/requests"),
        ("POST", "/__mock/scenario"),
        ("POST", "/__mock/reset"),
    ]:
        resp = await client.request(method, path, data=b'{"sequence": ["status=500"]}')
        assert resp.status == 404 and "error" in await resp.json()
    for fault in ({"x-mock-fault": "status=500"}, {"Prefer": "code=503"}, {"x-mock-fault": "reset"}):
        resp = await client.post(PATH, data=wav_bytes(0.5), headers={**fault, "x-use-cache": "false"})
        assert resp.status == 200, fault
    assert len(runner.calls) == 3


@pytest.mark.parametrize(
    "generation",
    [
        {"temperature": 1e-45},
        {"temperature": 5e-324},
        {"do_sample": True, "temperature": 1e-300},
        {"temperature": 10**400},
        {"top_p": 10**400},
        {"typical_p": -(10**400)},
        {"top_k": 10**400},
        {"max_new_tokens": 10**400},
    ],
    ids=["1e-45", "5e-324", "1e-300-sampled", "temperature-400-digits", "top_p-400-digits",
         "typical_p-minus-400-digits", "top_k-400-digits", "max_new_tokens-400-digits"],
)  # fmt: skip
async def test_strict_refuses_values_that_would_crash_generate(aiohttp_client, generation) -> None:
    client, runner = await serve(aiohttp_client)
    resp = await post_json(client, {"generation_parameters": generation})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"].startswith("parameters.generation_parameters.")
    assert runner.calls == []


async def test_strict_still_samples_at_small_sane_temperatures(aiohttp_client) -> None:
    client, runner = await serve(aiohttp_client)
    resp = await post_json(client, {"generation_parameters": {"temperature": 1e-6}})
    assert resp.status == 200
    assert runner.calls[0]["generation"]["temperature"] == 1e-6


@pytest.mark.parametrize(
    ("num_beams", "seconds", "status"),
    [(10**9, 0.5, 400), (64, 25.0, 200), (16, 300.0, 400), (4, 300.0, 200)],
)
async def test_passthrough_bounds_beams_times_audio(aiohttp_client, num_beams, seconds, status) -> None:
    client, runner = await serve(aiohttp_client, validation="passthrough")
    resp = await post_json(client, {"generation_parameters": {"num_beams": num_beams}}, seconds)
    assert resp.status == status, await resp.text()
    assert bool(runner.calls) == (status == 200)


@pytest.mark.parametrize(
    "generation",
    [
        {"temperature": float("inf")},
        {"temperature": 5e-324},
        {"temperature": 10**400},
        {"top_p": float("nan")},
        {"temperature": 1e116},
        {"temperature": 3.5e38},
    ],
    ids=["inf", "5e-324", "400-digits", "nan", "1e116", "beyond-float32"],
)
async def test_passthrough_refuses_numbers_that_would_crash_generate(aiohttp_client, generation) -> None:
    # bench/soak.py found these as 500 "unknown error" (NaN probabilities, OverflowError in generate())
    client, runner = await serve(aiohttp_client, validation="passthrough")
    resp = await post_json(client, {"generation_parameters": generation})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"].startswith("parameters.generation_parameters.")
    assert runner.calls == []
    for temperature in (1e-6, 3.4e38):  # the extremes passthrough still forwards
        resp = await post_json(client, {"generation_parameters": {"temperature": temperature, "top_p": 0.5}})
        assert resp.status == 200 and runner.calls[-1]["generation"]["temperature"] == temperature


async def test_one_deadline_per_request_reaches_the_model(aiohttp_client) -> None:
    client, runner = await serve(aiohttp_client, timeout_s=7.0)
    before = time.time()
    assert (await post_json(client, {})).status == 200
    (call,) = runner.calls
    assert before + 7.0 <= call["deadline"] <= time.time() + 7.0
    assert "max_time" not in call["generation"]  # no per-window budget any more


async def test_hostile_bodies_get_no_5xx(aiohttp_client) -> None:
    client, _ = await serve(aiohttp_client)
    for body in (b"[" * 100_000, b"RIFF\x00\x00\x00\x00WAVE" + b"junk\x00\x00\x00\x00" * 1000, b"\xff" * 64):
        resp = await client.post(PATH, data=body, headers={"Content-Type": "application/json"})
        assert 400 <= resp.status < 500 and "error" in await resp.json()
    resp = await client.post(PATH, data=wav_bytes(0.5), headers={"User-Agent": "caf\udce9"})
    assert resp.status < 500


async def test_long_form_decoding_stops_at_the_request_deadline(tiny_en: Path) -> None:
    """A 120 s clip with 8 beams takes minutes on a CPU; with a 5 s timeout the worker is free soon after
    the 504 (before: each 30 s window had its own 5 s budget, 20 s and more in all)."""
    engine = WhisperEngine(EngineSettings(model=str(tiny_en), device="cpu", timeout_s=5.0))
    try:
        await engine.start()
        assert await engine.wait_ready(120)
        rng = np.random.default_rng(0)
        noise = (0.1 * rng.standard_normal(16000 * 120)).astype(np.float32)
        long_clip = DecodedAudio(noise, 16000, 16000, 1, "wav", "0" * 64)
        with pytest.raises(EngineError) as slow:
            await engine.transcribe(long_clip, InferenceParams(generation={"num_beams": 8}))
        assert slow.value.status == 504
        answered_at = time.monotonic()
        # the one worker thread runs this only once the decode has stopped
        await asyncio.get_running_loop().run_in_executor(engine._executor, lambda: None)
        assert time.monotonic() - answered_at < 10
    finally:
        await engine.close()
