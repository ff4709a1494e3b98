"""The check registry: every check has a stable id, a title, evidence, a spec reference and a doc line.

A check is a function over a :class:`CheckContext` that returns problems as strings (or nothing). The
registry turns them into :class:`~asr_conformance.conformance.model.CheckResult` values with the check's
severity, which
follows from its evidence tag (``spec.default_severity``). Ids are never reused: a retired check keeps
its id in ``RETIRED``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.model import Exchange
from asr_conformance.conformance.target import TargetInfo


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


@dataclass(frozen=True)
class Problem:
    """A problem with its own evidence, for checks that test several constraints of unequal weight.

    A check may yield plain strings (judged with the check's own evidence) or ``Problem`` values; a
    problem's ``title`` separates its failures from the check's others when deduplicating and shrinking.
    """

    message: str
    evidence: str | None = None  # None: the check's evidence
    spec_ref: str | None = None  # None: the check's spec reference
    title: str | None = None  # None: the check's title


CheckFn = Callable[[CheckContext], Iterable[str | Problem] | None]


@dataclass(frozen=True)
class Check:
    """One registered check (see ``asr_conformance.conformance.checks`` for the registry)."""

    id: str  # stable, snake_case, never reused
    title: str
    evidence: str  # spec.Evidence value
    spec_ref: str  # table row ("payload:parameters.return_timestamps") or erratum id
    doc: str  # one line
    fn: CheckFn
    applies: Callable[[CheckContext], bool]
    fired_by: tuple[str, ...] = ()  # mock --violate switches that must make it fail


def check(
    *,
    id: str,
    title: str,
    evidence: str,
    spec_ref: str,
    applies: Callable[[CheckContext], bool],
    fired_by: tuple[str, ...],
) -> Callable[[CheckFn], Check]:
    """Decorator: turn a check function into a :class:`Check`; its docstring's first line is the doc."""

    def wrap(fn: CheckFn) -> Check:
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        return Check(
            id=id,
            title=title,
            evidence=evidence,
            spec_ref=spec_ref,
            doc=doc,
            fn=fn,
            applies=applies,
            fired_by=fired_by,
        )

    return wrap


__all__ = ["Check", "CheckContext", "CheckFn", "Problem", "Skip", "check"]
