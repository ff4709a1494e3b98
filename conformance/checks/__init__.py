"""The check catalogue: what judges each exchange, by stable id (see ``docs/checks.md``).

``all_checks()`` lists them, ``select()`` picks some, ``run_checks()`` turns their problems into
verdicts. Severity follows each constraint's evidence tag (``spec.default_severity``); legacy checks run
only when asked for. Ids are never reused: withdrawn ones stay in ``RETIRED``.
"""

from asr_conformance.conformance.checks.base import Check, CheckContext, Problem, Skip
from asr_conformance.conformance.checks.registry import (
    RETIRED,
    all_checks,
    get,
    run_check,
    run_checks,
    select,
)

__all__ = [
    "RETIRED",
    "Check",
    "CheckContext",
    "Problem",
    "Skip",
    "all_checks",
    "get",
    "run_check",
    "run_checks",
    "select",
]
