"""The deterministic engine: transcripts that follow the audio, timestamps that obey the contract."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from asr_conformance.mock_server import audio
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import InferenceParams
from asr_conformance.mock_server.mock_engine import MockEngine, voiced_regions
from mock_helpers import PATH, b64, silence, tone, wav


def decoded(data: bytes) -> audio.DecodedAudio:
    return audio.decode(data)


async def transcribe(data: bytes, config: MockConfig | None = None, **params) -> tuple:
    engine = MockEngine(config or MockConfig())
    await engine.start()
    return await engine.transcribe(decoded(data), InferenceParams(**params))


async def test_same_audio_same_text_and_seed_matters() -> None:
    data = wav(3.0)
    a = await transcribe(data)
    b = await transcribe(data)
    c = await transcribe(data, MockConfig(seed=1))
    assert a.text == b.text and a.text != c.text


async def test_silence_gives_empty_text() -> None:
    for codec in ("wav", "flac", "mp3"):
        result = await transcribe(silence(2.0, codec), return_timestamps=True)
        assert result.text == "" and result.chunks == ()


@pytest.mark.parametrize("seconds", [1.0, 4.0, 12.0])
async def test_words_proportional_to_sound(seconds) -> None:
    result = await transcribe(wav(seconds))
    assert len(result.text.split()) == round(seconds * MockConfig().words_per_second)


async def test_only_sound_counts() -> None:
    gappy = await transcribe(wav(6.0, gaps=True))  # sounds half of the time
    assert len(gappy.text.split()) == round(3.0 * MockConfig().words_per_second)


@pytest.mark.parametrize(
    ("seconds", "gaps"), [(0.3, False), (2.0, False), (9.97, False), (7.0, True), (31.0, True)]
)
async def test_timestamp_invariants(seconds, gaps) -> None:
    data = wav(seconds, gaps=gaps)
    duration = decoded(data).duration_s
    result = await transcribe(data, return_timestamps=True)
    assert result.chunks
    assert "".join(c.text for c in result.chunks) == result.text
    assert " ".join(c.text.strip() for c in result.chunks) == result.text
    previous_end = 0.0
    for chunk in result.chunks:
        assert 0.0 <= chunk.start <= chunk.end <= duration
        assert chunk.start >= previous_end - 1e-9
        previous_end = chunk.end
    plain = await transcribe(data)
    assert plain.text == result.text and plain.chunks is None


async def test_chunks_never_span_silence() -> None:
    result = await transcribe(wav(4.0, gaps=True), return_timestamps=True)
    for chunk in result.chunks:
        # sound is in [k, k + 0.5) for each second k
        assert int(chunk.start) == int(chunk.end - 1e-6)


@pytest.mark.parametrize("limit", [0, 1, 3, 1000])
async def test_max_new_tokens_truncates(limit) -> None:
    full = await transcribe(wav(4.0))
    cut = await transcribe(wav(4.0), generation={"max_new_tokens": limit}, return_timestamps=True)
    assert cut.text.split() == full.text.split()[:limit]
    assert "".join(c.text for c in cut.chunks) == cut.text


async def test_loading_state() -> None:
    engine = MockEngine(MockConfig(loading_seconds=0.3))
    await engine.start()
    assert not engine.is_ready() and 0 < engine.estimated_load_seconds() <= 0.3
    assert not await engine.wait_ready(0.05)
    assert await engine.wait_ready(1.0)
    assert engine.is_ready() and engine.estimated_load_seconds() == 0


def test_voiced_regions_merge_short_gaps() -> None:
    t = np.arange(16000 * 2) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 300 * t) * ~((t > 0.9) & (t < 1.0))).astype(np.float32)
    assert voiced_regions(wave, 16000) == [(0.0, 2.0)]


# -------------------------------------------------------------------------------------- fixtures


def write_fixtures(tmp_path, entries) -> MockConfig:
    path = tmp_path / "fixtures.json"
    path.write_text(json.dumps({"fixtures": entries}))
    return MockConfig(fixtures=path)


async def test_fixtures_replace_the_synthetic_text(tmp_path, make_client) -> None:
    data = wav(2.0)
    sha = audio.decode(data).sha256
    entries = [
        {"sha256": sha, "response": {"text": "a man said to the universe sir i exist"}},
        {
            "sha256": sha,
            "parameters": {"return_timestamps": True},
            "response": {
                "text": " hello there",
                "chunks": [
                    {"text": " hello", "timestamp": [0.0, 0.8]},
                    {"text": " there", "timestamp": [0.8, 1.5]},
                ],
            },
        },
    ]
    config = write_fixtures(tmp_path, entries)
    client = await make_client(fixtures=config.fixtures)
    plain = await (await client.post(PATH, data=data)).json()
    assert plain == {"text": "a man said to the universe sir i exist"}
    stamped = await (
        await client.post(PATH, json={"inputs": b64(data), "parameters": {"return_timestamps": True}})
    ).json()
    assert stamped["text"] == " hello there" and stamped["chunks"][1]["timestamp"] == [0.8, 1.5]
    # other parameters fall back to the parameter-less entry; timestamps are spread over the sound
    other = await (
        await client.post(
            PATH,
            json={
                "inputs": b64(data),
                "parameters": {"return_timestamps": True, "generation_parameters": {"num_beams": 2}},
            },
        )
    ).json()
    assert other["text"] == plain["text"]
    assert "".join(c["text"] for c in other["chunks"]) == other["text"]
    # unknown audio still gets a synthetic text
    assert (await (await client.post(PATH, data=wav(1.0))).json())["text"]


def test_malformed_fixtures_are_reported(tmp_path) -> None:
    for bad in (
        [],
        {"fixtures": [{"sha256": "x"}]},
        {"fixtures": [{"sha256": "x", "response": {"text": 3}}]},
    ):
        path = tmp_path / "f.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=r"f\.json"):
            MockEngine(MockConfig(fixtures=path))


def test_fixture_lookup_uses_decoded_request_bytes() -> None:
    """The sha256 is of the audio bytes as sent (raw body or base64-decoded inputs), not of samples."""
    data = audio.encode(tone(1.0), 16000, "flac")
    assert audio.decode(data).sha256 == hashlib.sha256(data).hexdigest()
