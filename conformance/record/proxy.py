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

Every exchange is logged as one JSON Lines record (scrubbed: no header values, no bodies, no tokens).
With ``strict``, an answer with an error-severity violation becomes a 502 whose JSON body lists them.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import aiohttp
from aiohttp import web
from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.checks.base import CheckContext
from asr_conformance.conformance.checks.reading import request_form, request_json
from asr_conformance.conformance.checks.registry import run_checks, select
from asr_conformance.conformance.model import Exchange, Outcome, Request, Response
from asr_conformance.conformance.record.scrub import Scrubber
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.conformance.targets.http import public_url

from asr_conformance import spec

VIOLATIONS_HEADER = "x-asr-conformance-violations"
#: Not forwarded either way (RFC 9110 §7.6.1), or recomputed by aiohttp for the body it sends.
HOP_BY_HOP = frozenset(
    {
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
    }
)
DEFAULT_MAX_BODY = 256 * 1024 * 1024
#: Reported id of an ERROR verdict: the target broke (invalid JSON where JSON was due, reset, timeout).
TARGET_ERROR = "target_error"


@dataclass(frozen=True)
class ProxyConfig:
    """How the proxy runs."""

    upstream: str  # base URL; the client's path is appended
    strict: bool = False
    log_path: Path | None = None
    view: str = "served"
    timeout_s: float = 300.0
    max_body_bytes: int = DEFAULT_MAX_BODY


@dataclass(frozen=True)
class Violation:
    """One finding on one proxied exchange."""

    check_id: str
    severity: str
    message: str
    spec_ref: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "check_id": self.check_id,
            "severity": self.severity,
            "message": self.message,
            "spec_ref": self.spec_ref,
        }


