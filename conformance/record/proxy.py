"""A validating reverse proxy: put it between any client and any ASR server and see every violation.

Each request is forwarded to ``upstream`` + the request's path, headers and body unchanged (hop-by-hop
headers aside), and the upstream's answer is returned unchanged with one added header::

    x-asr-conformance-violations: 0
    x-asr-conformance-violations: 2; response_schema_conformance, content_type_conformance

Requests are validated against the spec's request schema (``request:*`` findings are the client's), and
every ``POST`` exchange is judged by the suite's single-exchange checks. The proxy cannot know what the
client meant (a valid JSON payload may carry audio nobody can decode), so it judges the answer's form and
never whether accepting or rejecting was right: each exchange is an ``implementation_defined`` case, for
which the checks judge status codes, media type, headers, response schema, error shape and timestamps.

Every exchange is logged as one JSON Lines record (scrubbed: no header values, no bodies, no tokens; the
request's own credentials are masked wherever they recur: path, parameters, echoed error text).
With ``strict``, an answer with an error-severity violation becomes a 502 whose JSON body lists them.

Whatever a client sends, the proxy relays the upstream's answer or refuses with a JSON 4xx of its own: what
aiohttp cannot parse (400), a body over ``max_body_bytes`` (413) or not in within ``read_timeout_s`` (408),
a request target that would leave the upstream's origin (400). Its only 5xx: 502 for an unreachable
upstream and, with ``strict``, for a violating answer. Judging runs off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, cast

import aiohttp
from aiohttp import web
from asr_conformance.conformance.checks import reading
from asr_conformance.conformance.checks.reading import request_json
from asr_conformance.conformance.model import Exchange, Request, Response
from asr_conformance.conformance.record.proxy_verdicts import (
    MAX_JSON_DEPTH,
    TARGET_ERROR,
    Violation,
    decoded,
    header_value,
    judge,
    request_violations,
    too_deep,
)
from asr_conformance.conformance.record.scrub import Scrubber, request_secrets
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.conformance.targets.http import public_url
from asr_conformance.mock_server.wire import scrub_logs, shape_parser_errors
from yarl import URL

VIOLATIONS_HEADER = "x-asr-conformance-violations"
#: Not forwarded either way (RFC 9110 §7.6.1), or recomputed by aiohttp for the body it sends.
HOP_BY_HOP = frozenset(
    [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    ]
)
DEFAULT_MAX_BODY = 256 * 1024 * 1024


@dataclass(frozen=True)
class ProxyConfig:
    """How the proxy runs."""

    upstream: str  # base URL; the client's path is appended
    strict: bool = False
    log_path: Path | None = None
    view: str = "served"
    timeout_s: float = 300.0
    max_body_bytes: int = DEFAULT_MAX_BODY
    read_timeout_s: float = 60.0


class ValidatingProxy:
    """The proxy's state: upstream session, log file, scrubber."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        upstream = URL(config.upstream.rstrip("/"))
        # Credentials in --upstream go as Basic auth, and only when the client sends none of its own
        # (aiohttp refuses a URL with user info beside an Authorization header).
        self.upstream_auth = aiohttp.BasicAuth.from_url(upstream)
        self.upstream = str(upstream.with_user(None))
        self.origin = URL(self.upstream).origin()
        self.session: aiohttp.ClientSession | None = None
        self.log: IO[str] | None = None
        self.info = TargetInfo(name=public_url(self.upstream), model_url=self.upstream)

    async def start(self, app: web.Application) -> None:
        # auto_decompress=False: the client must get the upstream's bytes as they were sent.
        self.session = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        if self.config.log_path is not None:
            self.config.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log = self.config.log_path.open("a", encoding="utf-8")

    async def stop(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()
        if self.log is not None:
            self.log.close()

    async def handle(self, incoming: web.Request) -> web.StreamResponse:
        body = await self._body(incoming)
        if isinstance(body, web.Response):
            return body
        target = self._target(incoming.path_qs)
        if target is None:
            return refusal(400, "the request target must be a path on the proxied server")
        headers = tuple((k, v) for k, v in incoming.headers.items() if k.lower() not in HOP_BY_HOP)
        request = Request(incoming.method, incoming.path_qs, headers, body)
        response = await self._forward(request, target)
        if not isinstance(response, Response):
            return response
        judged = incoming.method == "POST" and not incoming.path.startswith("/__mock")
        # Judging parses and validates bodies of any size: off the event loop, so no client stalls others.
        asked, found, scrubber = await asyncio.to_thread(self._verdicts, request, response, judged)
        blocked = self.config.strict and any(v.severity == "error" for v in found)
        self._log(scrubber, request, response, asked, found, blocked=blocked)
        if blocked:
            return web.json_response(
                {
                    "error": f"upstream answer violates the ASR API ({len(found)} violation(s))",
                    "upstream_status": response.status,
                    "violations": [v.to_json() for v in found],
                },
                status=502,
                headers={VIOLATIONS_HEADER: header_value(found)},
            )
        out = web.Response(status=response.status, body=response.body)
        for name, value in response.headers:
            if name.lower() not in HOP_BY_HOP:
                out.headers.add(name, value)
        out.headers[VIOLATIONS_HEADER] = header_value([*asked, *found])
        return out

    async def _body(self, incoming: web.Request) -> bytes | web.Response:
        """The whole body, or the JSON refusal: 408 when it takes longer than ``read_timeout_s`` (a slow
        or abandoned upload holds a connection, never more), 413 over ``max_body_bytes``."""
        try:
            async with asyncio.timeout(self.config.read_timeout_s):
                return await incoming.read()
        except TimeoutError:
            return refusal(408, f"request body not received within {self.config.read_timeout_s:g} s")
        except web.HTTPException as exc:  # 413 from client_max_size; a broken body's 400
            return refusal(exc.status, exc.reason or "request body cannot be read")

    def _target(self, path_qs: str) -> URL | None:
        """The upstream URL for a request target, or None when it would leave the upstream's origin
        (``@host`` after the upstream's authority, say): the proxy relays to its upstream only."""
        if not path_qs.startswith("/") or path_qs.startswith("//"):
            return None
        try:
            target = URL(self.upstream + path_qs, encoded=True)
        except ValueError:
            return None
        return target if target.origin() == self.origin else None

    async def _forward(self, request: Request, target: URL) -> Response | web.Response:
        """The upstream's answer, or the proxy's 502 (unreachable) / 400 (cannot be sent as it is)."""
        assert self.session is not None
        auth = None if request.header("authorization") is not None else self.upstream_auth
        started = time.perf_counter()
        try:
            async with self.session.request(
                request.method,
                target,
                headers=list(request.headers),
                data=request.body if request.body else None,
                auth=auth,
                skip_auto_headers=["Content-Type", "User-Agent", "Accept", "Accept-Encoding"],
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            ) as upstream:
                return Response(
                    status=upstream.status,
                    headers=tuple(
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in upstream.raw_headers
                    ),
                    body=await upstream.read(),
                    elapsed_s=time.perf_counter() - started,
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            scrubber = Scrubber.of(request_secrets(request))
            message = scrubber.text(f"upstream {self.info.name} unreachable: {type(exc).__name__}: {exc}")
            self._log(scrubber, request, None, [], [], blocked=False, error=message)
            return refusal(502, message)
        except ValueError as exc:  # aiohttp refused what the client sent (a header it cannot encode)
            return refusal(400, Scrubber.of(request_secrets(request)).text(f"cannot forward: {exc}"))

    def _verdicts(
        self, request: Request, response: Response, judged: bool
    ) -> tuple[list[Violation], list[Violation], Scrubber]:
        """Violations of the request and of the exchange, and the scrubber for this request's log record.

        JSON nested deeper than the mock accepts is not handed to the checks (their parser and the
        schema validator recurse): a deep request is the client's violation, a deep answer the target's.
        """
        deep_request = too_deep(request.body)
        payload = None if deep_request else request_json(request)
        scrubber = Scrubber.of(request_secrets(request, payload))
        try:
            if not judged:
                return [], [], scrubber
            if too_deep(decoded(response).body):
                message = f"answer JSON nested deeper than {MAX_JSON_DEPTH} levels"
                return [], [Violation(TARGET_ERROR, "error", message)], scrubber
            if deep_request:
                asked = [
                    Violation("request:json", "error", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
                ]
                request = replace(request, body=b"")
            else:
                asked = request_violations(request, self.config.view)
            return asked, judge(Exchange(request, response), self._info(request), self.config.view), scrubber
        finally:
            # The checks' parse cache is keyed by body: in a proxy every body is new, and each kept one
            # (up to max_body_bytes, plus its parsed value) would stay alive until 32 others replace it.
            reading.forget_parsed()

    def _info(self, request: Request) -> TargetInfo:
        return TargetInfo(
            name=self.info.name,
            model_url=self.upstream,
            has_token=request.header("authorization") is not None,
        )

    def _log(
        self,
        scrubber: Scrubber,
        request: Request,
        response: Response | None,
        asked: Sequence[Violation],
        found: Sequence[Violation],
        *,
        blocked: bool,
        error: str | None = None,
    ) -> None:
        if self.log is None:
            return
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": request.method,
            "path": scrubber.url(request.path),
            "request_bytes": len(request.body),
            "request_sha256": request.body_sha256,
            "status": response.status if response is not None else None,
            "elapsed_s": round(response.elapsed_s, 4) if response is not None else None,
            "request_violations": [_clean(scrubber, v) for v in asked],
            "violations": [_clean(scrubber, v) for v in found],
            "blocked": blocked,
            "proxy_error": error,
        }
        # ASCII JSON: a lone surrogate from a client's JSON escapes instead of failing the write
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()


def _clean(scrubber: Scrubber, violation: Violation) -> dict[str, str]:
    return {k: scrubber.text(v) for k, v in violation.to_json().items()}


def refusal(status: int, message: str) -> web.Response:
    """The proxy's own answer, in the API's error shape; the connection closes (a body may be unread)."""
    response = web.json_response({"error": message}, status=status, headers={VIOLATIONS_HEADER: "0"})
    response.force_close()
    return response


def create_app(config: ProxyConfig) -> web.Application:
    """The proxy as an aiohttp application (every method, every path)."""
    proxy = ValidatingProxy(config)
    # lingering: after a 408 or 413 aiohttp reads what is left of the body before it closes (so the client
    # sees the answer, not a reset): 2 s of it, not 10, so that an abandoned upload is let go soon
    app = web.Application(
        client_max_size=config.max_body_bytes,
        handler_args={"lingering_time": 2.0},
        middlewares=[_json_errors],
    )
    _json_parser_errors(app)
    scrub_logs(None)  # aiohttp logs each request it cannot parse, request line included
    app.on_startup.append(proxy.start)
    app.on_cleanup.append(proxy.stop)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    return app


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """The router's own refusals (a CONNECT's authority matches no path: 404) in the API's error shape."""
    try:
        return cast(web.StreamResponse, await handler(request))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return refusal(exc.status, exc.reason)


def _json_parser_errors(app: web.Application) -> None:
    """aiohttp answers what it cannot parse itself, in text/plain, before any handler: the server it
    makes for this app gets the mock's JSON error handler, whichever runner serves the app."""
    make_handler = app._make_handler

    def shaped(**kwargs: Any) -> web.Server:
        server = make_handler(**kwargs)
        shape_parser_errors(cast(web.BaseRunner, SimpleNamespace(server=server)))  # reads .server only
        return server

    app._make_handler = shaped  # type: ignore[method-assign]


__all__ = [
    "TARGET_ERROR",
    "VIOLATIONS_HEADER",
    "ProxyConfig",
    "ValidatingProxy",
    "Violation",
    "create_app",
    "header_value",
    "judge",
    "refusal",
    "request_violations",
    "too_deep",
]
