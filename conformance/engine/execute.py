"""One case: build its requests, send them through a target, judge the exchanges."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.checks import CheckContext, run_checks
from asr_conformance.conformance.checks.base import Check
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import RunConfig, selected_checks
from asr_conformance.conformance.engine.repro import make_repro
from asr_conformance.conformance.generation.audio import cheap
from asr_conformance.conformance.generation.caseio import case_to_json
from asr_conformance.conformance.generation.render import build_requests
from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Exchange,
    Failure,
    Outcome,
    Request,
    Severity,
)
from asr_conformance.conformance.target import Target, TargetInfo
from asr_conformance.conformance.targets.http import send_with_backoff

FAILING = (Outcome.FAIL, Outcome.ERROR)
EXIT_INCOMPLETE = 3  # nothing failed, but the run stopped before its plan was done (--max-requests)
EXIT_INTERRUPTED = 130  # SIGINT/SIGTERM: the shell's convention for "killed by Ctrl-C"


def describe(case: CaseSpec) -> str:
    """One human-readable line: "json flac 16000 Hz mono s16 1.00 s tone, top_k: ..."."""
    parts = [case.form]
    if case.audio is not None:
        parts.append(case.audio.describe())
    if case.protocol:
        parts.append(f"protocol {case.protocol}")
    if case.malformed:
        parts.append(f"malformed: {case.malformed.replace('_', ' ')}")
    text = " ".join(parts)
    if case.mutation and not case.malformed:
        text += f"; {case.mutation}"
    elif case.kind == "positive" and case.meta.get("paths"):
        text += f"; {', '.join(case.meta['paths'])}"
    return text


async def send_requests(
    case: CaseSpec, requests: Sequence[Request], target: Target, config: RunConfig, budget: Budget
) -> tuple[Exchange, ...]:
    """Send a case's requests in order (with backoff on 429/503, each attempt taken from ``budget``)."""
    exchanges = []
    # A loading scenario wants to see the 503: no retries there.
    retries = 0 if case.protocol == "loading" else config.max_retries
    for request in requests:
        exchange, _ = await send_with_backoff(
            target,
            request,
            timeout=config.request_timeout,
            max_retries=retries,
            max_wait_s=config.max_retry_wait_s,
            on_attempt=budget.take,
        )
        exchanges.append(exchange)
    return tuple(exchanges)


async def execute(
    case: CaseSpec,
    target: Target,
    config: RunConfig,
    *,
    checks: Sequence[Check] | None = None,
    budget: Budget | None = None,
) -> CaseFinished:
    """Send one case and judge it (no shrinking). Raises :class:`BudgetExhausted` when out of requests."""
    limit = target.info.max_body_bytes
    if cheap(case.audio):
        requests = build_requests(case, max_body_bytes=limit)
    else:  # encoders take tens of ms: off the event loop, so that sending never waits on them
        requests = await asyncio.to_thread(build_requests, case, max_body_bytes=limit)
    exchanges = await send_requests(case, requests, target, config, budget or Budget(None))
    return judge(case, exchanges, target.info, config, checks=checks)


def judge(
    case: CaseSpec,
    exchanges: tuple[Exchange, ...],
    info: TargetInfo,
    config: RunConfig,
    *,
    checks: Sequence[Check] | None = None,
    meta: dict[str, Any] | None = None,
) -> CaseFinished:
    """Run the checks on a case's exchanges and package the verdicts (with a repro when something failed)."""
    ctx = CheckContext(case=case, exchanges=exchanges, target=info, view=config.spec_view)
    results = run_checks(ctx, selected_checks(config) if checks is None else checks)
    repro = None
    if any(r.outcome in FAILING for r in results):
        repro = make_repro(
            case,
            [e.request for e in exchanges],
            url=info.model_url or info.name,
            seed=config.seed,
            replay_id=case.id,
            token_env=config.token_env,
            has_token=info.has_token,
            extra_headers=config.headers,
            # Absolute: the printed command runs from any directory (the bodies go to REPORT_DIR/repro).
            body_dir=(config.report_dir / "repro").resolve() if config.report_dir else None,
        )
    return CaseFinished(
        case_id=case.id,
        phase=case.phase,
        case_kind=case.kind,
        description=describe(case),
        mutation=case.mutation,
        exchanges=exchanges,
        results=results,
        repro=repro,
        meta={**case.meta, "case": case_to_json(case), **(meta or {})},
    )


def failures_of(finished: CaseFinished) -> list[Failure]:
    return [f for r in finished.results if r.outcome is Outcome.FAIL for f in r.failures]


def exit_code(results: Sequence[CheckResult], fail_on: str) -> int:
    """1 when a FAIL or ERROR at or above ``fail_on`` occurred, else 0."""
    threshold = Severity(fail_on).rank
    return int(any(r.outcome in FAILING and r.severity.rank >= threshold for r in results))


def count_outcomes(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = {str(o): 0 for o in Outcome}
    for r in results:
        counts[str(r.outcome)] += 1
    return counts


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
