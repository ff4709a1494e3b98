"""Cassettes you can commit: bodies once and compressed, record modes like VCR.py's, a quick run's size."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from asr_conformance.conformance.cases import AudioRecipe
from asr_conformance.conformance.generation import audio as audio_module
from asr_conformance.conformance.generation.audio import espeak_available, render
from asr_conformance.conformance.model import Exchange, Request, Response
from asr_conformance.conformance.record.cassette import (
    CassetteRecorder,
    apply_record_mode,
    recording_for,
)
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.conformance.targets.body_store import (
    MAGIC,
    SOLID_MAGIC,
    BodyReader,
    BodyStoreError,
    BodyWriter,
    digest,
)
from asr_conformance.conformance.targets.cassette_format import CassetteError
from asr_conformance.conformance.targets.replay import CassetteTarget, EpisodesTarget, load, seed_conflict
from test_cassette_format import finished_case, started  # pytest puts this folder on sys.path


def speechy_wav() -> bytes:
    t = np.arange(32000) / 16000
    signal = (0.3 * np.sin(2 * np.pi * 300 * t) * np.sin(2 * np.pi * 3 * t) * 32767).astype("<i2")
    out = io.BytesIO()
    soundfile.write(out, signal, 16000, format="WAV", subtype="PCM_16")
    return out.getvalue()


def stored(tmp_path: Path, *bodies: bytes, recipe: AudioRecipe | None = None) -> tuple[BodyReader, dict]:
    writer = BodyWriter(tmp_path / "x.bodies")
    shas = [writer.put(body, recipe) for body in bodies]
    writer.close()
    reader = BodyReader(tmp_path / "x.bodies")
    assert [reader.get(sha) for sha in shas] == list(bodies)  # exact bytes back
    return reader, {h["sha256"]: h for h, _ in reader._records.values()}


def test_each_body_is_stored_once_with_the_codec_that_fits(tmp_path):
    wav = speechy_wav()
    as_json = json.dumps({"inputs": base64.b64encode(wav).decode(), "parameters": {}}).encode()
    noise = os.urandom(5000)
    _reader, headers = stored(tmp_path, wav, wav, as_json, noise, b'{"text":"hi"}' * 400)
    codecs = {h["codec"] for h in headers.values()}
    assert codecs == {"wav-flac", "json-b64", "raw", "xz"}
    assert len(headers) == 4  # the same WAV twice, and inside the JSON: stored once
    assert (tmp_path / "x.bodies").stat().st_size < len(wav) // 2 + len(noise) + 2000


def test_every_base64_form_of_the_audio_shares_its_one_stored_body(tmp_path):
    """A JSON body refers to the decoded audio, whichever base64 form the case sent; the raw form of the
    same audio is the same body."""
    wav = speechy_wav() + b"\x01"  # 64045 bytes: not a multiple of 3, so base64 pads
    plain = base64.b64encode(wav).decode()
    forms = [
        plain,
        plain.rstrip("="),
        base64.urlsafe_b64encode(wav).decode(),
        "\n".join(plain[i : i + 76] for i in range(0, len(plain), 76)),
        f"data:application/octet-stream;base64,{plain}",
    ]
    bodies = [json.dumps({"inputs": form, "parameters": {"top_k": 5}}).encode() for form in forms]
    _reader, headers = stored(tmp_path, wav, *bodies)
    assert sorted(h["codec"] for h in headers.values()) == ["json-b64"] * 5 + ["wav-flac"]
    assert (tmp_path / "x.bodies").stat().st_size < len(wav) + 3000  # the audio once, not six times


@pytest.mark.skipif(not espeak_available(), reason="speech recipes need espeak-ng to record")
def test_speech_is_stored_as_its_recipe_and_its_sentence_voiced_once(tmp_path, monkeypatch):
    short = AudioRecipe("wav", 16000, 2, "s24", 0.7, "speech", seed=1, text="testing one two three")
    longer = AudioRecipe("wav", 48000, 1, "s16", 2.0, "speech", seed=9, text="testing one two three")
    bodies = [render(short), render(longer)]
    writer = BodyWriter(tmp_path / "x.bodies")
    shas = [writer.put(body, recipe) for body, recipe in zip(bodies, (short, longer), strict=True)]
    writer.close()
    assert (tmp_path / "x.bodies").stat().st_size < sum(map(len, bodies)) // 4

    def no_espeak(text: str) -> None:
        raise RuntimeError("espeak-ng is not installed")

    monkeypatch.setattr(audio_module, "_speech", no_espeak)  # replay needs no espeak-ng
    reader = BodyReader(tmp_path / "x.bodies")
    assert [reader.get(sha) for sha in shas] == bodies
    codecs = sorted(h["codec"] for h, _ in reader._records.values())
    assert codecs == ["recipe", "recipe", "wav-flac"]  # one voice for the two


def test_portable_recipes_are_stored_as_recipes(tmp_path):
    recipe = AudioRecipe("wav", 16000, 1, "s16", 2.0, "noise", seed=7)
    _reader, headers = stored(tmp_path, render(recipe), recipe=recipe)
    assert [h["codec"] for h in headers.values()] == ["recipe"]
    assert (tmp_path / "x.bodies").stat().st_size < 400
    lossy = AudioRecipe("mp3", 16000, 1, "s16", 1.0, "noise", seed=7)
    (tmp_path / "b").mkdir()
    _, headers = stored(tmp_path / "b", render(lossy), recipe=lossy)
    assert [h["codec"] for h in headers.values()] != ["recipe"]  # an encoder's bytes may differ elsewhere


def test_24_bit_wav_and_a_float_recipe_come_back_exactly(tmp_path):
    out = io.BytesIO()
    soundfile.write(out, np.sin(np.arange(24000) / 9.0) * 0.5, 24000, format="WAV", subtype="PCM_24")
    _, headers = stored(tmp_path, out.getvalue())
    assert [h["codec"] for h in headers.values()] == ["wav-flac"]
    recipe = AudioRecipe("wav", 16000, 1, "flt", 1.0, "tone", seed=3)
    body = render(recipe)
    writer = BodyWriter(tmp_path / "f.bodies")
    sha = writer.put(body, recipe)
    writer.close()
    render.cache_clear()
    time.sleep(1.1)  # libsndfile stamps float WAV's PEAK chunk with the time: a new rendering differs
    assert BodyReader(tmp_path / "f.bodies").get(sha) == body


def test_a_torn_or_foreign_store_is_handled(tmp_path):
    writer = BodyWriter(tmp_path / "x.bodies")
    first, second = writer.put(b"a" * 1000), writer.put(os.urandom(3000))
    writer.flush()  # a recording killed before close: the append-only form
    data = (tmp_path / "x.bodies").read_bytes()
    assert data.startswith(MAGIC)
    (tmp_path / "torn.bodies").write_bytes(data[:-10])  # killed mid-write
    reader = BodyReader(tmp_path / "torn.bodies")
    assert reader.get(first) == b"a" * 1000 and second not in reader
    with pytest.raises(BodyStoreError, match="no body"):
        reader.get(second)
    writer.close()  # closed: one xz stream over every record
    assert (tmp_path / "x.bodies").read_bytes().startswith(SOLID_MAGIC)
    assert BodyReader(tmp_path / "x.bodies").get(second) is not None
    solid = (tmp_path / "x.bodies").read_bytes()
    (tmp_path / "x.bodies").write_bytes(solid[:-10])
    with pytest.raises(BodyStoreError, match="is damaged"):
        BodyReader(tmp_path / "x.bodies")
    (tmp_path / "y.bodies").write_bytes(b"hello")
    with pytest.raises(BodyStoreError, match="not an asr-conformance bodies file"):
        BodyReader(tmp_path / "y.bodies")
    assert digest(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class Live:
    """A live target that answers 200 "live" and counts what it was sent."""

    def __init__(self, name: str) -> None:
        self.info = TargetInfo(name=name, model_url=name)
        self.sent: list[Request] = []
        self.closed = False

    async def send(self, request: Request, *, timeout: float | None = None) -> Exchange:
        self.sent.append(request)
        return Exchange(request, Response(200, (), b'{"text":"live"}', 0.0))

    async def close(self) -> None:
        self.closed = True


def recorded(tmp_path: Path, name: str) -> Path:
    _, event = finished_case(b"RIFF-recorded-audio")
    recorder = CassetteRecorder(tmp_path, started(name))
    recorder.handle(event)
    recorder.close()
    return recorder.path


async def test_record_modes(tmp_path):
    name = "http://127.0.0.1:8999/models/x"
    with pytest.raises(CassetteError, match="record mode none"):
        recording_for(tmp_path, "none", name)
    fresh = recording_for(tmp_path, "once", name)
    assert not fresh.replays and fresh.describe() == f"recording to {fresh.path}"
    path = recorded(tmp_path, name)
    assert path == fresh.path

    live = Live(name)
    target, recording, notes = await apply_record_mode(live, tmp_path, "once", seed=99)
    assert isinstance(target, CassetteTarget) and recording is not None and recording.replays and live.closed
    assert notes[0].startswith("replaying") and "--seed 99 ignored" in notes[1]

    target, recording, _ = await apply_record_mode(Live(name), tmp_path, "all")
    assert isinstance(target, Live) and recording is not None and not recording.replays

    live = Live(name)
    target, _, _ = await apply_record_mode(live, tmp_path, "new_episodes")
    assert isinstance(target, EpisodesTarget) and target.recorded_seed == 1234
    old = await target.send(Request("POST", "", (), b"RIFF-recorded-audio"))
    new = await target.send(Request("POST", "", (), b"other audio"))
    assert old.response is not None and old.response.status == 200 and old.response.body == b'{"text":"hi"}'
    assert new.response is not None and new.response.body == b'{"text":"live"}' and len(live.sent) == 1


def test_seed_conflict_is_named(tmp_path):
    cassette = load(recorded(tmp_path, "http://h/models/x"))
    assert seed_conflict(cassette, None) is None and seed_conflict(cassette, 1234) is None
    assert "recorded with seed 1234" in (seed_conflict(cassette, 5) or "")


@pytest.mark.slow
def test_a_quick_run_records_a_small_cassette_that_replays(tmp_path):
    run = [sys.executable, "-m", "asr_conformance", "run", "--profile", "quick"]
    done = subprocess.run(
        [*run, "--seed", "1", "--record", "cas"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (yaml_path,) = (tmp_path / "cas").glob("*.yaml")
    assert f"recording to {Path('cas') / yaml_path.name}" in done.stderr
    assert f"cassette: cas/{yaml_path.name}" in done.stdout
    total = yaml_path.stat().st_size + yaml_path.with_suffix(".bodies").stat().st_size
    # format 1 (bodies inline): 34.6 MB for the same run; format 2: 3.16 MB; format 3: 1.76 MB (BENCHMARKS.md)
    assert total <= 2_000_000, total
    again = subprocess.run(
        [*run, "--seed", "2", "--record", "cas", "--record-mode", "once"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "replaying" in again.stderr and "--seed 2 ignored" in again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cas"]  # nothing else written
