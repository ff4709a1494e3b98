"""HTTP-level checks (Schemathesis names where the meaning is the same): status, media type, headers, time."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from asr_conformance.conformance.checks.base import CheckContext, Problem, check
from asr_conformance.conformance.checks.reading import (
    answered,
    body_excerpt,
    expects_rejection,
    response_json,
    where,
)

from asr_conformance import spec

#: What the API answers a request it must refuse (bad parameters, undecodable audio, too large).
REJECTION_STATUSES = frozenset({400, 413})
#: Error statuses seen with a ``text/plain`` body (router 404 unserved model, 410 legacy host, TGI 422).
PLAIN_TEXT_STATUSES = frozenset({404, 410, 422})
#: Answers from in front of the model (no such model or route, host retired): the model's headers are absent.
ROUTE_STATUSES = frozenset({404, 405, 410})

#: Latency budgets. The mock answers in milliseconds, but a loaded 2-core run with 16 cases in flight
#: was seen queueing one answer for 1.50 s, so the budget leaves twice that; the ``slow`` switch adds
#: 4 s. A real model may take a minute on long audio, so a real target only fails on what no client
#: would wait for.
MOCK_BUDGET_S = 3.0
REAL_BUDGET_S = 60.0
REAL_BUDGET_PER_AUDIO_S = 1.0


def _always(ctx: CheckContext) -> bool:
    return True


@cache
def known_statuses() -> frozenset[int]:
    """Every status the spec's OpenAPI document gives the operation (documented or recorded)."""
    return frozenset(
        int(status)
        for operations in spec.openapi()["paths"].values()
        for operation in operations.values()
        for status in operation.get("responses", {})
        if status.isdigit()
    )


@check(
    id="not_a_server_error",
    title="Server error",
    evidence="client-contract",
    spec_ref="E13",
    applies=_always,
    fired_by=("500-on-bad-audio", "500-on-huge-param"),
)
def not_a_server_error(ctx: CheckContext) -> Iterator[str]:
    """No request, valid or not, is answered with a 5xx (503 while loading aside): bad input is a 4xx."""
    for i, _, resp in answered(ctx):
        if resp.status >= 500 and resp.status != 503:
            yield f"{where(ctx, i)}status {resp.status}: {body_excerpt(resp)}"


def _lenient_ok(ctx: CheckContext) -> frozenset[int]:
    """A 200 to a ``must_reject`` value is negative_data_rejection's lenient warning, not a status error."""
    return frozenset({200}) if ctx.case.kind == "negative" else frozenset()


@check(
    id="status_code_conformance",
    title="Undocumented status code",
    evidence="client-contract",
    spec_ref="E16",
    applies=_always,
    fired_by=("500-on-bad-audio", "router-path-404"),
)
def status_code_conformance(ctx: CheckContext) -> Iterator[str]:
    """Every status is one the API is known to use, and invalid requests get a rejection status."""
    for i, _, resp in answered(ctx):
        if resp.status not in known_statuses():
            yield f"{where(ctx, i)}status {resp.status} is not one the API answers with"
        elif expects_rejection(ctx) and resp.status not in REJECTION_STATUSES | _lenient_ok(ctx):
            yield (
                f"{where(ctx, i)}status {resp.status} for an invalid request "
                f"(the API answers {', '.join(map(str, sorted(REJECTION_STATUSES)))})"
            )


@check(
    id="content_type_conformance",
    title="Content-Type does not match the body",
    evidence="client-contract",
    spec_ref="E16",
    applies=_always,
    fired_by=("wrong-content-type",),
)
def content_type_conformance(ctx: CheckContext) -> Iterator[Problem]:
    """Success bodies and JSON error bodies are sent as ``application/json`` (clients parse by it)."""
    for i, _, resp in answered(ctx):
        content_type = resp.header("content-type")
        is_json, _ = response_json(resp)
        if resp.status == 200 or is_json:
            for rule in _rules(resp.status, only=CONTENT_TYPE):
                if content_type is None or not rule.matches(content_type):
                    yield Problem(
                        f"{where(ctx, i)}{resp.status} JSON body sent as {content_type or 'no Content-Type'}",
                        rule.evidence,
                    )
        elif resp.body and content_type is None:
            yield Problem(f"{where(ctx, i)}{resp.status} body without a Content-Type")


