"""Valid twins: a refusal proves something only when the same request without the mutation is accepted.

A server that refuses every JSON body would otherwise "reject" every invalid JSON body and pass. Each
negative (or malformed-audio) case has a twin: the same form, the same audio (codec, rate, channels,
sample format, duration and kind), the same headers and parameters, without the one change. Twins that
render alike are sent once per run. When the twin was not accepted (no 2xx) the rejection checks' PASS on
the case becomes SKIP "inconclusive: the valid request was refused too". Checks whose PASS depends on
the probe having been accepted (auth, body limit) follow the same rule with the probe as the twin.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from typing import Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.generation import builders
from asr_conformance.conformance.model import CaseFinished, CheckResult, Outcome

#: checks whose PASS on a refused case means "refused for the mutation": vacuous if the twin is refused
TWIN_CHECKS = frozenset({"negative_data_rejection"})
#: checks whose PASS means "refused without a valid token / over the limit": vacuous if the probe was refused
PROBE_CHECKS = frozenset({"ignored_auth", "body_limit_enforced"})
REJECT_KINDS = frozenset({"negative", "malformed_audio"})
INCONCLUSIVE = "inconclusive: the valid request was refused too"


def twin_of(case: CaseSpec) -> CaseSpec | None:
    """The valid request a negative case is a mutation of; None for cases that need no twin."""
    if case.kind not in REJECT_KINDS or case.audio is None:
        return None
    twin_id = f"{case.id}-twin"
    path = case.mutated_path or ""
    form = "json" if case.raw_json is not None else case.form
    twin = builders.positive(twin_id, case.phase, case.audio, form)
    headers = case.headers
    if path.startswith("header:"):
        name = path.removeprefix("header:").lower()
        headers = tuple((k, v) for k, v in headers if k.lower() != name)
    params = _without(case.parameters, path) if case.raw_json is None else None
    content_type = case.meta.get("content_type")
    meta = dict(twin.meta)
    if content_type is not None and path.lower() != "header:content-type":
        meta["content_type"] = content_type
    return replace(twin, headers=headers, parameters=params if form == "json" else None, meta=meta)


def _without(parameters: dict[str, Any] | None, path: str) -> dict[str, Any] | None:
    """``parameters`` with the dotted ``path`` (``parameters.a.b``) taken out; empty objects pruned."""
    if not parameters or not path.startswith("parameters."):
        return None if path == "parameters" else parameters or None
    out = copy.deepcopy(parameters)
    keys = path.split(".")[1:]
    trail = [out]
    for key in keys[:-1]:
        nxt = trail[-1].get(key)
        if not isinstance(nxt, dict):
            return out
        trail.append(nxt)
    trail[-1].pop(keys[-1], None)
    for parent, key in zip(reversed(trail[:-1]), reversed(keys[:-1]), strict=True):
        if parent.get(key) == {}:
            del parent[key]
    return out or None


def twin_key(twin: CaseSpec) -> str:
    """Twins that render alike share one request (the tone's seed is left out: any tone will do)."""
    audio = (
        replace(twin.audio, seed=0) if twin.audio is not None and twin.audio.kind == "tone" else twin.audio
    )
    return json.dumps(
        [
            twin.form,
            asdict(audio) if audio else None,
            twin.parameters,
            twin.headers,
            twin.meta.get("content_type"),
        ],
        sort_keys=True,
        default=str,
    )


def accepted(finished: CaseFinished) -> bool:
    """Every request of the case was answered 2xx."""
    return bool(finished.exchanges) and all(
        e.response is not None and 200 <= e.response.status < 300 for e in finished.exchanges
    )


def inconclusive(finished: CaseFinished, checks: frozenset[str], why: str = INCONCLUSIVE) -> CaseFinished:
    """``finished`` with the PASS of ``checks`` turned into SKIP ``why`` (other verdicts stand)."""
    results = tuple(
        CheckResult(r.check_id, r.case_id, Outcome.SKIP, r.severity, message=why)
        if r.outcome is Outcome.PASS and r.check_id in checks
        else r
        for r in finished.results
    )
    return replace(finished, results=results)


class Twins:
    """One send per distinct twin in a run, shared by every case that needs it (and by concurrent ones)."""

    def __init__(self, send: Callable[[CaseSpec], Awaitable[CaseFinished]]) -> None:
        self._send = send
        self._sent: dict[str, asyncio.Task[CaseFinished]] = {}

    async def verdict(self, case: CaseSpec) -> dict[str, Any] | None:
        """``{"id", "status", "accepted"}`` of the case's twin (sending it if needed); None: no twin."""
        twin = twin_of(case)
        if twin is None:
            return None
        key = twin_key(twin)
        if key not in self._sent:
            self._sent[key] = asyncio.ensure_future(self._send(twin))
        finished = await self._sent[key]
        last = finished.exchanges[-1] if finished.exchanges else None
        status = last.response.status if last is not None and last.response is not None else None
        return {"id": finished.case_id, "status": status, "accepted": accepted(finished)}

    @property
    def sent(self) -> int:
        return len(self._sent)


__all__ = ["INCONCLUSIVE", "PROBE_CHECKS", "TWIN_CHECKS", "Twins", "accepted", "inconclusive", "twin_of"]
