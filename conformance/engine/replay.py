"""A run driven by a recording: the recorded cases judged again by today's checks."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from asr_conformance.conformance.engine.behaviour_phase import BEHAVIOUR_IDS
from asr_conformance.conformance.engine.config import RunConfig, selected_checks, suite_version
from asr_conformance.conformance.engine.execute import exit_code, judge
from asr_conformance.conformance.model import (
    CheckResult,
    Event,
    Outcome,
    RunFinished,
    RunStarted,
)
from asr_conformance.conformance.targets.replay import CassetteTarget, load


async def replay_run(
    config: RunConfig, on_event: Callable[[Event], None], *, target: CassetteTarget | None = None
) -> RunFinished:
    """A run driven by a cassette: every recorded case, judged by the current checks on its recorded
    exchanges, as the same event stream as a live run (RunStarted → CaseFinished… → RunFinished).

    Nothing is generated and nothing is sent, so a new suite version judges behaviour captured once (from
    the live service, say) with no token and no network. The recorded seed and profile are reported;
    ``config`` gives the spec view, the check selection and ``fail_on``. Each event's
    ``meta["recorded"]`` keeps the suite version and the verdicts of the recording run.
    """

    cassette = target.cassette if target is not None else load(str(config.target).removeprefix("cassette:"))
    info = cassette.target_info
    checks = selected_checks(config)
    config = dataclasses.replace(config, seed=cassette.run.seed)
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    on_event(
        RunStarted(
            run_id=run_id,
            suite_version=suite_version(),
            spec_view=config.spec_view,
            upstream_commit=cassette.run.upstream_commit,
            target=info.name,
            profile=cassette.run.profile,
            seed=cassette.run.seed,
            started_at=_now(),
            checks=tuple(c.id for c in checks),
        )
    )
    # Repro commands of a replay should point at the server that was recorded, not at the file.
    judged_as = dataclasses.replace(info, model_url=cassette.base_url)
    behaviour_checks = [c for c in checks if c.id in BEHAVIOUR_IDS]
    results: list[CheckResult] = []
    for recorded in cassette.cases:
        finished = judge(
            recorded.case,
            recorded.exchanges,
            judged_as,
            config,
            # the behaviour phase judges its cases with the behavioural checks only, live and replayed
            checks=behaviour_checks if recorded.case.phase == "behaviour" else checks,
            meta={
                "recorded": {
                    "suite_version": cassette.run.suite_version,
                    "spec_view": cassette.run.spec_view,
                    "target": cassette.run.target,
                    "results": [r.to_json() for r in recorded.recorded.results],
                }
            },
        )
        results.extend(finished.results)
        on_event(finished)
    outcomes = {str(o): sum(r.outcome is o for r in results) for o in Outcome}
    finished_run = RunFinished(
        run_id=run_id,
        finished_at=_now(),
        duration_s=round(time.perf_counter() - started, 3),
        cases=len(cassette.cases),
        outcomes=outcomes,
        failed_checks=tuple(
            sorted({r.check_id for r in results if r.outcome in (Outcome.FAIL, Outcome.ERROR)})
        ),
        exit_code=exit_code(results, config.fail_on),
    )
    on_event(finished_run)
    return finished_run


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
