"""The behaviour phase without a model: corpus, mock (SKIP, lossless consistency), engine switches."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
import pytest
from asr_conformance.conformance.behaviour import corpus, variants
from asr_conformance.conformance.checks.behaviour import CHECKS
from asr_conformance.conformance.engine.behaviour_phase import behaviour_phase
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import RunConfig, open_for
from asr_conformance.conformance.model import Outcome
from asr_conformance.mock_server.audio import decode, encode
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import Chunk, DecodedAudio, InferenceParams, Transcription
from asr_conformance.mock_server.engine_violations import ENGINE_VIOLATIONS, ViolatingEngine
from asr_conformance.mock_server.mock_engine import MockEngine

IDS = {c.id for c in CHECKS}


def test_packaged_corpus_and_layouts() -> None:
    clips = corpus.packaged()
    assert [c.text for c in clips] == list(corpus.SENTENCES)
    assert all(2.0 < c.duration_s < 5.0 for c in clips)
    pauses, long = corpus.pauses_layout(), corpus.long_layout()
    assert [round(b - a, 2) for a, b in pauses.pauses()] == [2.0, 2.0]
    assert 45.0 <= long.duration_s <= 90.0 and long.spans[-1][0] > 40.0
    onset = round(long.spans[-1][0] * corpus.RATE)
    assert np.abs(long.samples[onset - 10 : onset]).max() == 0.0  # silence right before a sentence


async def test_mock_is_skipped_with_the_probe_figure() -> None:
    config = RunConfig(profile="quick")
    target = await open_for(config)
    budget = Budget(None)
    try:
        cases = await behaviour_phase(target, config, budget)
    finally:
        await target.close()
    results = [r for c in cases for r in c.results]
    assert {r.check_id for r in results} == IDS
    assert all(r.outcome is Outcome.SKIP for r in results)
    assert all(r.message.startswith("the target does not transcribe speech (WER ") for r in results)
    assert budget.used == 1  # the probe clip only


@pytest.mark.parametrize("rate", [16000, 44100, 8000])
async def test_mock_text_follows_the_sound_not_the_bytes(rate: int) -> None:
    engine = MockEngine(MockConfig())
    frames = variants.frames(corpus.packaged()[0].samples, rate, 1)
    texts = set()
    for codec in ("wav", "flac"):
        data = encode(frames, rate, codec)
        texts.add((await engine.transcribe(decode(data), InferenceParams())).text)
    assert len(texts) == 1 and next(iter(texts))


async def test_json_and_raw_requests_carry_the_same_audio() -> None:
    samples = corpus.packaged()[0].samples
    raw = variants.request(samples, variants.CLEAN)
    sent = variants.request(samples, variants.with_parameters(variants.CLEAN, "p", return_timestamps=True))
    assert base64.b64decode(json.loads(sent.body)["inputs"]) == raw.body
    assert raw.header("x-use-cache") == "false"


class Echo:
    """A fake engine: says how many samples it got; chunks every 10 s; sleeps to overlap requests."""

    compute_type, model_sha = "cpu", "0" * 40

    def __init__(self) -> None:
        self.seen: list[tuple[int, dict]] = []

    async def transcribe(self, audio: DecodedAudio, params: InferenceParams) -> Transcription:
        self.seen.append((len(audio.samples), dict(params.generation)))
        await asyncio.sleep(0.05)
        chunks = tuple(Chunk(f" {t}", float(t), float(t + 10)) for t in range(0, 50, 10))
        return Transcription(audio.sha256, chunks if params.return_timestamps else None)


def audio(seconds: float, rate: int = 16000, channels: int = 1, sha: str = "a") -> DecodedAudio:
    return DecodedAudio(np.zeros(int(seconds * 16000), np.float32), 16000, rate, channels, "wav", sha)


@pytest.mark.parametrize(
    ("switch", "source", "expected"),
    [
        ("no-resample", audio(2.0, rate=8000), 16000),
        ("no-resample", audio(2.0, rate=48000), 96000),
        ("no-resample", audio(2.0), 32000),
        ("interleaved-stereo", audio(2.0, channels=2), 64000),
        ("interleaved-stereo", audio(2.0), 32000),
        ("truncate-30s", audio(45.0), 480000),
    ],
)
async def test_input_switches(switch: str, source: DecodedAudio, expected: int) -> None:
    inner = Echo()
    await ViolatingEngine(inner, {switch}).transcribe(source, InferenceParams())
    assert inner.seen[0][0] == expected


async def test_answer_switches() -> None:
    inner = Echo()
    engine = ViolatingEngine(inner, {"timestamps-reset-per-window", "ignore-max-new-tokens"})
    result = await engine.transcribe(audio(50.0), InferenceParams(True, {"max_new_tokens": 3}))
    assert inner.seen[0][1] == {}
    assert [c.start for c in result.chunks] == [0.0, 10.0, 20.0, 0.0, 10.0]
    engine.switches = {"empty-transcript"}
    assert await engine.transcribe(audio(1.0), InferenceParams(True)) == Transcription("", ())


async def test_crosstalk_only_under_load() -> None:
    engine = ViolatingEngine(Echo(), {"crosstalk-under-load"})
    alone = [(await engine.transcribe(audio(1.0, sha=s), InferenceParams())).text for s in "ab"]
    assert alone == ["a", "b"]
    together = await asyncio.gather(*(engine.transcribe(audio(1.0, sha=s), InferenceParams()) for s in "cd"))
    assert [t.text for t in together] != ["c", "d"]


def test_unknown_switch_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine violation"):
        ViolatingEngine(Echo(), {"nope"})
    assert len(ENGINE_VIOLATIONS) == 7


async def test_runner_runs_the_phase_early() -> None:
    from asr_conformance.conformance.engine.runner import run

    events = []
    config = RunConfig(profile="quick", checks=tuple(sorted(IDS)), max_examples=0, seed=1)
    await run(config, events.append)
    phases = [e.phase for e in events if getattr(e, "kind", "") == "case_finished"]
    assert phases[0] == "probe" and phases[1 : 1 + len(IDS)] == ["behaviour"] * len(IDS)
    skipped = [r for e in events if getattr(e, "phase", "") == "behaviour" for r in e.results]
    assert {r.check_id for r in skipped} == IDS and {r.outcome for r in skipped} == {Outcome.SKIP}


def test_variant_wers_reads_the_phase_cases() -> None:
    from asr_conformance.conformance.engine.behaviour_phase import _Session, variant_wers
    from asr_conformance.conformance.model import Exchange, Request, Response

    def answer(text: str) -> Exchange:
        body = json.dumps({"text": text}).encode()
        return Exchange(
            Request("POST", ""), Response(200, (("content-type", "application/json"),), body, 0.1)
        )

    class Info:
        info = type("I", (), {"model_url": "", "name": "t", "has_token": False})()

    session = _Session(Info(), RunConfig(), Budget(None), CHECKS)  # type: ignore[arg-type]
    texts = ["the cat sat", "a dog ran"]
    session.judge(
        "behaviour_transcript", "transcript", [answer("the cat sat"), answer("a dog")], {"texts": texts}
    )
    known = {
        "variant": "raw wav 8000 Hz mono",
        "rate": 8000,  # narrowband: +0.5 allowed (+0.25 would fail)
        "texts": texts[:1],
        "clean_wer": 0.0,
        "clean_texts": texts[:1],
    }
    session.judge("behaviour_invariance", "inv", [answer("the bat sat")], known)
    assert variant_wers(session.finished) == {
        "clean": round(1 / 6, 4),
        "raw wav 8000 Hz mono": round(1 / 3, 4),
    }
    verdicts = {r.check_id: r.outcome for c in session.finished for r in c.results}
    assert verdicts == {"speech_transcribed": Outcome.PASS, "speech_invariant_to_encoding": Outcome.PASS}


@pytest.mark.skipif(not corpus.espeak_available(), reason="espeak-ng is not installed")
def test_more_voices_render_the_same_sentences() -> None:
    from asr_conformance.conformance.engine.behaviour_phase import PROFILE_LIMITS, _voiced

    clips = corpus.packaged()[:2]
    voiced = _voiced(clips, PROFILE_LIMITS["default"].voices)
    assert [c.text for c in voiced] == [c.text for c in clips] * 2
    assert all(1.5 < c.duration_s < 6.0 for c in voiced)
    assert _voiced(clips, ()) == []


def test_cli_lists_and_checks_engine_switches() -> None:
    from click.testing import CliRunner

    from asr_conformance.cli.mock_cmd import mock
    from asr_conformance.cli.reference_cmd import reference

    listed = CliRunner().invoke(reference, ["--violate", "list"])
    assert listed.exit_code == 0 and all(name in listed.output for name in ENGINE_VIOLATIONS)
    refused = CliRunner().invoke(reference, ["--violate", "nope"])
    assert refused.exit_code == 2 and "unknown ['nope']" in refused.output
    both = CliRunner().invoke(mock, ["--violate", "list"])
    assert "truncate-30s" in both.output and "no-chunks" in both.output
