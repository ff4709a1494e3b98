"""The suite's engine: plan cases, send them through a target, judge them, stream events.

``run(config, on_event)`` emits ``RunStarted``, one ``CaseFinished`` per case (in plan order, whatever
order the workers finish in) and ``RunFinished``; report writers, the cassette recorder and the
terminal progress are all listeners on that stream. Phases: probe (reachability, auth, loading) →
examples → coverage → fuzz. A failure with a new dedup key is shrunk before its case is emitted.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.checks import CheckContext, run_checks, select
from asr_conformance.conformance.checks.base import Check
from asr_conformance.conformance.generation.audio import cheap
from asr_conformance.conformance.generation.caseio import case_to_json
from asr_conformance.conformance.generation.planner import plan_cases, plan_fixed, plan_fuzz
from asr_conformance.conformance.generation.render import build_requests
from asr_conformance.conformance.generation.shrink import candidates
from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Event,
    Exchange,
    Failure,
    Outcome,
    Request,
    RunFinished,
    RunStarted,
    Severity,
)
from asr_conformance.conformance.profiles import get_profile
from asr_conformance.conformance.repro import make_repro, write_bodies
from asr_conformance.conformance.target import Target, TargetInfo
from asr_conformance.conformance.targets import MOCK_MODEL_PATH, open_target
from asr_conformance.conformance.transport import BudgetExhausted, public_url, send_with_backoff

from asr_conformance import spec

if TYPE_CHECKING:
    from asr_conformance.mock_server.config import MockConfig

FAILING = (Outcome.FAIL, Outcome.ERROR)
REPRO_FILES_PER_FAILURE = 5  # cases per failure kind whose bodies are written under REPORT_DIR/repro/


class TargetUnreachable(Exception):
    """The probe got no answer (or only refusals it cannot get past): exit 2, nothing was judged."""


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs; the CLI builds it from flags over ``[tool.asr-conformance]`` defaults."""

    target: str | None = None  # None / "mock": in-process mock; URL; cassette:PATH
    token: str | None = field(default=None, repr=False)
    token_env: str | None = None  # shown in repros instead of the token
    headers: tuple[tuple[str, str], ...] = ()
    profile: str = "default"
    seed: int | None = None
    max_examples: int | None = None  # fuzz cases (the profile's count otherwise)
    spec_view: str = "served"
    fail_on: str = "error"  # error | warning
    checks: tuple[str, ...] | None = None
    exclude_checks: tuple[str, ...] = ()
    workers: int = 16
    request_timeout: float = 60.0
    max_requests: int | None = None
    dry_run: bool = False  # the CLI prints plan() instead of calling run()
    report_dir: Path | None = None
    include_legacy: bool = False
    max_body_bytes: int | None = None
    mock_violate: tuple[str, ...] = ()
    mock_config: MockConfig | None = None
    record: Path | None = None
    shrink: bool = True
    max_retries: int = 2  # on 429/503, after the delay the target asks for
    max_retry_wait_s: float = 30.0
    ready_timeout_s: float = 120.0  # how long the probe waits for a loading model


def suite_version() -> str:
    try:
        return importlib.metadata.version("asr-conformance")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def mock_config_for(config: RunConfig) -> MockConfig:
    """The in-process mock's settings: the violations asked for, a body limit sized for the profile."""
    from asr_conformance.mock_server.config import MockConfig

    base = config.mock_config or MockConfig()
    limit = config.max_body_bytes
    if limit is None and config.mock_config is None:
        # The power of two above the largest body a case may carry: stereo float WAV at 48 kHz, as base64.
        biggest = get_profile(config.profile).max_duration_s * 48000 * 2 * 4 * 4 / 3
        limit = max(1 << 20, 1 << int(biggest).bit_length())
    # A throwaway token makes the mock require auth, so the auth scenarios are exercised, not skipped.
    token = base.token if config.mock_config is not None else (config.token or f"mock-{secrets.token_hex(8)}")
    return replace(
        base,
        token=token,
        violate=tuple(dict.fromkeys((*base.violate, *config.mock_violate))),
        max_body_bytes=limit if limit is not None else base.max_body_bytes,
    )


