"""Accepting what the spec says must be accepted, rejecting what it says must be rejected.

Positive cases are drawn only from the domains' ``must_accept`` values and negative cases only from
``must_reject``; ``implementation_defined`` values are judged by the HTTP checks alone (no 5xx, error
shape on a 4xx, bounded time), never by these.
"""

from __future__ import annotations

from collections.abc import Iterator

from asr_conformance.conformance.checks.base import CheckContext, Problem, Skip, check
from asr_conformance.conformance.checks.reading import (
    answered,
    body_excerpt,
    expects_rejection,
    request_form,
    response_json,
    where,
)
from asr_conformance.conformance.checks.schema import error_shape_problems
from asr_conformance.conformance.model import Response

#: Codecs the API's parameter guide names ("Flac, Wav, Mp3, Ogg etc."); the rest are the "etc.", seen
#: working through ffmpeg but never promised.
DOCUMENTED_CODECS = frozenset({"flac", "wav", "mp3", "ogg"})


def _case_evidence(ctx: CheckContext) -> str | None:
    """The evidence of the domain value a generated case was drawn from, when the generator recorded it."""
    value = ctx.case.meta.get("evidence")
    return value if isinstance(value, str) else None


def _field_ref(ctx: CheckContext) -> str | None:
    """The mutated path as a spec reference (domains say ``header:x``, the tables ``headers:x``)."""
    path = ctx.case.mutated_path
    if not path:
        return None
    if path.startswith("header:"):
        return "headers:" + path.removeprefix("header:")
    return f"payload:{path}"


def _over_declared_limit(ctx: CheckContext, size: int) -> bool:
    limit = ctx.target.max_body_bytes
    return limit is not None and size > limit


#: A server that passes a ``must_reject`` value on unvalidated and transcribes anyway is lenient, not
#: broken: HF's own serving stack hands ``generation_parameters`` to transformers as they are, so
#: ``top_p: "high"`` can get 200. A warning with its own title; a 5xx, non-JSON body or hang stays an error.
LENIENT_TITLE = "Invalid value accepted (lenient server)"


def _lenient(ctx: CheckContext, resp: Response) -> bool:
    """A 200 with a success body (``{"text": str, ...}``) to a ``must_reject`` value (not to bad audio)."""
    if ctx.case.kind != "negative" or resp.status != 200 or ctx.case.meta.get("dereference"):
        return False  # a path or URL transcribed is a security defect, not leniency
    is_json, body = response_json(resp)
    return is_json and isinstance(body, dict) and isinstance(body.get("text"), str)


@check(
    id="negative_data_rejection",
    title="Invalid request accepted or refused badly",
    evidence="official-schema",
    spec_ref="payload:inputs",
    applies=expects_rejection,
    fired_by=(
        "accept-invalid-params",
        "500-on-bad-audio",
        "plain-text-errors",
        "error-key-missing",
        "inputs-dereferenced",
    ),
)
def negative_data_rejection(ctx: CheckContext) -> Iterator[Problem]:
    """An invalid request (one ``must_reject`` value, or undecodable audio) gets a 4xx error.

    A transcript for a ``must_reject`` value is a lenient deviation (warning, its own title); undecodable
    audio answered 200 is not: no decoder reads it, so the transcript is invented.
    """
    what = ctx.case.mutation or ctx.case.malformed or "invalid request"
    evidence, ref = _case_evidence(ctx), _field_ref(ctx)
    for i, _, resp in answered(ctx):
        if _lenient(ctx, resp):
            yield Problem(
                f"{where(ctx, i)}{what}: accepted with a transcript (200) instead of a 4xx",
                "observed",
                ref,
                title=LENIENT_TITLE,
            )
            continue
        if not 400 <= resp.status < 500:
            yield Problem(f"{where(ctx, i)}{what}: answered {resp.status}, not a 4xx", evidence, ref)
            continue
        is_json, body = response_json(resp)
        problems = error_shape_problems(body) if is_json else [f"body is not JSON: {body_excerpt(resp)}"]
        for problem in problems:
            yield Problem(f"{where(ctx, i)}{what}: {resp.status} {problem}", evidence, ref)


@check(
    id="positive_data_acceptance",
    title="Valid request rejected",
    evidence="official-schema",
    spec_ref="payload:parameters",
    applies=lambda ctx: ctx.case.kind == "positive",
    fired_by=(
        "reject-valid-params",
        "reject-mp3",
        "reject-8khz",
        "reject-json-form",
        "reject-raw-without-content-type",
        "router-path-404",
        "small-body-limit",
        "strict-client-headers",
    ),
)
def positive_data_acceptance(ctx: CheckContext) -> Iterator[Problem]:
    """A request made only of ``must_accept`` values and decodable audio is answered 200."""
    evidence = _case_evidence(ctx)
    for i, ex, resp in answered(ctx):
        if resp.status == 200:
            continue
        if resp.status == 413 and _over_declared_limit(ctx, len(ex.request.body)):
            raise Skip("body larger than the target's declared limit")
        params = "no parameters" if ctx.case.parameters is None else f"parameters {ctx.case.parameters}"
        yield Problem(
            f"{where(ctx, i)}{resp.status} for a valid request ({params}): {body_excerpt(resp)}", evidence
        )


