"""The check registry: every check has a stable id, a title, evidence, a spec reference and a doc line.

A check is a function over a :class:`CheckContext` that returns problems as strings (or nothing). The
registry turns them into :class:`~conformance.model.CheckResult` values with the check's severity, which
follows from its evidence tag (``spec.default_severity``). Ids are never reused: a retired check keeps
its id in ``RETIRED``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from conformance.cases import CaseSpec
from conformance.model import Exchange
from conformance.target import TargetInfo


class Skip(Exception):
    """Raised by a check when it cannot judge this case on this target (becomes SKIP, never PASS)."""


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may look at for one case."""

    case: CaseSpec
    exchanges: tuple[Exchange, ...]
    target: TargetInfo
    view: str = "served"

    @property
    def exchange(self) -> Exchange:
        return self.exchanges[0]

    @cached_property
    def json_body(self) -> Any:
        """The first response's body parsed as JSON, or ``None`` when it is not JSON."""
        resp = self.exchange.response
        if resp is None:
            return None
        try:
            return json.loads(resp.body)
        except ValueError:
            return None


CheckFn = Callable[[CheckContext], Iterable[str] | None]


@dataclass(frozen=True)
class Check:
    id: str  # stable, snake_case, never reused
    title: str
    evidence: str  # spec.Evidence value
    spec_ref: str  # table row ("payload:parameters.return_timestamps") or erratum id
    doc: str  # one line
    fn: CheckFn
    applies: Callable[[CheckContext], bool]
    fired_by: tuple[str, ...] = ()  # mock --violate switches that must make it fail


__all__ = ["Check", "CheckContext", "CheckFn", "Skip"]