def request_violations(request: Request, view: str) -> list[Violation]:
    """The client's side: a JSON payload against the spec's request schema."""
    payload = request_json(request)
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if payload is None:
        if content_type == "application/json" and request.body:
            return [
                Violation(
                    "request:json",
                    "error",
                    "Content-Type is application/json but the body is not a JSON object",
                )
            ]
        return []  # raw audio: nothing to validate without decoding it
    validator = spec.validator("request", view=view)
    return [
        Violation(
            "request:schema", "error", f"{'/'.join(map(str, e.absolute_path)) or 'payload'}: {e.message}"
        )
        for e in sorted(validator.iter_errors(payload), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _decoded(response: Response) -> Response:
    """The response with its body decompressed (gzip/deflate) for judging; the client gets the original."""
    encoding = (response.header("content-encoding") or "").strip().lower()
    if encoding not in {"gzip", "deflate"}:
        return response
    try:
        body = zlib.decompress(response.body, wbits=47)  # 32+15: gzip or zlib header, detected
    except zlib.error:
        return response
    headers = tuple((k, v) for k, v in response.headers if k.lower() != "content-encoding")
    return Response(response.status, headers, body, response.elapsed_s)


def judge(
    exchange: Exchange, info: TargetInfo, view: str, checks: Sequence[Any] | None = None
) -> list[Violation]:
    """The suite's single-exchange checks on one exchange, as violations (FAIL and ERROR verdicts)."""
    case = CaseSpec(
        id="proxied",
        phase="proxy",
        kind="implementation_defined",
        form=request_form(exchange.request),  # type: ignore[arg-type]
        audio=None,
        parameters=_parameters(exchange.request),
        headers=tuple((k, v) for k, v in exchange.request.headers if k.lower().startswith("x-")),
    )
    response = _decoded(exchange.response) if exchange.response is not None else None
    ctx = CheckContext(
        case=case,
        exchanges=(Exchange(exchange.request, response, exchange.transport_error),),
        target=info,
        view=view,
    )
    selected = list(checks) if checks is not None else list(select())
    found: list[Violation] = []
    errors: set[str] = set()
    for result in run_checks(ctx, selected):
        if result.outcome == Outcome.FAIL:
            found += [Violation(f.check_id, str(f.severity), f.message, f.spec_ref) for f in result.failures]
        elif result.outcome == Outcome.ERROR and result.message not in errors:
            # One broken answer (invalid JSON in a 200, say) errors every check alike: report it once, as
            # the target's error rather than under whichever check happened to run first.
            errors.add(result.message)
            check_id = result.check_id if result.message.startswith("check crashed") else TARGET_ERROR
            found.append(Violation(check_id, "error", result.message))
    return found


def _parameters(request: Request) -> dict[str, Any] | None:
    params = (request_json(request) or {}).get("parameters")
    return params if isinstance(params, dict) else None


def header_value(violations: Sequence[Violation]) -> str:
    """``N`` or ``N; id, id``: the count, then the distinct check ids in order of appearance."""
    if not violations:
        return "0"
    ids = list(dict.fromkeys(v.check_id for v in violations))
    return f"{len(violations)}; {', '.join(ids)}"


class ValidatingProxy:
    """The proxy's state: upstream session, log file, scrubber."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.upstream = config.upstream.rstrip("/")
        self.scrubber = Scrubber()
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
        assert self.session is not None
        body = await incoming.read()
        headers = tuple((k, v) for k, v in incoming.headers.items() if k.lower() not in HOP_BY_HOP)
        request = Request(incoming.method, incoming.path_qs, headers, body)
        started = time.perf_counter()
        try:
            async with self.session.request(
                incoming.method,
                self.upstream + incoming.path_qs,
                headers=list(headers),
                data=body if body else None,
                skip_auto_headers=["Content-Type", "User-Agent", "Accept", "Accept-Encoding"],
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            ) as upstream:
                response = Response(
                    status=upstream.status,
                    headers=tuple(
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in upstream.raw_headers
                    ),
                    body=await upstream.read(),
                    elapsed_s=time.perf_counter() - started,
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            message = self.scrubber.text(
                f"upstream {self.info.name} unreachable: {type(exc).__name__}: {exc}"
            )
            self._log(request, None, [], [], blocked=False, error=message)
            return web.json_response({"error": message}, status=502, headers={VIOLATIONS_HEADER: "0"})
        judged = incoming.method == "POST" and not incoming.path.startswith("/__mock")
        asked = request_violations(request, self.config.view) if judged else []
        found = judge(Exchange(request, response), self._info(request), self.config.view) if judged else []
        blocked = self.config.strict and any(v.severity == "error" for v in found)
        self._log(request, response, asked, found, blocked=blocked)
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

    def _info(self, request: Request) -> TargetInfo:
        return TargetInfo(
            name=self.info.name,
            model_url=self.upstream,
            has_token=request.header("authorization") is not None,
        )

    def _log(
        self,
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
            "path": self.scrubber.url(request.path),
            "request_bytes": len(request.body),
            "request_sha256": request.body_sha256,
            "status": response.status if response is not None else None,
            "elapsed_s": round(response.elapsed_s, 4) if response is not None else None,
            "request_violations": [self._clean(v) for v in asked],
            "violations": [self._clean(v) for v in found],
            "blocked": blocked,
            "proxy_error": error,
        }
        self.log.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.log.flush()

    def _clean(self, violation: Violation) -> dict[str, str]:
        return {k: self.scrubber.text(v) for k, v in violation.to_json().items()}


def create_app(config: ProxyConfig) -> web.Application:
    """The proxy as an aiohttp application (every method, every path)."""
    proxy = ValidatingProxy(config)
    app = web.Application(client_max_size=config.max_body_bytes)
    app.on_startup.append(proxy.start)
    app.on_cleanup.append(proxy.stop)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    return app


__all__ = [
    "TARGET_ERROR",
    "VIOLATIONS_HEADER",
    "ProxyConfig",
    "ValidatingProxy",
    "Violation",
    "create_app",
    "header_value",
    "judge",
    "request_violations",
]
