"""HTTP transport: one pooled aiohttp session per target; auth and extra headers added at send time.

Requests are recorded *as built* by the suite: the ``authorization`` and ``-H`` headers given on the
command line are added to the wire request only, so no secret reaches an :class:`Exchange`.

Two conventions let protocol cases control authentication without the secret:

* a request carrying its own ``authorization`` header (a deliberately wrong token) is sent as is;
* a request carrying ``authorization`` with an empty value is sent with *no* authorization at all.

:func:`send_with_backoff` honours ``Retry-After``, ``RateLimit``/``RateLimit-Reset`` and the 503 body's
``estimated_time`` with bounded retries; whatever 503/429 remains is judged PRECONDITION_FAILED by the
checks, never non-conformance.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from asr_conformance.conformance.model import Exchange, Request, Response
from asr_conformance.conformance.target import Target, TargetInfo

from asr_conformance.core.redact import scrub

AUTH = "authorization"
RETRYABLE = frozenset({429, 503})


def public_url(url: str) -> str:
    """``url`` without user:password (safe to show in reports)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


class HttpTarget:
    """A model URL reached over HTTP(S) through one connection pool."""

    def __init__(
        self,
        model_url: str,
        *,
        info: TargetInfo,
        token: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        pool_size: int = 64,
        default_timeout: float = 60.0,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.info = info
        self._model_url = model_url.rstrip("/")
        self._token = token
        self._extra = tuple(headers)
        self._pool_size = pool_size
        self._default_timeout = default_timeout
        self._session: aiohttp.ClientSession | None = None
        self._on_close = on_close

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            # No cookie jar: a target's cookies must not leak from one case into the next.
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    def wire_headers(self, request: Request) -> list[tuple[str, str]]:
        """The headers actually sent: the request's, then extra ``-H`` headers, then auth (never recorded)."""
        own = {k.lower() for k, _ in request.headers}
        out = [(k, v) for k, v in request.headers if not (k.lower() == AUTH and v == "")]
        out += [(k, v) for k, v in self._extra if k.lower() not in own]
        if self._token and AUTH not in own and all(k.lower() != AUTH for k, _ in self._extra):
            out.append(("Authorization", f"Bearer {self._token}"))
        return out

    async def send(self, request: Request, *, timeout: float | None = None) -> Exchange:
        """Send one request; transport trouble gives ``Exchange(transport_error=...)``, never an exception."""
        session = self._get_session()
        headers = self.wire_headers(request)
        # aiohttp would invent a Content-Type for a bytes body; a case without one must go without one.
        skip = ["Content-Type"] if not any(k.lower() == "content-type" for k, _ in headers) else []
        t0 = time.perf_counter()
        try:
            async with session.request(
                request.method,
                self._model_url + request.path,
                headers=headers,
                data=request.body if request.body or request.method != "GET" else None,
                skip_auto_headers=skip,
                timeout=aiohttp.ClientTimeout(total=timeout or self._default_timeout),
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                response = Response(
                    status=resp.status,
                    headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers),
                    body=body,
                    elapsed_s=time.perf_counter() - t0,
                )
        except TimeoutError:
            return Exchange(request, None, f"timeout after {timeout or self._default_timeout:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            return Exchange(request, None, f"{type(exc).__name__}: {self._scrub(str(exc))}")
        return Exchange(request, response)

    def _scrub(self, text: str) -> str:
        return str(scrub(text, (self._token,)))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._on_close is not None:
            await self._on_close()
            self._on_close = None


# ------------------------------------------------------------------------------------------ backoff

_RATELIMIT_RESET = re.compile(r"(?:^|[;,\s])t=(\d+(?:\.\d+)?)")


def retry_delay(response: Response, *, now: datetime | None = None) -> float | None:
    """Seconds the target asked us to wait: ``Retry-After``, ``RateLimit(-Reset)``, or ``estimated_time``."""
    value = response.header("retry-after")
    if value:
        value = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", value):
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    value = response.header("ratelimit-reset")
    if value and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    value = response.header("ratelimit")  # IETF draft: "default";r=0;t=30
    if value and (m := _RATELIMIT_RESET.search(value)):
        return float(m.group(1))
    try:
        body = json.loads(response.body)
    except ValueError:
        return None
    est = body.get("estimated_time") if isinstance(body, dict) else None
    if isinstance(est, int | float) and not isinstance(est, bool) and est >= 0:
        return float(est)
    return None


async def send_with_backoff(
    target: Target,
    request: Request,
    *,
    timeout: float | None = None,
    max_retries: int = 2,
    max_wait_s: float = 30.0,
    on_attempt: Callable[[], bool] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[Exchange, int]:
    """Send, retrying 429/503 after the delay the target asked for (bounded); returns (exchange, attempts).

    ``on_attempt`` is called before every attempt and may veto it (a spent request budget): the last
    exchange is then returned as is. Waits longer than ``max_wait_s`` are not made.
    """
    attempts = 0
    exchange: Exchange | None = None
    for attempt in range(max_retries + 1):
        if on_attempt is not None and not on_attempt():
            break
        attempts += 1
        exchange = await target.send(request, timeout=timeout)
        resp = exchange.response
        if resp is None or resp.status not in RETRYABLE or attempt == max_retries:
            break
        delay = retry_delay(resp)
        delay = min(2.0**attempt, max_wait_s) if delay is None else delay
        if delay > max_wait_s:
            break
        await sleep(delay)
    if exchange is None:
        raise BudgetExhausted("request budget spent before the first attempt")
    return exchange, attempts


class BudgetExhausted(Exception):
    """``--max-requests`` was reached: nothing more may be sent."""


__all__ = ["BudgetExhausted", "HttpTarget", "public_url", "retry_delay", "send_with_backoff"]
