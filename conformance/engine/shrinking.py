"""Shrinking: the simplest variant of a failing case that still fails the same way."""

from __future__ import annotations

from dataclasses import replace

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import RunConfig
from asr_conformance.conformance.engine.execute import describe, execute, failures_of
from asr_conformance.conformance.generation.caseio import case_to_json
from asr_conformance.conformance.generation.shrink import candidates
from asr_conformance.conformance.model import (
    CaseFinished,
)
from asr_conformance.conformance.target import Target
from asr_conformance.conformance.targets.http import BudgetExhausted


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


async def with_shrunk(
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
