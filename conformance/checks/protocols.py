"""Checks over multi-request scenarios (``CaseSpec.protocol``; order of exchanges in
``asr_conformance.conformance.cases``).

Each scenario is judged only when the target could be made to show the behaviour; otherwise the check
is SKIP ("not exercised"), never PASS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from asr_conformance.conformance.checks.base import CheckContext, Problem, Skip, check
from asr_conformance.conformance.checks.reading import (
    body_excerpt,
    header_true,
    request_form,
    response_json,
    short,
)
from asr_conformance.conformance.checks.schema import error_shape_problems
from asr_conformance.conformance.model import Exchange, Response


def protocol(*names: str) -> Callable[[CheckContext], bool]:
    def applies(ctx: CheckContext) -> bool:
        return ctx.case.kind == "protocol" and ctx.case.protocol in names

    return applies


def _response(ctx: CheckContext, index: int) -> Response:
    response = ctx.exchanges[index].response if index < len(ctx.exchanges) else None
    if response is None:
        raise Skip(f"scenario {ctx.case.protocol!r} has no exchange {index + 1}")
    return response


def _text(response: Response) -> Any:
    ok, body = response_json(response)
    return body.get("text") if ok and isinstance(body, dict) else None


def _describe(exchange: Exchange) -> str:
    content_type = exchange.request.header("content-type")
    return f"{request_form(exchange.request)} body, Content-Type {content_type or '(none)'}"


# ------------------------------------------------------------------------------------------- auth


@check(
    id="ignored_auth",
    title="Request without valid credentials answered",
    evidence="documented",
    spec_ref="headers:authorization",
    applies=protocol("auth_missing", "auth_wrong"),
    fired_by=("ignored-auth", "router-path-404"),
)
def ignored_auth(ctx: CheckContext) -> Iterator[str]:
    """A target that takes a token refuses requests with no token or a wrong one (401 or 403)."""
    if not ctx.target.has_token:
        raise Skip("no token given: authentication not exercised")
    what = "no Authorization" if ctx.case.protocol == "auth_missing" else "a wrong bearer token"
    for exchange in ctx.exchanges:
        if exchange.response is not None and exchange.response.status not in (401, 403):
            yield f"request with {what} answered {exchange.response.status}"


# ------------------------------------------------------------------------------------ request forms


@check(
    id="request_forms_accepted",
    title="A request form refused",
    evidence="documented",
    spec_ref="payload:inputs",
    applies=protocol("forms"),
    fired_by=("reject-json-form", "router-path-404"),
)
def request_forms_accepted(ctx: CheckContext) -> Iterator[Problem]:
    """The same audio is transcribed as a raw body and as JSON ``{"inputs": base64}``, to the same text."""
    answers = [(ex, ex.response) for ex in ctx.exchanges if ex.response is not None]
    for exchange, resp in answers:
        if resp.status != 200:
            yield Problem(f"{_describe(exchange)}: answered {resp.status}: {body_excerpt(resp)}")
    texts = {request_form(ex.request): _text(resp) for ex, resp in answers if resp.status == 200}
    if len(texts) == 2 and texts["raw"] != texts["json"]:
        yield Problem(
            f"raw form gave {short(texts['raw'])}, JSON form gave {short(texts['json'])}",
            evidence="observed",
            title="Request forms transcribe differently",
        )


@check(
    id="raw_content_type_tolerated",
    title="Raw audio refused for its Content-Type",
    evidence="client-contract",
    spec_ref="E7",
    applies=protocol("content_type"),
    fired_by=("reject-raw-without-content-type", "router-path-404"),
)
def raw_content_type_tolerated(ctx: CheckContext) -> Iterator[Problem]:
    """Raw audio is accepted with no Content-Type or ``application/octet-stream`` (the docs send none)."""
    for exchange in ctx.exchanges:
        resp = exchange.response
        if resp is None or resp.status == 200:
            continue
        content_type = exchange.request.header("content-type")
        message = (
            f"raw audio with Content-Type {content_type or '(none)'}: {resp.status}: {body_excerpt(resp)}"
        )
        if content_type is None or content_type.lower().startswith("application/octet-stream"):
            yield Problem(message)
        elif content_type.lower().startswith("audio/"):
            # a mislabelled audio type: community servers ignore it, the toolkit refuses it (E7)
            yield Problem(
                message, evidence="observed", title="Raw audio refused for a mislabelled audio type"
            )
        # any other type is implementation-defined: no verdict


# -------------------------------------------------------------------------------------- determinism


@check(
    id="greedy_deterministic",
    title="Greedy decoding not deterministic",
    evidence="observed",
    spec_ref="headers:x-use-cache",
    applies=protocol("determinism"),
    fired_by=("nondeterministic-text",),
)
def greedy_deterministic(ctx: CheckContext) -> Iterator[str]:
    """The same audio twice, cache off and no sampling parameters, gives the same text and chunks."""
    if ctx.case.samples_tokens:
        raise Skip("sampling parameters: output may differ by design")
    first, second = _response(ctx, 0), _response(ctx, 1)
    if first.status != 200 or second.status != 200:
        raise Skip(f"not both answered 200 ({first.status}, {second.status})")
    (_, a), (_, b) = response_json(first), response_json(second)
    if not (isinstance(a, dict) and isinstance(b, dict)):
        raise Skip("bodies are not objects (response_schema_conformance judges them)")
    if a.get("text") != b.get("text"):
        yield f"text differs: {short(a.get('text'))} then {short(b.get('text'))}"
    elif a.get("chunks") != b.get("chunks"):
        yield f"chunks differ: {short(a.get('chunks'))} then {short(b.get('chunks'))}"


# -------------------------------------------------------------------------------- cache (legacy)


def _compute_type(resp: Response) -> str:
    return (resp.header("x-compute-type") or "").strip().lower()


@check(
    id="cache_hit_consistent",
    title="Cached answer differs or is not marked",
    evidence="legacy",
    spec_ref="headers:x-use-cache",
    applies=protocol("cache"),
    fired_by=("cache-unmarked", "missing-compute-headers"),
)
def cache_hit_consistent(ctx: CheckContext) -> Iterator[Problem]:
    """The same audio again, cache allowed, replays the same answer marked ``x-compute-type: cache``."""
    first, second = _response(ctx, 0), _response(ctx, 1)
    if first.status != 200 or second.status != 200:
        raise Skip(f"not both answered 200 ({first.status}, {second.status})")
    if response_json(first)[1] != response_json(second)[1]:
        yield Problem(f"second answer {body_excerpt(second)} differs from first {body_excerpt(first)}")
    if _compute_type(second) != "cache":
        yield Problem(
            f"repeated request answered with x-compute-type {second.header('x-compute-type')!r}, not 'cache'",
            evidence="observed",
            title="Cache hit not marked",
        )


@check(
    id="cache_bypass_honoured",
    title="Cache used despite x-use-cache: false",
    evidence="legacy",
    spec_ref="headers:x-use-cache",
    applies=protocol("cache"),
    fired_by=("cache-always",),
)
def cache_bypass_honoured(ctx: CheckContext) -> Iterator[str]:
    """A request with ``x-use-cache: false`` is computed afresh, never answered from the cache."""
    exchange = ctx.exchanges[2] if len(ctx.exchanges) > 2 else None
    if exchange is None or exchange.response is None:
        raise Skip("scenario has no x-use-cache: false exchange")
    if exchange.request.header("x-use-cache") is None or header_true(exchange.request.header("x-use-cache")):
        raise Skip("third exchange did not send x-use-cache: false")
    if exchange.response.status == 200 and _compute_type(exchange.response) == "cache":
        yield "request with x-use-cache: false answered with x-compute-type: cache"


# ----------------------------------------------------------------------------------------- loading


def _seen_loading(ctx: CheckContext) -> Response:
    first = _response(ctx, 0)
    if first.status != 503:
        if ctx.target.exposes_mock_controls:
            raise Skip(f"target was asked to load but answered {first.status}")
        raise Skip("target was not seen loading")
    return first


@check(
    id="loading_response_shape",
    title="Loading answer without the API's shape",
    evidence="observed",
    spec_ref="E13",
    applies=protocol("loading"),
    fired_by=("loading-no-estimated-time", "plain-text-errors", "error-key-missing"),
)
def loading_response_shape(ctx: CheckContext) -> Iterator[str]:
    """A loading model answers 503 ``{"error": "Model … is currently loading", "estimated_time": s}``."""
    first = _seen_loading(ctx)
    ok, body = response_json(first)
    if not ok:
        yield f"503 body is not JSON: {body_excerpt(first)}"
        return
    yield from (f"503 {p}" for p in error_shape_problems(body))
    if isinstance(body, dict) and "estimated_time" not in body:
        yield f"503 without estimated_time: {short(body)}"


@check(
    id="wait_for_model_honoured",
    title="Header x-wait-for-model ignored",
    evidence="legacy",
    spec_ref="headers:x-wait-for-model",
    applies=protocol("loading"),
    fired_by=("ignored-wait-for-model", "strict-boolean-headers"),
)
def wait_for_model_honoured(ctx: CheckContext) -> Iterator[str]:
    """With ``x-wait-for-model: true`` (or ``1``) a loading model holds the request and answers 200."""
    _seen_loading(ctx)
    second = _response(ctx, 1)
    if second.status != 200:
        yield f"request with x-wait-for-model: true answered {second.status}: {body_excerpt(second)}"


# -------------------------------------------------------------------------------------- body limit


@check(
    id="body_limit_enforced",
    title="Body over the declared limit not refused with 413",
    evidence="observed",
    spec_ref="payload:inputs",
    applies=protocol("body_limit"),
    fired_by=("ignore-body-limit", "plain-text-errors", "error-key-missing", "router-path-404"),
)
def body_limit_enforced(ctx: CheckContext) -> Iterator[str]:
    """A body larger than the target's declared ``--max-body-bytes`` gets 413 with the error shape."""
    limit = ctx.target.max_body_bytes
    if limit is None:
        raise Skip("no declared body limit (--max-body-bytes): not exercised")
    resp = _response(ctx, 0)
    size = len(ctx.exchanges[0].request.body)
    if size <= limit:
        raise Skip(f"body of {size} bytes is within the declared limit of {limit}")
    if resp.status != 413:
        yield f"{size}-byte body over the {limit}-byte limit answered {resp.status}"
        return
    ok, body = response_json(resp)
    problems = error_shape_problems(body) if ok else [f"body is not JSON: {body_excerpt(resp)}"]
    yield from (f"413 {p}" for p in problems)


