"""Schema-driven, property-based conformance checks for the ASR task, against any target.

The public names below are re-exported lazily (PEP 562), so importing the package costs nothing until a
name is used: the pytest plugins and the CLI stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "CaseSpec": "asr_conformance.conformance.cases",
    "CassetteRecorder": "asr_conformance.conformance.record.cassette",
    "CassetteTarget": "asr_conformance.conformance.targets.replay",
    "Exchange": "asr_conformance.conformance.model",
    "Outcome": "asr_conformance.conformance.model",
    "RunConfig": "asr_conformance.conformance.engine.config",
    "Severity": "asr_conformance.conformance.model",
    "all_checks": "asr_conformance.conformance.checks",
    "execute": "asr_conformance.conformance.engine.execute",
    "open_target": "asr_conformance.conformance.targets.factory",
    "open_writers": "asr_conformance.conformance.reports",
    "plan": "asr_conformance.conformance.engine.config",
    "run": "asr_conformance.conformance.engine.runner",
    "run_checks": "asr_conformance.conformance.checks",
    "run_compare": "asr_conformance.conformance.compare.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
