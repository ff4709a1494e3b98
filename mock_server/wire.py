"""What happens below the routes: aiohttp's own answers to requests it cannot parse, and log records.

aiohttp answers a request line or header it cannot parse (bad bytes, an oversized line, a broken chunk)
itself, in text/plain, before any route runs. :func:`shape_parser_errors` makes those answers the API's
``{"error": ...}`` JSON. :func:`scrub_logs` makes every log record of the servers (ours and aiohttp's,
which logs each bad request with its exception) go through
:func:`asr_conformance.core.redact.scrub` first.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from asr_conformance.mock_server.responses import JSON_TYPE, dumps

from asr_conformance.core.redact import scrub

#: loggers whose records may quote what a client sent
LOGGERS = ("asr_conformance.mock_server", "asr_conformance.reference", "aiohttp.server", "aiohttp.web")


class _JsonErrorHandler(RequestHandler):
    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if a response was under way
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        detail = message if status < 500 and message else phrase
        response = web.Response(status=status, body=dumps({"error": detail}), content_type=JSON_TYPE)
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


def shape_parser_errors(runner: web.BaseRunner) -> None:
    """After ``runner.setup()``: aiohttp's low-level error answers become JSON ``{"error": ...}``."""
    server = runner.server
    if type(server) is web.Server:  # a server of another kind is left as it is
        server.__class__ = _JsonErrorServer


class _ScrubFilter(logging.Filter):
    def __init__(self, secrets: tuple[str | None, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
            # a request aiohttp could not parse is the client's error, answered with its 400: one line at
            # debug level, not an error with a traceback formatted on the event loop for each of them
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.msg = scrub(f"{record.getMessage()}: {exc.code} {exc.message}", self.secrets)
            record.args, record.exc_info, record.exc_text = None, None, None
            return True
        record.msg = scrub(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info:
            # formatted once here so that the traceback text is scrubbed too
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrub(text, self.secrets)
            record.exc_info = None
        return True


_installed: dict[str, _ScrubFilter] = {}


def scrub_logs(token: str | None) -> None:
    """Scrub the records of :data:`LOGGERS` (the token as a known secret); idempotent per token."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        previous = _installed.get(name)
        if previous is not None:
            if token not in previous.secrets:
                previous.secrets = (*previous.secrets, token)
            continue
        _installed[name] = _ScrubFilter((token,))
        logger.addFilter(_installed[name])


__all__ = ["LOGGERS", "scrub_logs", "shape_parser_errors"]
