"""Schema-driven, property-based conformance checks for the ASR task, against any target.

The public names below are re-exported lazily (PEP 562), so importing the package costs nothing until a
name is used: the pytest plugins and the CLI stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "CaseSpec": "conformance.cases",
    "CassetteRecorder": "conformance.cassette",
    "CassetteTarget": "conformance.cassette",
    "Exchange": "conformance.model",
    "Outcome": "conformance.model",
    "RunConfig": "conformance.runner",
    "Severity": "conformance.model",
    "all_checks": "conformance.checks",
    "execute": "conformance.runner",
    "open_target": "conformance.targets",
    "open_writers": "conformance.reports",
    "plan": "conformance.runner",
    "run": "conformance.runner",
    "run_checks": "conformance.checks",
    "run_compare": "conformance.compare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
