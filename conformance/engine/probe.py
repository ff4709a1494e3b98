"""The probe: the first request of a run, which decides whether there is anything to judge.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.generation.render import build_requests
from asr_conformance.conformance.model import (
    CaseFinished,
    Request,
)
from asr_conformance.conformance.target import Target

if TYPE_CHECKING:
    pass
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import RunConfig
from asr_conformance.conformance.engine.execute import judge


class TargetUnreachable(Exception):
    """The probe got no answer (or only refusals it cannot get past): exit 2, nothing was judged."""


async def probe(
    case: CaseSpec, target: Target, config: RunConfig, budget: Budget
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
    if status == 404 and not target.info.is_mock:  # the mock's URL is ours: a 404 there is its fault
        raise TargetUnreachable(f"{target.info.name} answered 404: is this a model URL?")
    loading = None
    final = first
    if status == 503:
        waited = Request(
            request.method, request.path, (*request.headers, ("x-wait-for-model", "true")), request.body
        )
        deadline = time.monotonic() + config.ready_timeout_s
        second = None
        while time.monotonic() < deadline and budget.take():
            final = await target.send(waited, timeout=max(1.0, deadline - time.monotonic()))
            second = second or final
            if final.response is not None and final.response.status != 503:
                break
            await asyncio.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
        if second is not None:
            seen = replace(case, id="probe-loading", kind="protocol", protocol="loading")
            loading = judge(seen, (first, second), target.info, config, meta={"observed": True})
        if final.response is None or final.response.status == 503:
            raise TargetUnreachable(f"{target.info.name} still loading after {config.ready_timeout_s:g} s")
    return judge(case, (final,), target.info, config), loading
