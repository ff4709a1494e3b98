"""The behaviour phase against real Whisper (tiny.en, CPU): the plain engine passes every behavioural
check, each engine switch fails its own. One server for the module; switches flip between tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from asr_conformance.conformance.checks.behaviour import CHECKS
from asr_conformance.conformance.engine.behaviour_phase import Limits, behaviour_phase
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import RunConfig
from asr_conformance.conformance.model import CheckResult, Outcome
from asr_conformance.conformance.targets.factory import open_target
from asr_conformance.mock_server.engine_violations import ViolatingEngine
from asr_conformance.mock_server.server import MockServer

pytestmark = [pytest.mark.whisper, pytest.mark.slow]
pytest.importorskip("transformers")

#: short enough for CI: 2 clean clips, a 38 s long layout (the last sentence starts at 34 s)
SMALL = Limits(clips=2, invariance_clips=1, concurrency=2, long_sentences=7, long_pause_s=2.0)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ViolatingEngine]]:
    from asr_conformance.reference.model_cache import ensure_tiny_en
    from asr_conformance.reference.whisper_engine import EngineSettings, WhisperEngine, front_config

    inner = WhisperEngine(EngineSettings(model=str(ensure_tiny_en()), max_batch=8, batch_wait_ms=50))
    engine = ViolatingEngine(inner)
    with MockServer(front_config(inner), engine) as server:  # type: ignore[arg-type]
        yield server.model_url(), engine


@pytest.fixture
def switch(served: tuple[str, ViolatingEngine]) -> Iterator[ViolatingEngine]:
    engine = served[1]
    yield engine
    engine.switches = set()


async def phase(url: str, limits: Limits) -> list[CheckResult]:
    config = RunConfig(target=url, profile="quick", request_timeout=600.0)
    target = await open_target(url, headers=(("x-wait-for-model", "true"),))
    try:
        cases = await behaviour_phase(target, config, Budget(None), limits=limits)
    finally:
        await target.close()
    return [r for c in cases for r in c.results]


def failed(results: list[CheckResult]) -> dict[str, list[str]]:
    return {r.check_id: [f.message for f in r.failures] for r in results if r.outcome is not Outcome.PASS}


async def test_plain_reference_passes_every_behavioural_check(served: tuple[str, ViolatingEngine]) -> None:
    results = await phase(served[0], replace(SMALL, clips=3, concurrency=3))
    assert {r.check_id for r in results} == {c.id for c in CHECKS}
    assert failed(results) == {}


def only(protocol: str, *variants: str) -> Limits:
    return replace(SMALL, only=frozenset({protocol}), variants=frozenset(variants) or None)


@pytest.mark.parametrize(
    ("name", "limits", "check_id"),
    [
        (
            "no-resample",
            only("behaviour_invariance", "rate 8000", "rate 44100"),
            "speech_invariant_to_encoding",
        ),
        ("interleaved-stereo", only("behaviour_invariance", "stereo 16000"), "speech_invariant_to_encoding"),
        ("truncate-30s", only("behaviour_long"), "long_form_complete"),
        ("timestamps-reset-per-window", only("behaviour_long"), "timestamps_follow_speech"),
        ("ignore-max-new-tokens", only("behaviour_max_new_tokens"), "max_new_tokens_effective"),
        ("crosstalk-under-load", only("behaviour_isolation"), "concurrent_answers_isolated"),
        ("empty-transcript", only("behaviour_transcript"), "speech_transcribed"),
    ],
)
async def test_switch_fails_its_check(
    served: tuple[str, ViolatingEngine], switch: ViolatingEngine, name: str, limits: Limits, check_id: str
) -> None:
    switch.switches = {name}
    results = await phase(served[0], limits)
    fails = failed(results)
    assert check_id in fails, f"{name}: {fails or 'everything passed'}"
    assert all(r.outcome in (Outcome.PASS, Outcome.FAIL) for r in results), fails
