"""Progress through the behaviour phase: its cases are planned, emitted as they are judged, and timed
apart from the others (each is several requests of known speech; their pace says nothing of the rest's)."""

from __future__ import annotations

import dataclasses
from typing import Any

from asr_conformance.conformance.behaviour import corpus
from asr_conformance.conformance.engine import behaviour_phase
from asr_conformance.conformance.engine.config import RunConfig, selected_checks
from asr_conformance.conformance.engine.runner import run
from asr_conformance.conformance.model import CaseFinished, Event, RunFinished, RunStarted
from asr_conformance.conformance.targets.factory import open_target
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import DecodedAudio, InferenceParams, Transcription
from asr_conformance.mock_server.mock_engine import MockEngine
from asr_conformance.mock_server.server import MockServer

from asr_conformance.cli.progress import Progress


class Hearing:
    """The mock engine answering everything with the probe clip's sentence: the recogniser probe
    hears it, so the whole behaviour phase runs (its verdicts do not matter here)."""

    def __init__(self) -> None:
        self.inner = MockEngine(MockConfig())
        self.text = corpus.packaged()[behaviour_phase.PROBE].text
        self.requests = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def transcribe(self, audio: DecodedAudio, params: InferenceParams) -> Transcription:
        self.requests += 1
        return dataclasses.replace(await self.inner.transcribe(audio, params), text=self.text)


async def test_the_plan_counts_the_behaviour_phase_whose_cases_arrive_as_they_are_judged() -> None:
    engine = Hearing()
    config = RunConfig(profile="quick", seed=2, max_examples=0, shrink=False)
    events: list[Event] = []
    sent_before: list[int] = []  # requests the engine had taken when each behaviour case arrived

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, CaseFinished) and event.phase == "behaviour":
            sent_before.append(engine.requests)

    with MockServer(MockConfig(), engine=engine) as server:  # type: ignore[arg-type]
        target = await open_target(server.model_url())
        try:
            await run(config, on_event, target=target)
        finally:
            await target.close()
    started, finished = events[0], events[-1]
    assert isinstance(started, RunStarted) and isinstance(finished, RunFinished)
    assert started.planned == finished.planned == finished.cases
    # live: the first case was judged long before the phase's last request went out
    assert sent_before == sorted(sent_before) and sent_before[0] < sent_before[-1] - 10
    behaviour = behaviour_phase.planned("quick", selected_checks(config))
    assert started.planned_behaviour == behaviour == len(sent_before) == 18


def case(phase: str, n: int) -> CaseFinished:
    return CaseFinished(f"{phase}-{n}", phase, "positive", "a case", None, (), ())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def started(planned: int, behaviour: int) -> RunStarted:
    return RunStarted(
        "r", "1", "served", "c", "t", "quick", 1, "now", planned=planned, planned_behaviour=behaviour
    )


def test_eta_takes_each_phase_at_its_own_pace() -> None:
    clock = Clock()
    progress = Progress(plain=True, color=False, clock=clock)
    progress.handle(started(planned=1 + 18 + 100, behaviour=18))
    clock.now += 0.5
    progress.handle(case("probe", 0))
    clock.now += 10
    progress.handle(case("behaviour", 0))
    # 17 behaviour cases at 10 s and 100 others at the probe's 0.5 s: 220 s
    expected = "behaviour: known speech 1/18, 2/119 cases, ETA 4 min, 0 failing checks"
    assert progress.status(clock.now) == expected
    for n in range(1, 18):
        clock.now += 10
        progress.handle(case("behaviour", n))
    for n in range(20):
        clock.now += 0.1
        progress.handle(case("examples", n))
    # 3 minutes went to known speech: the 80 cases left take 0.1 s each, not 180 s / 39 each (6 min)
    left = progress.left_s(clock.now)
    assert left is not None and 7 < left < 12
    assert progress.status(clock.now) == "examples: 39/119 cases, ETA 10 s, 0 failing checks"


def test_a_deaf_target_takes_its_unsent_behaviour_cases_off_the_plan() -> None:
    clock = Clock()
    progress = Progress(plain=True, color=False, clock=clock)
    progress.handle(started(planned=1 + 18 + 10, behaviour=18))
    progress.handle(case("probe", 0))
    for n in range(6):  # the probe found it deaf: one SKIP per protocol
        progress.handle(case("behaviour", n))
    assert progress.planned == 29
    for n in range(10):
        clock.now += 1
        progress.handle(case("examples", n))
    assert progress.planned == progress.cases == 17
    assert progress.status(clock.now) == "examples: 17/17 cases, 0 failing checks"


def test_a_dry_run_names_the_behaviour_cases_the_live_total_includes() -> None:
    from click.testing import CliRunner

    from asr_conformance.cli import main

    last = CliRunner().invoke(main, ["run", "--profile", "quick", "--dry-run"]).output.splitlines()[-1]
    assert "; plus 18 behaviour cases if the target hears speech); nothing sent" in last


def test_behaviour_cases_the_header_did_not_count_do_not_skew_the_rest() -> None:
    """Events written before ``planned_behaviour`` (0): the phase's cases are still timed apart."""
    clock = Clock()
    progress = Progress(plain=True, color=False, clock=clock)
    progress.handle(started(planned=20, behaviour=0))
    for n in range(4):
        clock.now += 30
        progress.handle(case("behaviour", n))
    for n in range(6):
        clock.now += 1
        progress.handle(case("examples", n))
    assert progress.status(clock.now) == "examples: 10/20 cases, ETA 10 s, 0 failing checks"
