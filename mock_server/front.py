"""The one HTTP front: everything about the protocol, over any
:class:`~asr_conformance.mock_server.engine.Engine`.

Routes: ``POST /models/{model_id}`` and the router form ``POST /hf-inference/models/{model_id}`` (ids
contain ``/``); ``GET /healthz``; the controls under ``/__mock``. Unknown routes get a JSON 404, other
methods on the model routes a JSON 405.

A model request goes through, in order: the model id (404), the concurrency bound (503), the body size
(413), faults (``x-mock-fault`` / ``Prefer`` / scenario), authentication (401), loading (503 or held
with ``x-wait-for-model``), parsing and validation (400 naming the field), the cache (``x-use-cache``),
decoding (400 ``Malformed soundfile``, 413 too long), the engine, and the response headers. Every
request lands in the journal (secrets masked, fault headers left out). Any unexpected exception becomes
the real service's 500 body; bad input never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import struct
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web
from asr_conformance.mock_server import audio
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import (
    DecodedAudio,
    Engine,
    EngineError,
    InferenceParams,
    Transcription,
)
from asr_conformance.mock_server.faults import (
    FAULT_HEADER,
    NO_FAULT,
    Fault,
    FaultSpecError,
    Scenario,
    parse_fault,
    parse_prefer,
)
from asr_conformance.mock_server.journal import CachedResult, Journal, ResultCache, journal_headers
from asr_conformance.mock_server.request import (
    ParsedBody,
    RequestProblem,
    decode_inputs,
    params_from_json,
    parse_body,
    parse_bool_header,
)
from asr_conformance.mock_server.responses import (
    COMMON_HEADERS,
    JSON_TYPE,
    MALFORMED_SOUNDFILE,
    RATE_LIMITED,
    UNAUTHORIZED,
    WWW_AUTHENTICATE,
    dumps,
    error_payload,
    inference_error_body,
    loading_body,
    request_id,
    short_id,
    success_body,
)
from asr_conformance.mock_server.validation import RequestValidator

log = logging.getLogger(__name__)

STATE_KEY: web.AppKey[FrontState] = web.AppKey("asr_front_state")
#: numbers above this are "huge" for the 500-on-huge-param violation
HUGE = 2**31 - 1
#: the 503 a scripted ``status=503`` fault answers with (recorded value)
FAULT_LOADING_ESTIMATE_S = 20.0


@dataclass
class FrontState:
    """Mutable server state, reachable from tests and ``MockServer`` through the app."""

    config: MockConfig
    engine: Engine
    validator: RequestValidator
    journal: Journal
    cache: ResultCache
    scenario: Scenario | None = None
    in_flight: int = 0

    def set_scenario(self, data: dict[str, Any] | None) -> None:
        """Install (or with None / ``{}`` clear) a fault scenario; raises FaultSpecError."""
        self.scenario = Scenario(data, self.config.seed) if data else None

    def reset(self) -> None:
        """Forget requests, cached results and the scenario (the engine keeps its state)."""
        self.journal.clear()
        self.cache.clear()
        self.scenario = None


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


@dataclass
class _Exchange:
    """What one model request accumulated, for the response headers and the journal."""

    model_id: str
    request_id: str
    entry: dict[str, Any]
    fault: Fault = NO_FAULT
    started: float = field(default_factory=time.perf_counter)


def create_app(engine: Engine, config: MockConfig) -> web.Application:
    """The aiohttp application serving ``engine`` with ``config``."""
    # the violation needs bodies above the limit to reach the handler
    client_max = config.max_body_bytes * 16 if config.violates("ignore-body-limit") else config.max_body_bytes
    app = web.Application(client_max_size=client_max + 1)
    state = FrontState(
        config=config,
        engine=engine,
        validator=RequestValidator(config.spec_view),
        journal=Journal(config.journal_size),
        cache=ResultCache(config.cache_size),
    )
    if config.scenario:
        state.set_scenario(config.scenario)
    app[STATE_KEY] = state
    front = _Front(state)
    app.router.add_route("*", "/models/{model_id:.+}", front.model)
    app.router.add_route("*", "/hf-inference/models/{model_id:.+}", front.model)
    app.router.add_get("/healthz", front.healthz)
    app.router.add_get("/__mock/requests", front.get_requests)
    app.router.add_delete("/__mock/requests", front.delete_requests)
    app.router.add_post("/__mock/scenario", front.post_scenario)
    app.router.add_post("/__mock/reset", front.post_reset)
    app.router.add_route("*", "/{tail:.*}", front.not_found)

    async def start_engine(_: web.Application) -> None:
        await engine.start()

    async def close_engine(_: web.Application) -> None:
        await engine.close()

    app.on_startup.append(start_engine)
    app.on_cleanup.append(close_engine)
    return app


def front_state(app: web.Application) -> FrontState:
    """The state of an app made by :func:`create_app`."""
    return app[STATE_KEY]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=dumps(body), content_type=JSON_TYPE, headers=headers)


def _route_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """404/405 outside the model pipeline, still with the service's common headers."""
    return _json(
        status, {"error": message}, {**COMMON_HEADERS, "x-request-id": short_id(), **(headers or {})}
    )


