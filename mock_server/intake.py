"""Reading and judging a model request before any inference: the body (size bounds), faults,
authentication, the two body forms, boolean headers and parameters. Each step raises
:class:`~asr_conformance.mock_server.replies.Reply` with the answer the client gets."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from aiohttp import web
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import InferenceParams
from asr_conformance.mock_server.faults import (
    FAULT_HEADER,
    NO_FAULT,
    Fault,
    FaultSpecError,
    Scenario,
    parse_fault,
    parse_prefer,
)
from asr_conformance.mock_server.replies import Reply, too_large
from asr_conformance.mock_server.request import (
    ParsedBody,
    RequestProblem,
    params_from_json,
    parse_body,
    parse_bool_header,
)
from asr_conformance.mock_server.responses import (
    MALFORMED_SOUNDFILE,
    UNAUTHORIZED,
    WWW_AUTHENTICATE,
    inference_error_body,
)
from asr_conformance.mock_server.validation import RequestValidator

#: numbers above this are "huge" for the 500-on-huge-param violation
HUGE = 2**31 - 1


async def read_body(request: web.Request, config: MockConfig) -> bytes:
    """The whole body within ``read_timeout`` (else 408), or 413 when it is (or declares to be) over
    the limit."""
    limit = config.max_body_bytes
    if config.violates("small-body-limit"):  # aiohttp's default client_max_size, whatever is declared
        limit = min(limit, 1 << 20)
    enforce = not config.violates("ignore-body-limit")
    declared = request.content_length
    if enforce and declared is not None and declared > limit:
        raise Reply(413, too_large(declared, limit))
    try:
        if request.content.is_eof():  # all there already (most bodies): no timer to arm and cancel
            body = await request.read()
        else:
            async with asyncio.timeout(config.read_timeout):
                body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Reply(413, too_large(None, limit)) from None
    except TimeoutError:
        message = f"Request body not received within {config.read_timeout:g} s"
        raise Reply(408, {"error": message}, {"Connection": "close"}) from None
    if enforce and len(body) > limit:
        raise Reply(413, too_large(len(body), limit))
    return body


def fault(request: web.Request, scenario: Scenario | None, config: MockConfig) -> Fault:
    """The request's own fault header, else the scenario's next fault.

    Without ``controls`` (an engine server) there are no faults. With a token, fault headers count only
    on requests that carry it: an anonymous client must not be able to stall or break the server.
    """
    if not config.controls:
        return NO_FAULT
    steered = authorized(request, config)
    header = request.headers.get(FAULT_HEADER) if steered else None
    prefer = request.headers.get("Prefer") if steered else None
    try:
        if header:
            return parse_fault(header)
        if prefer:
            found = parse_prefer(prefer)
            if not found.none:
                return found
    except FaultSpecError as exc:
        raise Reply(400, {"error": f"{FAULT_HEADER}: {exc}"}) from None
    return scenario.next_fault() if scenario is not None else NO_FAULT


def authorized(request: web.Request, config: MockConfig) -> bool:
    """True without a configured token, or when the request carries ``Authorization: Bearer <token>``."""
    token = config.token
    if token is None:
        return True
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    # bytes: compare_digest refuses non-ASCII str, and header values may hold undecodable bytes
    sent = credentials.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent, token.encode("utf-8", "surrogateescape"))


def unauthorized() -> Reply:
    """The real service's 401: body, ``X-Error-Message`` and ``WWW-Authenticate``."""
    return Reply(
        401,
        {"error": UNAUTHORIZED},
        {"X-Error-Message": UNAUTHORIZED, "WWW-Authenticate": WWW_AUTHENTICATE},
    )


def authenticate(request: web.Request, config: MockConfig) -> None:
    """401 (the real body and headers) unless the bearer token is the configured one."""
    if config.violates("ignored-auth") or authorized(request, config):
        return
    raise unauthorized()


def parse(request: web.Request, body: bytes, config: MockConfig) -> ParsedBody:
    """Which form the body is in, the JSON one parsed; 400 for bad JSON and empty bodies."""
    content_type = request.headers.get("Content-Type")
    try:
        parsed = parse_body(body, content_type)
    except RequestProblem as exc:
        raise Reply(exc.status, {"error": exc.message}) from None
    if parsed.form == "json" and config.violates("reject-json-form"):
        raise Reply(400, {"error": MALFORMED_SOUNDFILE}, inference=True)
    if parsed.form == "raw" and not content_type and config.violates("reject-raw-without-content-type"):
        raise Reply(400, {"error": 'Content type "None" not supported.'})
    if parsed.form == "raw" and not parsed.audio:
        raise Reply(400, {"error": "Empty body: send an audio file, or JSON with base64 `inputs`"})
    if config.violates("strict-client-headers") and content_type not in _STRICT_TYPES.get(parsed.form, ()):
        raise Reply(400, {"error": f'Content type "{content_type}" not supported.'})
    return parsed


#: the ``strict-client-headers`` switch: only these exact spellings (the toolkit's kind of list)
_STRICT_TYPES = {
    "raw": {
        None,
        "application/octet-stream",
        *(f"audio/{t}" for t in ("wav", "flac", "ogg", "mpeg", "webm", "mp4")),
    },
    "json": {"application/json"},
}


def bool_header(request: web.Request, name: str, legacy: Any, default: bool, config: MockConfig) -> bool:
    """A boolean header, else the legacy ``options`` value, else ``default``; 400 for other words."""
    strict = config.violates("strict-boolean-headers")
    try:
        value = parse_bool_header(name, request.headers.get(name), strict=strict)
    except RequestProblem as exc:
        raise Reply(400, {"error": exc.message}) from None
    if value is None and isinstance(legacy, bool):
        value = legacy
    return default if value is None else value


def parameters(payload: dict[str, Any], validator: RequestValidator, config: MockConfig) -> InferenceParams:
    """The payload validated against the spec (400 naming the field) and turned into parameters."""
    check_parameters = config.validate_parameters and not config.violates("accept-invalid-params")
    message = validator.error(payload, parameters=check_parameters)
    if message is not None:
        raise Reply(400, {"error": message})
    raw = payload.get("parameters")
    params = params_from_json(raw)
    if config.violates("reject-valid-params") and params.generation:
        raise Reply(400, {"error": "generation_parameters: not supported"})
    if config.violates("500-on-huge-param") and _has_huge_number(raw):
        raise Reply(500, inference_error_body("OverflowError: Python int too large to convert to C long"))
    return params


def _has_huge_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return abs(value) > HUGE
    if isinstance(value, dict):
        return any(_has_huge_number(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_huge_number(v) for v in value)
    return False


__all__ = [
    "HUGE",
    "authenticate",
    "authorized",
    "bool_header",
    "fault",
    "parameters",
    "parse",
    "read_body",
    "unauthorized",
]
