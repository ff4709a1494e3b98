"""The registry: every check by id, selection, and turning a check's problems into verdicts.

Verdicts follow the Bowtie/Schemathesis vocabulary (``asr_conformance.conformance.model.Outcome``). Before
any check
looks at a case, the case itself may rule out a verdict:

* a transport error (reset, timeout) on any exchange → ERROR: the target broke;
* a 503 or 429 the case did not ask for → PRECONDITION_FAILED: not the target's fault, not a verdict;
  so is a 401/403 outside the auth scenarios (the target wants a token the run does not have);
* a body that claims to be JSON, or a 200 (which must be JSON), that does not parse → ERROR.


A check that raises :class:`~asr_conformance.conformance.checks.base.Skip` is SKIP; one that crashes is
ERROR with the exception's last traceback line, and the run goes on.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable

from asr_conformance.conformance.checks import behaviour, data, http, protocols, schema, security, timestamps
from asr_conformance.conformance.checks.base import Check, CheckContext, Problem, Skip
from asr_conformance.conformance.checks.reading import is_json_media, response_json
from asr_conformance.conformance.model import CheckResult, Failure, Outcome, Severity

from asr_conformance import spec

_MODULES = (http, schema, data, protocols, timestamps, security, behaviour)

#: Ids once used and withdrawn: never to be given to a new check.
RETIRED: frozenset[str] = frozenset()

_REGISTRY: dict[str, Check] = {c.id: c for module in _MODULES for c in module.CHECKS}


def all_checks() -> tuple[Check, ...]:
    """Every registered check, in a stable order (by module, then as declared)."""
    return tuple(_REGISTRY.values())


def get(check_id: str) -> Check:
    """The check with this id; ``KeyError`` naming the known ids otherwise."""
    try:
        return _REGISTRY[check_id]
    except KeyError:
        raise KeyError(f"unknown check {check_id!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def is_legacy(chk: Check) -> bool:
    """Legacy checks test behaviour the API no longer promises; they run only on request."""
    return spec.default_severity(chk.evidence) is None


def select(
    ids: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    include_legacy: bool = False,
) -> tuple[Check, ...]:
    """Checks by id (all when ``ids`` is None), minus ``exclude``; legacy ones only if asked or named."""
    named = list(ids) if ids is not None else None
    excluded = set(exclude or ())
    for check_id in [*(named or ()), *excluded]:
        get(check_id)  # unknown ids are usage errors, not silently ignored
    if named is not None:
        chosen = [get(i) for i in dict.fromkeys(named)]
    else:
        chosen = [c for c in all_checks() if include_legacy or not is_legacy(c)]
    return tuple(c for c in chosen if c.id not in excluded)


def severity_of(evidence: str, include_legacy: bool = True) -> Severity | None:
    """Severity for an evidence tag; legacy evidence weighs a warning when it is judged at all."""
    level = spec.default_severity(evidence)
    if level is None:
        return Severity.WARNING if include_legacy else None
    return Severity(level)


def _precondition(ctx: CheckContext) -> tuple[Outcome, str] | None:
    """A reason no check can judge this case, or ``None``."""
    for index, exchange in enumerate(ctx.exchanges):
        where = f"exchange {index + 1}: " if len(ctx.exchanges) > 1 else ""
        if exchange.transport_error is not None or exchange.response is None:
            return Outcome.ERROR, f"{where}transport error: {exchange.transport_error or 'no response'}"
        resp = exchange.response
        if resp.status == 429:
            return Outcome.PRECONDITION_FAILED, f"{where}rate limited (429)"
        if resp.status == 503 and ctx.case.protocol != "loading":
            return Outcome.PRECONDITION_FAILED, f"{where}target unavailable or loading (503)"
        if resp.status in (401, 403) and ctx.case.protocol not in ("auth_missing", "auth_wrong"):
            return Outcome.PRECONDITION_FAILED, f"{where}target refused authentication ({resp.status})"
        json_due = resp.status == 200 or is_json_media(resp.header("content-type"))
        if json_due and not response_json(resp)[0]:
            return Outcome.ERROR, f"{where}invalid JSON in a {resp.status} response"
    return None


def _failures(chk: Check, ctx: CheckContext, problems: Iterable[str | Problem]) -> list[Failure]:
    failures = []
    for problem in problems:
        p = problem if isinstance(problem, Problem) else Problem(problem)
        evidence = str(p.evidence or chk.evidence)
        severity = severity_of(evidence, include_legacy=is_legacy(chk))
        if severity is None:  # a legacy constraint inside a current check: not judged unless asked
            continue
        failures.append(
            Failure(
                check_id=chk.id,
                title=p.title or chk.title,
                message=p.message,
                severity=severity,
                case_id=ctx.case.id,
                evidence=evidence,
                spec_ref=p.spec_ref or chk.spec_ref,
            )
        )
    return sorted(failures)


def run_check(chk: Check, ctx: CheckContext) -> CheckResult:
    """One check on one case, never raising."""
    default = severity_of(chk.evidence) or Severity.WARNING

    def result(outcome: Outcome, message: str = "", failures: tuple[Failure, ...] = ()) -> CheckResult:
        severity = max((f.severity for f in failures), key=lambda s: s.rank, default=default)
        return CheckResult(chk.id, ctx.case.id, outcome, severity, failures, message)

    blocked = _precondition(ctx)
    if blocked is not None:
        return result(*blocked)
    try:
        failures = _failures(chk, ctx, chk.fn(ctx) or ())
    except Skip as exc:
        return result(Outcome.SKIP, str(exc) or "not exercised")
    except Exception as exc:  # a broken check must not break the run
        last = traceback.format_exception_only(exc)[-1].strip()
        return result(Outcome.ERROR, f"check crashed: {last}")
    return result(Outcome.FAIL, failures=tuple(failures)) if failures else result(Outcome.PASS)


def run_checks(ctx: CheckContext, checks: Iterable[Check]) -> tuple[CheckResult, ...]:
    """Every applicable check's verdict on this case (checks that do not apply give no result)."""
    results = []
    for chk in checks:
        try:
            applies = chk.applies(ctx)
        except Exception as exc:
            last = traceback.format_exception_only(exc)[-1].strip()
            results.append(
                CheckResult(
                    chk.id,
                    ctx.case.id,
                    Outcome.ERROR,
                    severity_of(chk.evidence) or Severity.WARNING,
                    message=f"check crashed deciding whether it applies: {last}",
                )
            )
            continue
        if applies:
            results.append(run_check(chk, ctx))
    return tuple(results)


__all__ = ["RETIRED", "all_checks", "get", "is_legacy", "run_check", "run_checks", "select", "severity_of"]