# ---------------------------------------------------------------------------------- unknown model


@check(
    id="unknown_model_refused",
    title="Unknown model id not answered 404",
    evidence="observed",
    spec_ref="E16",
    applies=protocol("unknown_model"),
    fired_by=("any-model-id",),
)
def unknown_model_refused(ctx: CheckContext) -> list[Problem]:
    """A model id the target does not serve gets 404 (judged as an error only with --model-must-match).

    A multi-model server answers 404 (the router: ``text/plain`` "Not Found"); a single-model server may
    answer anything, so without ``--model-must-match`` a transcript is only reported (SKIP) and another
    refusal is a warning.
    """
    resp = _response(ctx, 0)
    if resp.status == 404:
        return []
    what = f"unknown model id answered {resp.status}: {body_excerpt(resp)}"
    if ctx.target.model_must_match:
        return [Problem(what, evidence="client-contract", title="Unknown model id served")]
    if resp.status == 200:
        raise Skip(f"{what} (a single-model server may; --model-must-match judges it)")
    return [Problem(what)]


CHECKS = (
    ignored_auth,
    request_forms_accepted,
    raw_content_type_tolerated,
    greedy_deterministic,
    cache_hit_consistent,
    cache_bypass_honoured,
    loading_response_shape,
    wait_for_model_honoured,
    body_limit_enforced,
    unknown_model_refused,
)
