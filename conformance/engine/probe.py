"""The probe: the first request of a run, which decides whether there is anything to judge."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import replace

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import RunConfig
from asr_conformance.conformance.engine.execute import judge
from asr_conformance.conformance.generation.render import build_requests
from asr_conformance.conformance.model import CaseFinished, Exchange, Request, Response
from asr_conformance.conformance.target import Target

Notify = Callable[[str], None]
TICK_S = 5.0  # a progress line this often while a loading target is waited for


class TargetUnreachable(Exception):
    """The probe got no answer (or only refusals it cannot get past): exit 2, nothing was judged."""


async def probe(
    case: CaseSpec, target: Target, config: RunConfig, budget: Budget, notify: Notify | None = None
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
    if status in (401, 403):
        # Every later case would be refused the same way: hundreds of PRECONDITION_FAILED and a green
        # headline prove nothing.
        raise TargetUnreachable(f"the target refused the token ({status} on the probe): check --token-env")
    if status == 404 and not target.info.is_mock:  # the mock's URL is ours: a 404 there is its fault
        raise TargetUnreachable(f"{target.info.name} answered 404: is this a model URL?")
    loading = None
    final = first
    if status == 503:
        final, second = await _wait_ready(request, target, config, budget, notify)
        if second is not None:
            seen = replace(case, id="probe-loading", kind="protocol", protocol="loading")
            loading = judge(seen, (first, second), target.info, config, meta={"observed": True})
        if final.response is None or final.response.status == 503:
            raise TargetUnreachable(
                f"{target.info.name} still loading after {config.ready_timeout_s:g} s (--ready-timeout)"
            )
    if not target.info.is_mock and (seen_instead := not_this_api(final.response)):
        raise TargetUnreachable(
            f"this does not look like the HF automatic-speech-recognition API: {seen_instead}"
        )
    return judge(case, (final,), target.info, config), loading


async def _wait_ready(
    request: Request, target: Target, config: RunConfig, budget: Budget, notify: Notify | None
) -> tuple[Exchange, Exchange | None]:
    """Repeat the probe with ``x-wait-for-model: true`` until the model answers or ``--ready-timeout``
    passes; a line every few seconds says so, so that a loading target never looks like a hung run.
    Returns the last exchange and the first answer to the waiting request."""
    waited = Request(
        request.method, request.path, (*request.headers, ("x-wait-for-model", "true")), request.body
    )
    start = time.monotonic()
    deadline = start + config.ready_timeout_s
    ticker = asyncio.create_task(_tick(target.info.name, start, config.ready_timeout_s, notify))
    final: Exchange | None = None
    second = None
    try:
        while time.monotonic() < deadline and budget.take():
            final = await target.send(waited, timeout=max(1.0, deadline - time.monotonic()))
            second = second or final
            if final.response is not None and final.response.status != 503:
                break
            await asyncio.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
    finally:
        ticker.cancel()
    return final or Exchange(waited, None, "no request left to wait with"), second


async def _tick(name: str, start: float, limit: float, notify: Notify | None) -> None:
    while notify is not None:
        notify(f"{name} is loading its model: waited {time.monotonic() - start:.0f} s of {limit:g} s")
        await asyncio.sleep(TICK_S)


#: statuses a server gives a request it has no route or parser for; this API answers them with {"error"}
FOREIGN_STATUSES = frozenset({404, 405, 415, 422, 501})


def not_this_api(response: Response) -> str | None:
    """What the probe saw when the documented raw request was not answered in this API's shape, else None.

    HTML, FastAPI's ``{"detail": ...}`` or a routing status without ``{"error"}`` means another kind of
    server: judging it would give hundreds of verdicts about nothing."""
    ctype = (response.header("content-type") or "").split(";")[0].strip().lower()
    text = response.body[:2000].decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(response.body) if response.body else None
    except ValueError:
        data = None
    has_error = isinstance(data, dict) and "error" in data
    foreign = (
        "html" in ctype
        or text.lower().startswith(("<!doctype", "<html"))
        or (isinstance(data, dict) and "detail" in data and not has_error)
        or (response.status in FOREIGN_STATUSES and not has_error)
    )
    if not foreign:
        return None
    snippet = " ".join(text.split())[:120]
    return f"{response.status} {ctype or 'no Content-Type'} {snippet}".rstrip()


__all__ = ["FOREIGN_STATUSES", "TargetUnreachable", "not_this_api", "probe"]
