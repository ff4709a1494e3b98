"""Compare sends the known-speech corpus to every target: WER per variant, and where targets diverge.

The summary and divergence rules first, on made-up answers; then three targets in one comparison (markers
``whisper`` and ``slow``): real Whisper (tiny.en, CPU), the same model behind the ``no-resample``
engine switch (8 kHz audio fed to the model as if it were 16 kHz: twice as fast), and the mock. Expected:
the plain reference's WERs are low on every variant; the violating one matches it on 16 kHz variants but
is far worse at 8 kHz, the one divergence reported; the mock does not hear (the recogniser probe), so its
WERs are "not judged" with the probe's reason, and its behavioural checks are SKIP, never failures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator

import pytest
import requests
from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.compare.behaviour import section
from asr_conformance.conformance.compare.report import render_html, render_markdown, write
from asr_conformance.conformance.compare.result import CompareResult, Comparison
from asr_conformance.conformance.compare.run import run_compare
from asr_conformance.conformance.engine.behaviour_phase import Limits
from asr_conformance.conformance.engine.config import RunConfig
from asr_conformance.conformance.model import CaseFinished, Exchange, Request, Response
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.mock_server.engine_violations import ViolatingEngine
from asr_conformance.mock_server.server import MockServer

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
    pytest.importorskip("transformers")
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


@pytest.mark.whisper
@pytest.mark.slow
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


@pytest.mark.whisper
@pytest.mark.slow
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


# ------------------------------------------------------------------------------- the rules, offline


def answers(*texts: str) -> tuple[Exchange, ...]:
    return tuple(
        Exchange(Request("POST", ""), Response(200, (), json.dumps({"text": t}).encode(), 0.1)) for t in texts
    )


def behaviour_case(protocol: str, name: str, known: dict, *texts: str) -> CaseFinished:
    meta = {"behaviour": known, "case": {"protocol": protocol}}
    return CaseFinished(
        f"behaviour-{name}", "behaviour", "protocol", name, None, answers(*texts), (), meta=meta
    )


SAID = ["the cat sat on the mat", "a dog ran in the park"]


def heard(eight_khz: str, flac: str | None) -> list[CaseFinished]:
    """A target's cases: two clean clips heard right, clip 1 at 8 kHz and as FLAC (None: a 500)."""
    clean = behaviour_case("behaviour_transcript", "transcript", {"texts": SAID}, *SAID)
    invariance = {"texts": SAID[:1], "clean_wer": 0.0, "clean_texts": SAID[:1]}
    narrow = {**invariance, "variant": "8k", "rate": 8000}
    eight = behaviour_case("behaviour_invariance", "8k", narrow, eight_khz)
    lossless = {**invariance, "variant": "flac", "rate": 16000}
    flac_case = behaviour_case("behaviour_invariance", "flac", lossless, flac or "")
    if flac is None:
        error = Exchange(Request("POST", ""), Response(500, (), b'{"error": "x"}', 0.1))
        flac_case = dataclasses.replace(flac_case, exchanges=(error,))
    return [clean, eight, flac_case]


def test_only_a_loss_beyond_the_allowance_on_one_side_diverges() -> None:
    deaf = [
        behaviour_case(
            p, p, {"skip": "the target does not transcribe speech (WER 1.00 on the clean clip)"}, "x"
        )
        for p in ("behaviour_transcript", "behaviour_invariance")
    ]
    result = section(
        {
            "good": heard("the cat sat on a hat", SAID[0]),  # 8 kHz: WER 0.33, within + 0.5
            "bad": heard("zzz", SAID[0]),  # 8 kHz: WER 1.00, beyond
            "weak": heard("the cat sat on a hat", None),  # FLAC answered 500: no transcript
            "mock": deaf,
            "spent": [],
        }
    )
    good, bad, mock = result.targets["good"], result.targets["bad"], result.targets["mock"]
    assert good.wers == {"clean": 0.0, "8k": 0.3333, "flac": 0.0} and good.show("8k") == "0.333 (+0.33)"
    assert bad.degraded("8k") and not good.degraded("8k") and bad.allowances["8k"] == 0.5
    assert (
        mock.not_judged.startswith("the target does not transcribe speech")
        and mock.show("8k") == "not judged"
    )
    assert result.targets["spent"].not_judged == "no behaviour case was sent (request budget spent)"
    assert [(d.variant, d.note) for d in result.divergences] == [
        ("8k", "bad much worse than on clean speech (beyond +0.5); good, weak not"),
        ("flac", "weak much worse than on clean speech (beyond +0.25); bad, good not"),
    ]
    assert result.divergences[1].values == {
        "good": "0.000 (+0.00)",
        "bad": "0.000 (+0.00)",
        "weak": "no transcript",
        "mock": "not judged",
        "spent": "not judged",
    }
    assert json.loads(json.dumps(result.to_json()))["targets"]["mock"]["judged"] is False


def test_a_recordings_behaviour_cases_make_the_section_too() -> None:
    """Compare against a cassette sends the recorded behaviour cases like any other: they are kept."""
    infos = [TargetInfo("a", ""), TargetInfo("b", "")]
    comparison = Comparison(["a", "b"], infos, lambda name, body: True)
    for one, other in zip(heard("the cat sat on a hat", SAID[0]), heard("zzz", SAID[0]), strict=True):
        spec = CaseSpec(id=one.case_id, phase="behaviour", kind="protocol", form="raw", audio=None)
        comparison.add(spec, {"a": one, "b": other})
    result = comparison.result()
    assert result.behaviour is not None and [d.variant for d in result.behaviour.divergences] == ["8k"]
    assert "## Behaviour: variants on which the targets diverge" in render_markdown(result)