async def open_for(config: RunConfig) -> Target:
    """Open the run's target (the in-process mock when none is named)."""
    is_mock = config.target in (None, "mock")
    return await open_target(
        config.target,
        token=config.token,
        headers=config.headers,
        mock_config=mock_config_for(config) if is_mock else None,
        max_body_bytes=config.max_body_bytes,
    )


def offline_info(config: RunConfig) -> TargetInfo:
    """What the run would know of its target, without contacting it (for ``--dry-run``)."""
    if config.target in (None, "mock"):
        mock = mock_config_for(config)
        return TargetInfo(
            name="mock:in-process",
            model_url="http://127.0.0.1:0" + MOCK_MODEL_PATH,
            exposes_mock_controls=True,
            has_token=bool(config.token or mock.token),
            max_body_bytes=mock.max_body_bytes,
            is_mock=True,
        )
    return TargetInfo(
        name=public_url(config.target),
        model_url=config.target,
        has_token=bool(config.token),
        max_body_bytes=config.max_body_bytes,
    )


def plan(config: RunConfig, target_info: TargetInfo) -> list[CaseSpec]:
    """The run's cases in order (probe first); the same list for the same seed, profile and target kind."""
    return plan_cases(
        get_profile(config.profile), target_info, seed=config.seed or 0, max_examples=config.max_examples
    )


def selected_checks(config: RunConfig) -> tuple[Check, ...]:
    return select(config.checks, config.exclude_checks, config.include_legacy)


# ------------------------------------------------------------------------------------ one case


