"""Answers the front builds outside the success path: the :class:`Reply` that stops a request, route
errors, fault replies, and the two ways of breaking a connection on purpose (reset, truncated body)."""

from __future__ import annotations

import contextlib
import socket
import struct
from http import HTTPStatus
from typing import Any

from aiohttp import web
from asr_conformance.mock_server.responses import (
    COMMON_HEADERS,
    JSON_TYPE,
    RATE_LIMITED,
    dumps,
    inference_error_body,
    short_id,
)

#: the 503 a scripted ``status=503`` fault answers with (recorded value)
FAULT_LOADING_ESTIMATE_S = 20.0


class Reply(Exception):
    """Stop processing and answer ``status`` with a JSON ``body`` (shape violations applied later)."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
        inference: bool = False,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.inference = inference  # raised while inferring: carries x-compute-* like the real 4xx/5xx


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response (no common headers: the controls' and health check's shape)."""
    return web.Response(status=status, body=dumps(body), content_type=JSON_TYPE, headers=headers)


def route_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """404/405 outside the model pipeline, still with the service's common headers."""
    return json_response(
        status, {"error": message}, {**COMMON_HEADERS, "x-request-id": short_id(), **(headers or {})}
    )


def too_large(size: int | None, limit: int) -> dict[str, Any]:
    """The 413 body for a request body over ``limit`` bytes."""
    got = f"{size} bytes" if size is not None else "the body"
    return {"error": f"Payload too large: {got} exceeds the limit of {limit} bytes"}


def fault_reply(status: int, model_id: str) -> Reply:
    """What an injected ``status=N`` fault answers: the real bodies for 429, 503 and 500."""
    if status == 429:
        return Reply(429, {"error": RATE_LIMITED})
    if status == 503:
        return Reply(
            503,
            {"error": f"Model {model_id} is currently loading", "estimated_time": FAULT_LOADING_ESTIMATE_S},
        )
    if status == 500:
        return Reply(500, inference_error_body("unknown error: injected by x-mock-fault"), inference=True)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return Reply(status, {"error": phrase})


def abort(request: web.Request) -> None:
    """Drop the connection with a TCP reset (SO_LINGER 0), as a crashing proxy would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def truncated(
    request: web.Request, status: int, headers: dict[str, str], body: bytes
) -> web.StreamResponse:
    """Promise the whole body in Content-Length, send half of it, close the connection."""
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    abort(request)
    return response


__all__ = [
    "FAULT_LOADING_ESTIMATE_S",
    "Reply",
    "abort",
    "fault_reply",
    "json_response",
    "route_error",
    "too_large",
    "truncated",
]
