"""Compare sends the known-speech corpus to every target: WER per variant, and where targets diverge.

Three targets in one comparison: real Whisper (tiny.en, CPU), the same model behind the ``no-resample``
engine switch (8 kHz audio fed to the model as if it were 16 kHz: twice as fast), and the mock. Expected:
the plain reference's WERs are low on every variant; the violating one matches it on 16 kHz variants but
is far worse at 8 kHz, the one divergence reported; the mock does not hear (the recogniser probe), so its
WERs are "not judged" with the probe's reason, and its behavioural checks are SKIP, never failures.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
import requests
from asr_conformance.conformance.compare.report import render_html, render_markdown, write
from asr_conformance.conformance.compare.result import CompareResult
from asr_conformance.conformance.compare.run import run_compare
from asr_conformance.conformance.engine.behaviour_phase import Limits
from asr_conformance.conformance.engine.config import RunConfig
from asr_conformance.mock_server.engine_violations import ViolatingEngine
from asr_conformance.mock_server.server import MockServer

pytestmark = [pytest.mark.whisper, pytest.mark.slow]
pytest.importorskip("transformers")

EIGHT_KHZ = "raw wav 8000 Hz mono"
#: short clips, few requests: the probe and one more clean clip, one clip in three variants
LIMITS = Limits(
    clips=2,
    invariance_clips=1,
    concurrency=2,
    long=False,
    only=frozenset({"behaviour_transcript", "behaviour_invariance"}),
    variants=frozenset({"rate 8000", "stereo 16000", "codec flac"}),
)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    """A plain tiny.en reference and a ``no-resample`` one; the second shares the first's loaded model
    (one load instead of two: the runner keeps no state between calls)."""
    from asr_conformance.reference.model_cache import ensure_tiny_en
    from asr_conformance.reference.whisper_engine import EngineSettings, WhisperEngine, front_config

    settings = EngineSettings(model=str(ensure_tiny_en()), device="cpu", max_batch=4)
    plain = WhisperEngine(settings)
    with MockServer(front_config(plain), engine=plain) as plain_server:
        deadline = time.monotonic() + 300
        while not requests.get(plain_server.url + "/healthz", timeout=10).json()["ready"]:
            assert time.monotonic() < deadline, "tiny.en did not load in 300 s"
            time.sleep(0.2)
        shared = WhisperEngine(settings, runner=plain.runner)
        broken = ViolatingEngine(shared, {"no-resample"})
        with MockServer(front_config(shared), engine=broken) as broken_server:  # type: ignore[arg-type]
            yield plain_server.model_url(), broken_server.model_url()


@pytest.fixture(scope="module")
def compared(servers: tuple[str, str]) -> CompareResult:
    plain, broken = servers
    comparing = run_compare(
        [plain, broken, "mock"],
        RunConfig(profile="quick", seed=3, shrink=False, workers=6, request_timeout=120),
        select=lambda cases: cases[:1],  # the planned cases are not what this test is about
        behaviour_limits=LIMITS,
    )
    return asyncio.run(comparing)  # the servers run in their own threads


def test_reference_wers_are_low_and_the_mock_is_not_judged(compared: CompareResult, tmp_path) -> None:
    plain, _, mock = compared.labels
    section = compared.behaviour
    assert section is not None
    reference = section.targets[plain]
    assert not reference.not_judged
    assert set(reference.wers) == {"clean", EIGHT_KHZ, "raw wav 16000 Hz stereo", "raw flac 16000 Hz mono"}
    assert reference.wers["clean"] is not None and reference.wers["clean"] <= 0.35
    for variant, value in reference.wers.items():
        assert value is not None and value <= reference.baselines.get(variant, 0) + 0.5, (variant, value)
    assert reference.wers["raw flac 16000 Hz mono"] == reference.baselines["raw flac 16000 Hz mono"]

    deaf = section.targets[mock]
    assert deaf.wers == {} and "does not transcribe speech" in deaf.not_judged
    # not judged is not a failure: the mock's behavioural checks are SKIP
    assert compared.targets[mock].by_check["speech_transcribed"] == {"skip": 1}
    assert all(mock not in d.values or d.values[mock] == "not judged" for d in section.divergences)
    assert compared.targets[plain].by_check["speech_invariant_to_encoding"] == {"pass": 3}

    files = write(compared, tmp_path)
    md = files["markdown"].read_text()
    assert "## Behaviour: WER per variant against the known text" in md
    assert f"| {mock} | not judged: the target does not transcribe speech (WER " in md
    assert "not judged" in render_html(compared)
    data = json.loads(files["json"].read_text())["behaviour"]
    assert data["targets"][mock]["judged"] is False
    assert data["targets"][plain]["wer"]["clean"] == reference.wers["clean"]


def test_the_8khz_wer_diverges_between_the_plain_and_the_no_resample_reference(
    compared: CompareResult,
) -> None:
    plain, broken, _ = compared.labels
    section = compared.behaviour
    assert section is not None
    good, bad = section.targets[plain], section.targets[broken]
    assert bad.wers["clean"] == good.wers["clean"]  # 16 kHz speech reaches the model unchanged
    assert bad.wers["raw flac 16000 Hz mono"] == good.wers["raw flac 16000 Hz mono"]
    good_8k, bad_8k = good.wers[EIGHT_KHZ], bad.wers[EIGHT_KHZ]
    assert good_8k is not None and bad_8k is not None and bad_8k >= good_8k + 0.4
    assert [d.variant for d in section.divergences] == [EIGHT_KHZ]
    divergence = section.divergences[0]
    assert divergence.note.startswith(f"{broken} much worse than on clean speech")
    assert divergence.values[plain] == good.show(EIGHT_KHZ)
    assert "speech_invariant_to_encoding" in {
        cid for cid, counts in compared.targets[broken].by_check.items() if counts.get("fail")
    }
    md = render_markdown(compared)
    assert "## Behaviour: variants on which the targets diverge" in md
    print(md.split("## Behaviour: does")[1].split("## Disagreements")[0])  # the figures, with -s