class Budget:
    """``--max-requests``: every attempt (retries included) takes one request."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0

    def take(self) -> bool:
        if self.limit is not None and self.used >= self.limit:
            return False
        self.used += 1
        return True

    @property
    def spent(self) -> bool:
        return self.limit is not None and self.used >= self.limit


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


async def shrink(
    finished: CaseFinished,
    case: CaseSpec,
    key: tuple[str, str],
    target: Target,
    config: RunConfig,
    budget: Budget,
    attempts: int,
) -> tuple[CaseSpec, CaseFinished, int] | None:
    """The simplest variant of ``case`` that still fails with ``key``; ``None`` when nothing simpler does."""
    best: tuple[CaseSpec, CaseFinished] | None = None
    current, tried = case, 0
    improved = True
    while improved and tried < attempts:
        improved = False
        for candidate in candidates(current):
            if tried >= attempts:
                break
            tried += 1
            candidate = replace(candidate, id=f"{case.id}-min")
            try:
                result = await execute(candidate, target, config, budget=budget)
            except BudgetExhausted:
                return (best[0], best[1], tried) if best else None
            if any(f.dedup_key == key for f in failures_of(result)):
                best, current, improved = (candidate, result), candidate, True
                break
    return (best[0], best[1], tried) if best else None


# ------------------------------------------------------------------------------------------ run


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def exit_code(results: Sequence[CheckResult], fail_on: str) -> int:
    """1 when a FAIL or ERROR at or above ``fail_on`` occurred, else 0."""
    threshold = Severity(fail_on).rank
    return int(any(r.outcome in FAILING and r.severity.rank >= threshold for r in results))


async def _probe(
    case: CaseSpec, target: Target, config: RunConfig, budget: Budget
) -> tuple[CaseFinished, CaseFinished | None]:
    """Send the probe and wait out a loading model.

    Returns the probe's verdicts and, when the target was seen loading, a ``loading`` protocol case made
    of what it showed (the 503, then the answer to the request with ``x-wait-for-model``)."""
    request = build_requests(case)[0]
    if not budget.take():
        raise TargetUnreachable("--max-requests leaves no request for the probe")
    first = await target.send(request, timeout=config.request_timeout)
    if first.response is None:
        raise TargetUnreachable(f"{target.info.name} is unreachable: {first.transport_error}")
    status = first.response.status
    if status in (401, 403) and not target.info.has_token:
        raise TargetUnreachable(f"{target.info.name} requires a token ({status}); pass --token-env VAR")
    if status == 404 and not target.info.is_mock:  # the mock's URL is ours: a 404 there is its fault
        raise TargetUnreachable(f"{target.info.name} answered 404: is this a model URL?")
    loading = None
    final = first
    if status == 503:
        waited = Request(
            request.method, request.path, (*request.headers, ("x-wait-for-model", "true")), request.body
        )
        deadline = time.monotonic() + config.ready_timeout_s
        second = None
        while time.monotonic() < deadline and budget.take():
            final = await target.send(waited, timeout=max(1.0, deadline - time.monotonic()))
            second = second or final
            if final.response is not None and final.response.status != 503:
                break
            await asyncio.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
        if second is not None:
            seen = replace(case, id="probe-loading", kind="protocol", protocol="loading")
            loading = judge(seen, (first, second), target.info, config, meta={"observed": True})
        if final.response is None or final.response.status == 503:
            raise TargetUnreachable(f"{target.info.name} still loading after {config.ready_timeout_s:g} s")
    return judge(case, (final,), target.info, config), loading


async def run(
    config: RunConfig, on_event: Callable[[Event], None], *, target: Target | None = None
) -> RunFinished:
    """Run the suite: RunStarted → CaseFinished… → RunFinished (also returned).

    ``target``: an already opened target (the caller closes it); otherwise the run opens and closes
    ``config.target``. Raises :class:`TargetUnreachable` (before RunStarted) when the probe gets no
    usable answer.
    """
    if config.dry_run:
        raise ValueError("a dry run sends nothing: call plan() (run() always sends)")
    if config.seed is None:
        config = replace(config, seed=random.SystemRandom().randrange(2**31))
    checks = selected_checks(config)
    t0 = time.perf_counter()
    budget = Budget(config.max_requests)
    all_results: list[CheckResult] = []
    n_cases = 0
    owned = target is None
    target = target or await open_for(config)
    if target.info.is_replay:
        # A cassette drives its own run: its recorded cases are judged, nothing is generated or sent.
        from asr_conformance.conformance.cassette import replay_run

        try:
            return await replay_run(config, on_event, target=target)  # type: ignore[arg-type]
        finally:
            if owned:
                await target.close()
    try:
        info = target.info
        profile = get_profile(config.profile)
        fixed = plan_fixed(profile, info)
        probe, loading = await _probe(fixed[0], target, config, budget)
        # Hypothesis draws the fuzz cases in a thread while the fixed ones are sent: drawing is CPU
        # work, sending mostly waits on the target. The plan is the same as plan()'s.
        drawn = asyncio.create_task(
            asyncio.to_thread(plan_fuzz, profile, seed=config.seed or 0, max_examples=config.max_examples)
        )
        run_id = uuid.uuid4().hex[:12]
        on_event(
            RunStarted(
                run_id=run_id,
                suite_version=suite_version(),
                spec_view=config.spec_view,
                upstream_commit=spec.UPSTREAM.commit,
                target=info.name,
                profile=config.profile,
                seed=config.seed,
                started_at=_now(),
                checks=tuple(c.id for c in checks),
            )
        )

        written: Counter[tuple[str, str]] = Counter()

        def emit(finished: CaseFinished) -> None:
            nonlocal n_cases
            n_cases += 1
            all_results.extend(finished.results)
            if config.report_dir is not None and finished.repro is not None:
                # Body files for the first few cases of each kind of failure: enough to reproduce it,
                # without copying every request of a badly broken target to disk.
                keys = {f.dedup_key for f in failures_of(finished)} or {("error", finished.case_id)}
                if any(written[k] < REPRO_FILES_PER_FAILURE for k in keys):
                    written.update(keys)
                    _write_repro_bodies(finished, config.report_dir)
            on_event(finished)

        emit(probe)
        if loading is not None:
            emit(loading)
        seen: set[tuple[str, str]] = set()
        try:
            await _run_cases(fixed[1:], target, config, checks, budget, emit, seen)
        finally:
            fuzz_cases = await drawn
        await _run_cases(fuzz_cases, target, config, checks, budget, emit, seen)
    finally:
        if owned:
            await target.close()
    finished = RunFinished(
        run_id=run_id,
        finished_at=_now(),
        duration_s=round(time.perf_counter() - t0, 3),
        cases=n_cases,
        outcomes=_count(all_results),
        failed_checks=tuple(sorted({r.check_id for r in all_results if r.outcome in FAILING})),
        exit_code=exit_code(all_results, config.fail_on),
    )
    on_event(finished)
    return finished


def _count(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = {str(o): 0 for o in Outcome}
    for r in results:
        counts[str(r.outcome)] += 1
    return counts


def _write_repro_bodies(finished: CaseFinished, report_dir: Path) -> None:
    from asr_conformance.conformance.generation.caseio import case_from_json

    shrunk = finished.meta.get("shrunk")
    source = shrunk["case"] if shrunk else finished.meta["case"]
    requests = (
        [Request.from_json(r) for r in shrunk["requests"]]
        if shrunk
        else [e.request for e in finished.exchanges]
    )
    write_bodies(case_from_json(source), requests, report_dir / "repro")


async def _run_cases(
    cases: Sequence[CaseSpec],
    target: Target,
    config: RunConfig,
    checks: Sequence[Check],
    budget: Budget,
    emit: Callable[[CaseFinished], None],
    seen_keys: set[tuple[str, str]],
) -> None:
    """Send cases with ``config.workers`` in flight; emit them in plan order; shrink new failures
    (``seen_keys``: the dedup keys already shrunk in this run)."""
    profile = get_profile(config.profile)
    done: dict[int, CaseFinished | None] = {}
    next_emit = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(cases)):
        queue.put_nowait(i)

    def flush() -> None:
        nonlocal next_emit
        while next_emit in done:
            finished = done.pop(next_emit)
            if finished is not None:
                emit(finished)
            next_emit += 1

    async def worker() -> None:
        while not queue.empty() and not budget.spent:
            i = queue.get_nowait()
            case = cases[i]
            try:
                finished: CaseFinished | None = await execute(
                    case, target, config, checks=checks, budget=budget
                )
            except BudgetExhausted:
                finished = None
            if finished is not None and config.shrink:
                new = [f.dedup_key for f in failures_of(finished) if f.dedup_key not in seen_keys]
                seen_keys.update(new)
                if new and case.phase != "examples":
                    finished = await _with_shrunk(
                        finished, case, new[0], target, config, budget, profile.shrink_attempts
                    )
            done[i] = finished
            flush()

    await asyncio.gather(*(worker() for _ in range(max(1, config.workers))))
    # Cases never sent (request budget spent) leave gaps: emit what exists, in order.
    for i in sorted(done):
        if done[i] is not None:
            emit(done[i])  # type: ignore[arg-type]


async def _with_shrunk(
    finished: CaseFinished,
    case: CaseSpec,
    key: tuple[str, str],
    target: Target,
    config: RunConfig,
    budget: Budget,
    attempts: int,
) -> CaseFinished:
    found = await shrink(finished, case, key, target, config, budget, attempts)
    if found is None:
        return finished
    small, result, tried = found
    shrunk = {
        "case": case_to_json(small),
        "description": describe(small),
        "key": list(key),
        "attempts": tried,
        "requests": [e.request.to_json() for e in result.exchanges],
    }
    return replace(finished, repro=result.repro, meta={**finished.meta, "shrunk": shrunk})


__all__ = [
    "Budget",
    "RunConfig",
    "TargetUnreachable",
    "describe",
    "execute",
    "exit_code",
    "judge",
    "mock_config_for",
    "offline_info",
    "open_for",
    "plan",
    "run",
    "selected_checks",
    "send_requests",
    "shrink",
    "suite_version",
]
