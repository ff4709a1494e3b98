"""What reports say about a check apart from its results: title, doc, spec reference, evidence, its own
severity, and how to exercise it when a run judged nothing with it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from asr_conformance.conformance.model import CheckResult, Severity


@dataclass(frozen=True)
class CheckInfo:
    """A check's metadata as reports show it; ``known`` is False when the registry lacks the id."""

    id: str
    title: str
    doc: str
    spec_ref: str
    evidence: str
    known: bool


@functools.cache
def _registered(check_id: str) -> Any:
    """The registry's check, or ``None`` when the registry is missing or lacks the id."""
    try:
        from asr_conformance.conformance.checks import (
            get,  # the registry imports every check: only when needed
        )

        return get(check_id)
    except (ImportError, KeyError):
        return None


def check_info(check_id: str, fallback: CheckResult | None = None) -> CheckInfo:
    """Metadata from the check registry, or what the results themselves carry if the id is unknown."""
    check = _registered(check_id)
    if check is not None:
        return CheckInfo(check.id, check.title, check.doc, check.spec_ref, str(check.evidence), True)
    failure = fallback.failures[0] if fallback and fallback.failures else None
    return CheckInfo(
        id=check_id,
        title=failure.title if failure else check_id.replace("_", " "),
        doc="",
        spec_ref=failure.spec_ref if failure else "",
        evidence=failure.evidence if failure else "",
        known=False,
    )


#: how to make a check that judged nothing judge something (shown on its "not exercised" row)
EXERCISE_HINTS = {
    "ignored_auth": "run with --token-env VAR against a target that requires a token",
    "body_limit_enforced": "declare the target's body limit with --max-body-bytes N",
    "loading_response_shape": "seen only while the target loads a model (the mock's controls show it)",
    "wait_for_model_honoured": "--include-legacy, and a target that can be made to load (mock controls)",
    "cache_hit_consistent": "--include-legacy (legacy behaviour)",
    "cache_bypass_honoured": "--include-legacy (legacy behaviour)",
    "speech_chunks_not_empty": "speech cases need espeak-ng on this machine",
}


def exercise_hint(check_id: str) -> str:
    """How to exercise ``check_id``: a flag or a precondition, or "" when nothing is known."""
    return EXERCISE_HINTS.get(check_id, "")


def registered_severity(check_id: str) -> Severity | None:
    """The severity the registry gives the check (its evidence), or None when the id is unknown."""
    check = _registered(check_id)
    if check is None:
        return None
    from asr_conformance.conformance.checks.registry import severity_of

    return severity_of(str(check.evidence))


__all__ = ["EXERCISE_HINTS", "CheckInfo", "check_info", "exercise_hint", "registered_severity"]
