"""Body shape: success bodies against the spec's response schema, error bodies against its error model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from asr_conformance.conformance.checks.base import CheckContext, check
from asr_conformance.conformance.checks.http import PLAIN_TEXT_STATUSES
from asr_conformance.conformance.checks.reading import answered, body_excerpt, response_json, short, where

from asr_conformance import spec


def _always(ctx: CheckContext) -> bool:
    return True


def _schema_errors(name: str, view: str, instance: Any) -> Iterator[str]:
    validator = spec.validator(name, view)
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        yield f"{error.json_path}: {error.message}"


@check(
    id="response_schema_conformance",
    title="Body does not match the schema",
    evidence="official-schema",
    spec_ref="body:text",
    applies=_always,
    fired_by=(
        "plural-chunk-key",
        "text-missing",
        "text-not-string",
        "timestamps-strings",
        "error-key-missing",
    ),
)
def response_schema_conformance(ctx: CheckContext) -> Iterator[str]:
    """A 200 body validates against the spec's response schema, a JSON error body against its error schema."""
    for i, _, resp in answered(ctx):
        is_json, body = response_json(resp)
        if not is_json:
            continue  # non-JSON bodies: content_type_conformance and error_body_shape judge them
        name = "response" if resp.status == 200 else "error" if resp.status >= 400 else None
        if name is None:
            continue
        for message in _schema_errors(name, ctx.view, body):
            yield f"{where(ctx, i)}{resp.status} {name} body: {message}"


def error_shape_problems(body: Any) -> list[str]:
    """What is wrong with an error body: ``{"error": str | [str, ...], "estimated_time"?, "warnings"?}``."""
    if not isinstance(body, dict):
        return [f"error body is {type(body).__name__}, not an object: {short(body)}"]
    problems = []
    error = body.get("error")
    if "error" not in body:
        problems.append(f"no `error` key: {short(body)}")
    elif not (
        isinstance(error, str)
        or (isinstance(error, list) and error and all(isinstance(e, str) for e in error))
    ):
        problems.append(f"`error` is neither a string nor a list of strings: {short(error)}")
    if "estimated_time" in body:
        value = body["estimated_time"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(f"`estimated_time` is not a non-negative number: {short(value)}")
    if "warnings" in body:
        value = body["warnings"]
        if not (isinstance(value, list) and all(isinstance(w, str) for w in value)):
            problems.append(f"`warnings` is not a list of strings: {short(value)}")
    return problems


@check(
    id="error_body_shape",
    title="Error body without the API's error shape",
    evidence="client-contract",
    spec_ref="E13",
    applies=_always,
    fired_by=("plain-text-errors", "error-key-missing"),
)
def error_body_shape(ctx: CheckContext) -> Iterator[str]:
    """Every 4xx/5xx is JSON ``{"error": str | [str]}``, optional ``estimated_time`` and ``warnings``."""
    for i, _, resp in answered(ctx):
        if resp.status < 400:
            continue
        is_json, body = response_json(resp)
        if not is_json:
            if resp.status in PLAIN_TEXT_STATUSES:
                continue  # the real router answers these in plain text (E16)
            yield f"{where(ctx, i)}{resp.status} body is not JSON: {body_excerpt(resp)}"
            continue
        for problem in error_shape_problems(body):
            yield f"{where(ctx, i)}{resp.status} {problem}"


CHECKS = (response_schema_conformance, error_body_shape)