class _Front:
    def __init__(self, state: FrontState) -> None:
        self.state = state
        self.config = state.config
        self.engine = state.engine

    # ---------------------------------------------------------------------------------- controls

    async def healthz(self, request: web.Request) -> web.Response:
        ready = self.engine.is_ready()
        body: dict[str, Any] = {"status": "ok", "ready": ready, "model_id": self.config.model_id}
        if not ready:
            body["estimated_time"] = self.engine.estimated_load_seconds()
        return _json(200, body)

    async def get_requests(self, request: web.Request) -> web.Response:
        return _json(200, {"requests": self.state.journal.entries()})

    async def delete_requests(self, request: web.Request) -> web.Response:
        return _json(200, {"deleted": self.state.journal.clear()})

    async def post_scenario(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            self.state.set_scenario(data)
        except (ValueError, FaultSpecError) as exc:
            return _json(400, {"error": f"scenario: {exc}"})
        return _json(200, {"scenario": data or None})

    async def post_reset(self, request: web.Request) -> web.Response:
        self.state.reset()
        return _json(200, {"reset": True})

    async def not_found(self, request: web.Request) -> web.Response:
        return _route_error(404, "Not Found")

    # ------------------------------------------------------------------------------- model route

    async def model(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return _route_error(405, "Method Not Allowed", {"Allow": "POST"})
        router = request.path.startswith("/hf-inference/")
        model_id = request.match_info["model_id"]
        if router and self.config.violates("router-path-404"):
            return _route_error(404, "Not Found")
        ex = _Exchange(
            model_id=model_id,
            request_id=request_id(request.headers.get("x-amzn-trace-id"), router),
            entry={
                "method": request.method,
                "path": request.path,
                "model_id": model_id,
                "headers": journal_headers(request.headers, self.config.token),
            },
        )
        state = self.state
        state.in_flight += 1
        try:
            response = await self._answer(request, ex)
        finally:
            state.in_flight -= 1
            state.journal.add(ex.entry)
        return response

    async def _answer(self, request: web.Request, ex: _Exchange) -> web.StreamResponse:
        try:
            return await self._process(request, ex)
        except Reply as reply:
            return self._error(ex, reply)
        except RequestProblem as exc:
            return self._error(ex, Reply(exc.status, {"error": exc.message}))
        except EngineError as exc:
            return self._error(ex, Reply(exc.status, exc.body, inference=True))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the contract: never a crash, the real 500 shape
            log.exception("unexpected error in request %s", ex.request_id)
            return self._error(
                ex, Reply(500, inference_error_body(f"{type(exc).__name__}: {exc}"), inference=True)
            )

    async def _process(self, request: web.Request, ex: _Exchange) -> web.StreamResponse:
        config = self.config
        if config.model_id is not None and ex.model_id != config.model_id:
            raise Reply(404, {"error": f"Model {ex.model_id} does not exist"})
        if self.state.in_flight > config.max_concurrency:
            raise Reply(
                503,
                {"error": f"Too many requests in flight (limit {config.max_concurrency}); retry shortly"},
                {"Retry-After": "1"},
            )
        body = await self._read_body(request)
        ex.entry["body_bytes"] = len(body)
        ex.entry["content_type"] = request.headers.get("Content-Type")

        ex.fault = self._fault(request)
        if ex.fault.delay:
            await asyncio.sleep(ex.fault.delay)
        if ex.fault.reset:
            _abort(request)
            ex.entry["status"] = None
            ex.entry["outcome"] = "reset"
            return web.Response(status=204)  # never sent: the connection is gone
        if ex.fault.status is not None:
            raise _fault_reply(ex.fault.status, ex.model_id)

        self._authenticate(request)
        parsed = self._parse(request, body)
        ex.entry["form"] = parsed.form
        options = parsed.legacy_options
        use_cache = self._bool_header(request, "x-use-cache", options.get("use_cache"), True)
        wait = self._bool_header(request, "x-wait-for-model", options.get("wait_for_model"), False)
        await self._wait_for_model(ex, wait)

        params = self._validate(parsed)
        audio_bytes = parsed.audio if parsed.form == "raw" else decode_inputs(parsed.payload.get("inputs"))
        sha = hashlib.sha256(audio_bytes).hexdigest()
        ex.entry["audio_sha256"] = sha
        if parsed.form == "json":
            ex.entry["parameters"] = parsed.payload.get("parameters")

        key = (ex.model_id, sha, params.canonical())
        if use_cache or config.violates("cache-always"):
            hit = self.state.cache.get(key)
            if hit is not None:
                compute_type = self.engine.compute_type if config.violates("cache-unmarked") else "cache"
                ex.entry["compute_type"] = compute_type
                return await self._success(request, ex, hit, compute_type)

        result, decoded, elapsed = await self._infer(audio_bytes, sha, params)
        payload = success_body(result, decoded.duration_s, config)
        item = CachedResult(dumps(payload), f"{elapsed:.3f}", repr(round(decoded.duration_s, 3)))
        self.state.cache.put(key, item)
        ex.entry["compute_type"] = self.engine.compute_type
        return await self._success(request, ex, item, self.engine.compute_type)

    # ---------------------------------------------------------------------------------- stages

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.config.max_body_bytes
        enforce = not self.config.violates("ignore-body-limit")
        declared = request.content_length
        if enforce and declared is not None and declared > limit:
            raise Reply(413, _too_large(declared, limit))
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise Reply(413, _too_large(None, limit)) from None
        if enforce and len(body) > limit:
            raise Reply(413, _too_large(len(body), limit))
        return body

    def _fault(self, request: web.Request) -> Fault:
        header = request.headers.get(FAULT_HEADER)
        prefer = request.headers.get("Prefer")
        try:
            if header:
                return parse_fault(header)
            if prefer:
                fault = parse_prefer(prefer)
                if not fault.none:
                    return fault
        except FaultSpecError as exc:
            raise Reply(400, {"error": f"{FAULT_HEADER}: {exc}"}) from None
        scenario = self.state.scenario
        return scenario.next_fault() if scenario is not None else NO_FAULT

    def _authenticate(self, request: web.Request) -> None:
        token = self.config.token
        if token is None or self.config.violates("ignored-auth"):
            return
        scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or credentials.strip() != token:
            raise Reply(
                401,
                {"error": UNAUTHORIZED},
                {"X-Error-Message": UNAUTHORIZED, "WWW-Authenticate": WWW_AUTHENTICATE},
            )

    def _parse(self, request: web.Request, body: bytes) -> ParsedBody:
        config = self.config
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
        return parsed

    async def _wait_for_model(self, ex: _Exchange, wait: bool) -> None:
        engine, config = self.engine, self.config
        if ex.fault.loading:
            remaining = config.fault_loading_seconds
        elif not engine.is_ready():
            remaining = engine.estimated_load_seconds()
        else:
            return
        if wait and not config.violates("ignored-wait-for-model"):
            if ex.fault.loading:
                if remaining <= config.max_wait:
                    await asyncio.sleep(remaining)
                    return
                await asyncio.sleep(config.max_wait)
            elif await engine.wait_ready(config.max_wait):
                return
            remaining = config.fault_loading_seconds if ex.fault.loading else engine.estimated_load_seconds()
        raise Reply(503, loading_body(ex.model_id, remaining, config))

    def _bool_header(self, request: web.Request, name: str, legacy: Any, default: bool) -> bool:
        strict = self.config.violates("strict-boolean-headers")
        try:
            value = parse_bool_header(name, request.headers.get(name), strict=strict)
        except RequestProblem as exc:
            raise Reply(400, {"error": exc.message}) from None
        if value is None and isinstance(legacy, bool):
            value = legacy
        return default if value is None else value

    def _validate(self, parsed: ParsedBody) -> InferenceParams:
        params = self._parameters(parsed.payload) if parsed.payload is not None else InferenceParams()
        if self.config.violates("chunks-unasked") and not params.return_timestamps:
            params = InferenceParams(True, params.generation, params.extra)
        try:
            self.engine.validate(params)
        except EngineError as exc:
            raise Reply(exc.status, exc.body, inference=True) from None
        return params

    def _parameters(self, payload: dict[str, Any]) -> InferenceParams:
        config = self.config
        check_parameters = config.validate_parameters and not config.violates("accept-invalid-params")
        message = self.state.validator.error(payload, parameters=check_parameters)
        if message is not None:
            raise Reply(400, {"error": message})
        parameters = payload.get("parameters")
        params = params_from_json(parameters)
        if config.violates("reject-valid-params") and params.generation:
            raise Reply(400, {"error": "generation_parameters: not supported"})
        if config.violates("500-on-huge-param") and _has_huge_number(parameters):
            raise Reply(500, inference_error_body("OverflowError: Python int too large to convert to C long"))
        return params

    async def _infer(
        self, data: bytes, sha: str, params: InferenceParams
    ) -> tuple[Transcription, DecodedAudio, float]:
        config = self.config
        started = time.perf_counter()
        decoded = await self._decode(data, sha)
        if (config.violates("reject-mp3") and decoded.source_format == "mp3") or (
            config.violates("reject-8khz") and decoded.source_sample_rate == 8000
        ):
            raise Reply(400, {"error": MALFORMED_SOUNDFILE}, inference=True)
        result = await self.engine.transcribe(decoded, params)
        return result, decoded, time.perf_counter() - started

    async def _decode(self, data: bytes, sha: str) -> DecodedAudio:
        config = self.config
        try:
            if data[:4] == b"RIFF":  # numpy-only path: cheaper inline than a thread hop
                return audio.decode(
                    data, target_rate=config.target_rate, sha256=sha, max_seconds=config.max_audio_seconds
                )
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                None,
                lambda: audio.decode(
                    data, target_rate=config.target_rate, sha256=sha, max_seconds=config.max_audio_seconds
                ),
            )
        except audio.AudioTooLongError as exc:
            raise Reply(413, {"error": f"Audio too long: the limit is {exc.max_seconds:g} seconds"}) from None
        except audio.AudioDecodeError:
            if config.violates("500-on-bad-audio"):
                raise Reply(
                    500, inference_error_body("ffmpeg_read failed: Malformed soundfile"), inference=True
                ) from None
            raise Reply(400, {"error": MALFORMED_SOUNDFILE}, inference=True) from None

    # -------------------------------------------------------------------------------- responses

    def _headers(self, ex: _Exchange) -> dict[str, str]:
        return {**COMMON_HEADERS, "x-request-id": ex.request_id}

    async def _success(
        self, request: web.Request, ex: _Exchange, item: CachedResult, compute_type: str
    ) -> web.StreamResponse:
        config = self.config
        headers = self._headers(ex)
        if not config.violates("missing-compute-headers"):
            headers["x-compute-time"] = item.compute_time
            headers["x-compute-type"] = compute_type
            headers["x-compute-audio-length"] = item.audio_length
        headers["x-sha"] = self.engine.model_sha
        headers["x-inference-id"] = short_id()
        headers["Content-Type"] = (
            "text/plain; charset=utf-8" if config.violates("wrong-content-type") else JSON_TYPE
        )
        if config.violates("slow"):
            await asyncio.sleep(config.slow_seconds)
        ex.entry["status"] = 200
        if ex.fault.truncate:
            ex.entry["outcome"] = "truncated"
            return await _truncated(request, 200, headers, item.body)
        return web.Response(status=200, body=item.body, headers=headers)

    def _error(self, ex: _Exchange, reply: Reply) -> web.Response:
        headers = self._headers(ex)
        if reply.inference:
            headers["x-compute-time"] = f"{time.perf_counter() - ex.started:.3f}"
            headers["x-compute-type"] = self.engine.compute_type
            headers["x-sha"] = self.engine.model_sha
        headers.update(reply.headers)
        body, content_type = error_payload(reply.body, self.config)
        headers["Content-Type"] = content_type
        ex.entry["error"] = reply.body.get("error")
        ex.entry["status"] = reply.status
        return web.Response(status=reply.status, body=body, headers=headers)


def _too_large(size: int | None, limit: int) -> dict[str, Any]:
    got = f"{size} bytes" if size is not None else "the body"
    return {"error": f"Payload too large: {got} exceeds the limit of {limit} bytes"}


def _fault_reply(status: int, model_id: str) -> Reply:
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


def _abort(request: web.Request) -> None:
    """Drop the connection with a TCP reset (SO_LINGER 0), as a crashing proxy would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _truncated(
    request: web.Request, status: int, headers: dict[str, str], body: bytes
) -> web.StreamResponse:
    """Promise the whole body in Content-Length, send half of it, close the connection."""
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    _abort(request)
    return response


__all__ = ["STATE_KEY", "FrontState", "create_app", "front_state"]
