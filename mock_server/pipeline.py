"""The model route: one request through the protocol, in order, inside one error boundary.

The model id (404), the concurrency bound (503), the body size (413), faults (``x-mock-fault`` /
``Prefer`` / scenario), authentication (401), loading (503 or held with ``x-wait-for-model``), parsing
and validation (400 naming the field), the cache (``x-use-cache``), decoding (400 ``Malformed
soundfile``, 413 too long), the engine, and the response headers. Every request lands in the journal
(secrets masked, fault headers left out). Any unexpected exception becomes the real service's 500 body;
bad input never does.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from asr_conformance.mock_server import audio, intake
from asr_conformance.mock_server.engine import DecodedAudio, EngineError, InferenceParams, Transcription
from asr_conformance.mock_server.faults import NO_FAULT, Fault
from asr_conformance.mock_server.journal import CachedResult, journal_headers
from asr_conformance.mock_server.replies import Reply, abort, fault_reply, route_error, truncated
from asr_conformance.mock_server.request import ParsedBody, RequestProblem, decode_inputs
from asr_conformance.mock_server.responses import (
    COMMON_HEADERS,
    JSON_TYPE,
    MALFORMED_SOUNDFILE,
    dumps,
    error_payload,
    inference_error_body,
    loading_body,
    request_id,
    short_id,
    success_body,
)
from asr_conformance.mock_server.state import FrontState
from asr_conformance.mock_server.violations import dereference

log = logging.getLogger(__name__)

#: mono WAV at the target rate up to this size is decoded on the event loop (0.2 ms); anything that is
#: larger, needs resampling or is not WAV goes to a thread
INLINE_DECODE_BYTES = 256 * 1024


@dataclass
class Exchange:
    """What one model request accumulated, for the response headers and the journal."""

    model_id: str
    request_id: str
    entry: dict[str, Any]
    fault: Fault = NO_FAULT
    started: float = field(default_factory=time.perf_counter)


class ModelRoute:
    """``POST /models/{id}`` and ``POST /hf-inference/models/{id}`` over the state's engine."""

    def __init__(self, state: FrontState) -> None:
        self.state = state
        self.config = state.config
        self.engine = state.engine

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return route_error(405, "Method Not Allowed", {"Allow": "POST"})
        router = request.path.startswith("/hf-inference/")
        model_id = request.match_info["model_id"]
        if router and self.config.violates("router-path-404"):
            return route_error(404, "Not Found")
        ex = Exchange(
            model_id=model_id,
            request_id=request_id(request.headers.get("x-amzn-trace-id"), router),
            entry={"method": request.method, "path": request.path, "model_id": model_id},
        )
        try:
            return await self._answer(request, ex)
        finally:
            self._record(ex)

    def _record(self, ex: Exchange) -> None:
        """Journal the exchange; a journal failure never costs the client its answer."""
        try:
            self.state.journal.add(ex.entry)
        except Exception:
            log.exception("request %s could not be journaled", ex.request_id)

    async def _answer(self, request: web.Request, ex: Exchange) -> web.StreamResponse:
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

    async def _process(self, request: web.Request, ex: Exchange) -> web.StreamResponse:
        config, state = self.config, self.state
        ex.entry["headers"] = journal_headers(request.headers, config.token)
        served = config.model_id is None or config.violates("any-model-id")
        if not served and ex.model_id != config.model_id:
            raise Reply(404, {"error": f"Model {ex.model_id} does not exist"})
        body = await intake.read_body(request, config)
        ex.entry["body_bytes"] = len(body)
        ex.entry["content_type"] = request.headers.get("Content-Type")
        # the slot is taken once the body is in: a slow or stalled upload never holds one
        if state.in_flight >= config.max_concurrency:
            raise Reply(
                503,
                {"error": f"Too many requests in flight (limit {config.max_concurrency}); retry shortly"},
                {"Retry-After": "1"},
            )
        state.in_flight += 1
        try:
            await state.turns.wait()  # first come, first served, two per loop iteration (state.Turns)
            return await self._after_body(request, ex, body)
        finally:
            state.in_flight -= 1

    async def _after_body(self, request: web.Request, ex: Exchange, body: bytes) -> web.StreamResponse:
        config = self.config
        early = await self._apply_fault(request, ex)
        if early is not None:
            return early
        intake.authenticate(request, config)
        parsed = intake.parse(request, body, config)
        ex.entry["form"] = parsed.form
        options = parsed.legacy_options
        use_cache = intake.bool_header(request, "x-use-cache", options.get("use_cache"), True, config)
        wait = intake.bool_header(request, "x-wait-for-model", options.get("wait_for_model"), False, config)
        await self._wait_for_model(ex, wait)
        params = self._validate(parsed)
        return await self._transcribe(request, ex, parsed, params, use_cache)

    async def _apply_fault(self, request: web.Request, ex: Exchange) -> web.StreamResponse | None:
        """Apply the request's fault; a response when the fault ends the request here."""
        ex.fault = intake.fault(request, self.state.scenario, self.config)
        if ex.fault.delay:
            await asyncio.sleep(ex.fault.delay)
        if ex.fault.reset:
            abort(request)
            ex.entry["status"] = None
            ex.entry["outcome"] = "reset"
            return web.Response(status=204)  # never sent: the connection is gone
        if ex.fault.status is not None:
            raise fault_reply(ex.fault.status, ex.model_id)
        return None

    async def _transcribe(
        self, request: web.Request, ex: Exchange, parsed: ParsedBody, params: InferenceParams, use_cache: bool
    ) -> web.StreamResponse:
        config = self.config
        inputs = None if parsed.form == "raw" else parsed.payload.get("inputs")
        read = None
        if config.violates("inputs-dereferenced"):
            read = await asyncio.to_thread(dereference, inputs)
        audio_bytes = parsed.audio if parsed.form == "raw" else read or decode_inputs(inputs)
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

    async def _wait_for_model(self, ex: Exchange, wait: bool) -> None:
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

    def _validate(self, parsed: ParsedBody) -> InferenceParams:
        if parsed.payload is None:
            params = InferenceParams()
        else:
            params = intake.parameters(parsed.payload, self.state.validator, self.config)
        if self.config.violates("chunks-unasked") and not params.return_timestamps:
            params = InferenceParams(True, params.generation, params.extra)
        try:
            self.engine.validate(params)
        except EngineError as exc:
            raise Reply(exc.status, exc.body, inference=True) from None
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

        def decode() -> DecodedAudio:
            return audio.decode(
                data, target_rate=config.target_rate, sha256=sha, max_seconds=config.max_audio_seconds
            )

        try:
            if audio.cheap_to_decode(data, config.target_rate, INLINE_DECODE_BYTES):
                return decode()  # cheaper inline than a thread hop
            return await asyncio.to_thread(decode)
        except audio.AudioTooLongError as exc:
            raise Reply(413, {"error": f"Audio too long: the limit is {exc.max_seconds:g} seconds"}) from None
        except audio.AudioDecodeError:
            if config.violates("500-on-bad-audio"):
                raise Reply(
                    500, inference_error_body("ffmpeg_read failed: Malformed soundfile"), inference=True
                ) from None
            raise Reply(400, {"error": MALFORMED_SOUNDFILE}, inference=True) from None

    # -------------------------------------------------------------------------------- responses

    def _headers(self, ex: Exchange) -> dict[str, str]:
        return {**COMMON_HEADERS, "x-request-id": ex.request_id}

    async def _success(
        self, request: web.Request, ex: Exchange, item: CachedResult, compute_type: str
    ) -> web.StreamResponse:
        config = self.config
        headers = self._headers(ex)
        if not config.violates("missing-compute-headers"):
            headers["x-compute-time"] = item.compute_time
            headers["x-compute-type"] = compute_type
            headers["x-compute-audio-length"] = item.audio_length
            if config.violates("audio-length-ms"):
                headers["x-compute-audio-length"] = str(round(float(item.audio_length) * 1000))
            if config.violates("compute-time-not-number"):
                headers["x-compute-time"] = f"{item.compute_time}s"
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
            return await truncated(request, 200, headers, item.body)
        return web.Response(status=200, body=item.body, headers=headers)

    def _error(self, ex: Exchange, reply: Reply) -> web.Response:
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


__all__ = ["Exchange", "ModelRoute"]