def _only_audio_varies(ctx: CheckContext) -> bool:
    """A valid raw request labelled with an audio type and nothing else: a refusal is about the audio.

    (Refusing the JSON form or a missing Content-Type is request_forms_accepted's and
    raw_content_type_tolerated's business, and positive_data_acceptance's on positive cases.)
    """
    if ctx.case.kind != "positive" or ctx.case.audio is None or ctx.case.parameters:
        return False
    if ctx.case.meta.get("client"):
        return False  # a real client's label varies, not the audio: client_requests_accepted's
    return all(
        request_form(ex.request) == "raw"
        and (ex.request.header("content-type") or "").lower().startswith(("audio/", "video/"))
        for ex in ctx.exchanges
    )


@check(
    id="audio_formats_accepted",
    title="Audio format or rate refused",
    evidence="documented",
    spec_ref="payload:inputs",
    applies=_only_audio_varies,
    fired_by=("reject-mp3", "reject-8khz"),
)
def audio_formats_accepted(ctx: CheckContext) -> Iterator[Problem]:
    """Audio in wav, flac, mp3, ogg, opus, webm or m4a at 8–48 kHz, mono or stereo, is transcribed."""
    audio = ctx.case.audio
    if audio is None:
        raise Skip("no audio recipe")
    evidence = None if audio.codec in DOCUMENTED_CODECS else "observed"
    for i, _, resp in answered(ctx):
        if resp.status not in (400, 415, 422):
            continue  # success, or a failure the other checks name (5xx, 413 ...)
        yield Problem(
            f"{where(ctx, i)}{audio.describe()} refused with {resp.status}: {body_excerpt(resp)}",
            evidence,
            title=f"Audio refused: {audio.codec}" if evidence else None,
        )


#: aiohttp's default ``client_max_size``: servers built on it refuse larger bodies unless configured.
ONE_MIB = 1 << 20


def _large_valid_body(ctx: CheckContext) -> bool:
    return ctx.case.kind == "positive" and any(len(ex.request.body) > ONE_MIB for ex in ctx.exchanges)


@check(
    id="large_body_accepted",
    title="Valid body over 1 MiB refused",
    evidence="client-contract",
    spec_ref="payload:inputs",
    applies=_large_valid_body,
    fired_by=("small-body-limit",),
)
def large_body_accepted(ctx: CheckContext) -> Iterator[str]:
    """A valid request over 1 MiB (raw or JSON) is transcribed: clients upload whole recordings.

    aiohttp's default ``client_max_size`` is 1 MiB, so alternative servers answer 413 (or 500) to a
    few seconds of 48 kHz audio; a 413 above the target's declared ``--max-body-bytes`` is no failure.
    """
    for i, ex, resp in answered(ctx):
        size = len(ex.request.body)
        if size <= ONE_MIB or resp.status == 200:
            continue
        if resp.status == 413 and _over_declared_limit(ctx, size):
            raise Skip(f"{size} bytes is over the target's declared limit")
        yield (
            f"{where(ctx, i)}{request_form(ex.request)} body of {size / ONE_MIB:.2f} MiB answered "
            f"{resp.status}: {body_excerpt(resp)}"
        )


@check(
    id="client_requests_accepted",
    title="A request as a real client sends it refused",
    evidence="client-contract",
    spec_ref="E7",
    applies=lambda ctx: ctx.case.kind == "positive" and bool(ctx.case.meta.get("client")),
    fired_by=("strict-client-headers",),
)
def client_requests_accepted(ctx: CheckContext) -> Iterator[str]:
    """A valid request with the headers a real client sends is answered 200.

    ``Accept: */*``, ``audio/x-wav``, ``audio/webm;codecs=opus``, ``application/json; charset=utf-8``:
    the profiles are ``generation.planner.CLIENT_PROFILES``.
    """
    client = ctx.case.meta.get("client")
    for i, ex, resp in answered(ctx):
        if resp.status == 200:
            continue
        if resp.status == 413 and _over_declared_limit(ctx, len(ex.request.body)):
            raise Skip("body larger than the target's declared limit")
        sent = ", ".join(
            f"{k}: {v}" for k, v in ex.request.headers if k.lower() in ("content-type", "accept")
        )
        answer = f"{resp.status}: {body_excerpt(resp)}"
        yield f"{where(ctx, i)}{client} ({sent or 'no Content-Type'}) answered {answer}"


CHECKS = (
    negative_data_rejection,
    positive_data_acceptance,
    audio_formats_accepted,
    large_body_accepted,
    client_requests_accepted,
)