CONTENT_TYPE = "content-type"


def _rules(status: int, *, only: str | None = None) -> list[spec.HeaderRule]:
    """The spec's response-header rules for this status (content-type is content_type_conformance's)."""
    return [
        rule
        for rule in spec.response_headers()
        if rule.applies(status) and ((rule.name == only) if only else rule.name != CONTENT_TYPE)
    ]


@check(
    id="response_headers_conformance",
    title="Response header missing or malformed",
    evidence="observed",
    spec_ref="E9",
    applies=_always,
    fired_by=("missing-compute-headers", "compute-time-not-number"),
)
def response_headers_conformance(ctx: CheckContext) -> Iterator[Problem]:
    """The response headers clients read (``x-compute-time``, ``x-compute-type``, ...) are well formed."""
    for i, _, resp in answered(ctx):
        if resp.status in ROUTE_STATUSES or (resp.status >= 400 and not response_json(resp)[0]):
            continue  # no model answered, or a non-JSON error (error_body_shape judges it)
        for rule in _rules(resp.status):
            value = resp.header(rule.name)
            title = f"Response header {rule.name}"
            if value is None:
                yield Problem(f"{where(ctx, i)}{resp.status} lacks {rule.name}", rule.evidence, title=title)
            elif not rule.matches(value):
                yield Problem(
                    f"{where(ctx, i)}{rule.name}: {value!r} does not match {rule.pattern}",
                    rule.evidence,
                    title=title,
                )


#: Decoders pad lossy audio and servers round the header: allowed beyond the case's own tolerance.
AUDIO_LENGTH_SLACK_S = 0.1


def _audio_length_judged(ctx: CheckContext) -> bool:
    if ctx.case.expected_duration_s is None or ctx.case.malformed:
        return False
    return any(r.status == 200 and r.header("x-compute-audio-length") for _, _, r in answered(ctx))


@check(
    id="compute_audio_length_matches",
    title="Audio length header disagrees with the audio",
    evidence="observed",
    spec_ref="E9",
    applies=_audio_length_judged,
    fired_by=("audio-length-ms",),
)
def compute_audio_length_matches(ctx: CheckContext) -> Iterator[str]:
    """Where present, ``x-compute-audio-length`` is the audio's duration in seconds (4.65 for 4.65 s).

    Absence and a non-number are response_headers_conformance's; this judges the value.
    """
    expected = float(ctx.case.expected_duration_s or 0.0)
    slack = ctx.case.duration_tolerance_s + AUDIO_LENGTH_SLACK_S
    for i, _, resp in answered(ctx):
        value = resp.header("x-compute-audio-length")
        if resp.status != 200 or value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue  # not a number: response_headers_conformance names it
        if abs(seconds - expected) <= slack:
            continue
        hint = " (milliseconds? the header is in seconds)" if abs(seconds / 1000 - expected) <= slack else ""
        yield f"{where(ctx, i)}x-compute-audio-length: {value} for {expected:.3f} s of audio{hint}"


def latency_budget(ctx: CheckContext) -> float:
    """Seconds any one answer may take: from the case if it says, else by kind of target."""
    declared = ctx.case.meta.get("latency_budget_s")
    if isinstance(declared, int | float) and declared > 0:
        return float(declared)
    if ctx.target.is_mock:
        return MOCK_BUDGET_S
    audio_s = ctx.case.expected_duration_s or 0.0
    return REAL_BUDGET_S + REAL_BUDGET_PER_AUDIO_S * audio_s


@check(
    id="response_time_bounded",
    title="Answer too slow",
    evidence="observed",
    spec_ref="payload:inputs",
    applies=lambda ctx: not ctx.target.is_replay,
    fired_by=("slow",),
)
def response_time_bounded(ctx: CheckContext) -> Iterator[str]:
    """Every answer comes within a bounded time (3 s for the mock, 60 s + audio length for models)."""
    budget = latency_budget(ctx)
    for i, _, resp in answered(ctx):
        if ctx.case.protocol == "loading" and i > 0:
            continue  # x-wait-for-model holds the request by design
        if resp.elapsed_s > budget:
            yield f"{where(ctx, i)}answered in {resp.elapsed_s:.2f} s (budget {budget:.1f} s)"


CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    compute_audio_length_matches,
    response_time_bounded,
)
