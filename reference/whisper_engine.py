"""The reference engine: real Whisper behind the mock's HTTP front (implements
``asr_conformance.mock_server.engine.Engine``).

* The model loads in a background thread at :meth:`WhisperEngine.start`; until then the front answers
  503 with ``estimated_time`` (or holds requests that send ``x-wait-for-model: true``).
* Requests with the same generation parameters that arrive together are decoded as one padded batch
  (up to ``max_batch`` requests, waiting at most ``batch_wait_ms`` for company). Sampled requests are never
  batched and are re-seeded with ``seed`` each time, so that the same request gives the same text.
* The queue is bounded (``max_queue``: 503 beyond it) and each request has a timeout (504).
* ``validation="strict"`` refuses what it cannot honour (400 naming the parameter, see
  :mod:`asr_conformance.reference.generation_params`); ``"passthrough"`` hands parameters to
  ``generate()`` and maps its exceptions as the HF service did: ValueError/TypeError/AssertionError -> 400
  ``{"error": str}``, anything else -> 500 ``{"error": "unknown error", "warnings": [...]}``.
* All model work happens on one worker thread (one accelerator, one stream of batches).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import DecodedAudio, EngineError, InferenceParams, Transcription
from asr_conformance.reference.generation_params import (
    check_passthrough,
    check_passthrough_cost,
    check_strict,
    generate_kwargs,
    is_sampling,
)
from asr_conformance.reference.whisper_runner import WhisperRunner, resolve_device, resolve_dtype

log = logging.getLogger(__name__)

Validation = Literal["strict", "passthrough"]
#: exceptions the HF service turned into 400 (everything else became its 500 "unknown error")
CLIENT_ERRORS = (ValueError, TypeError, AssertionError)


@dataclass(frozen=True)
class EngineSettings:
    """How the reference engine runs; the CLI's options map one to one."""

    model: str = "openai/whisper-large-v3"
    device: str = "auto"  # auto | cuda | cpu
    dtype: str = "auto"  # auto | float16 | bfloat16 | float32
    validation: Validation = "strict"
    seed: int | None = None
    max_batch: int = 8
    batch_wait_ms: float = 10.0
    max_queue: int = 64
    timeout_s: float = 300.0


@dataclass
class _Pending:
    key: str
    audio: np.ndarray
    generation: dict[str, Any]
    timestamps: bool
    sampling: bool
    future: asyncio.Future[Transcription | BaseException]
    #: wall-clock time (time.time(), what transformers' MaxTimeCriteria reads) past which decoding stops
    deadline: float
    queued_at: float = field(default_factory=time.monotonic)


def model_revision(model: str) -> str:
    """A stable 40-hex revision for ``x-sha``: the hash of a local checkpoint's config and file sizes."""
    path = Path(model)
    digest = hashlib.sha1(usedforsecurity=False)
    if path.is_dir():
        for item in sorted(path.iterdir()):
            if item.suffix == ".json":
                digest.update(item.name.encode() + item.read_bytes())
            elif item.is_file():
                digest.update(f"{item.name}:{item.stat().st_size}".encode())
    else:
        digest.update(model.encode())
    return digest.hexdigest()


def _weights_bytes(model: str) -> int:
    path = Path(model)
    if not path.is_dir():
        return 3_200_000_000  # a hub id: assume large-v3 (fp16)
    return sum(p.stat().st_size for p in path.iterdir() if p.suffix in (".safetensors", ".bin"))


class WhisperEngine:
    """Implements :class:`asr_conformance.mock_server.engine.Engine` with a transformers Whisper model."""

    def __init__(self, settings: EngineSettings, runner: WhisperRunner | None = None) -> None:
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.dtype = resolve_dtype(settings.dtype, self.device)
        self.compute_type = "gpu" if self.device.startswith("cuda") else "cpu"
        self.model_sha = model_revision(settings.model)
        self.load_error: BaseException | None = None
        self._runner = runner
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self._ready = asyncio.Event()
        self._failed = asyncio.Event()
        self._load_started = time.monotonic()
        # a rough prior: a few seconds of imports plus reading the weights
        self._expected_load_s = 3.0 + _weights_bytes(settings.model) / 150e6
        self._queue: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._loader: asyncio.Task[None] | None = None
        self._nonce = itertools.count()
        #: decoding calls made and the most requests one of them carried (for tests and logs)
        self.batches = 0
        self.largest_batch = 0

    # -------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._load_started = time.monotonic()
        self._worker = asyncio.create_task(self._work(), name="whisper-batches")
        if self._runner is not None:
            self._ready.set()
        else:
            self._loader = asyncio.create_task(self._load(), name="whisper-load")

    async def _load(self) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        try:
            self._runner = await loop.run_in_executor(
                self._executor, WhisperRunner.load, settings.model, self.device, self.dtype
            )
        except Exception as exc:
            self.load_error = exc
            self._failed.set()
            log.exception("loading %s failed", settings.model)
            return
        log.info("loaded %s on %s (%s) in %.1f s", settings.model, self.device, self.dtype, self.elapsed())
        self._ready.set()

    def elapsed(self) -> float:
        return time.monotonic() - self._load_started

    def is_ready(self) -> bool:
        return self._ready.is_set()

    def estimated_load_seconds(self) -> float:
        return max(0.5, self._expected_load_s - self.elapsed())

    async def wait_ready(self, timeout: float) -> bool:
        ready = asyncio.ensure_future(self._ready.wait())
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            await asyncio.wait({ready, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            failed.cancel()
        return self.is_ready()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        for pending in self._queue:
            if not pending.future.done():
                pending.future.set_exception(EngineError(503, {"error": "the server is shutting down"}))
        self._queue.clear()
        self._executor.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------------------ requests

    @property
    def runner(self) -> WhisperRunner | None:
        """The loaded model (None while loading); another engine may share it."""
        return self._runner

    @property
    def strict(self) -> bool:
        return self.settings.validation == "strict"

    def validate(self, params: InferenceParams) -> None:
        if self.strict:
            multilingual = self._runner.multilingual if self._runner is not None else True
            check_strict(params, multilingual)
        else:
            check_passthrough(params)

    async def transcribe(self, audio: DecodedAudio, params: InferenceParams) -> Transcription:
        if self._runner is None:
            raise EngineError(503, {"error": "the model is not loaded"})
        if audio.sample_rate != 16000:
            raise EngineError(
                500, {"error": f"the front decoded to {audio.sample_rate} Hz, Whisper needs 16000"}
            )
        if len(self._queue) >= self.settings.max_queue:
            raise EngineError(503, {"error": f"Too many requests queued (limit {self.settings.max_queue})"})
        generation = generate_kwargs(params, self.strict)
        if not self.strict:
            check_passthrough_cost(generation, audio.duration_s)
        sampling = is_sampling(generation)
        key = json.dumps([generation, params.return_timestamps], sort_keys=True, default=repr)
        if sampling:
            key += f"#{next(self._nonce)}"  # never batched: each sampled request is seeded alone
        future: asyncio.Future[Transcription | BaseException] = asyncio.get_running_loop().create_future()
        # Bound the decode itself, not only the wait for it, with one deadline for the whole request
        # (every 30 s window of long-form decoding included): a generate() that outlived its 504 would
        # hold the worker and time out every request queued behind it.
        deadline = time.time() + self.settings.timeout_s
        pending = _Pending(
            key, audio.samples, generation, params.return_timestamps, sampling, future, deadline
        )
        self._queue.append(pending)
        self._wakeup.set()
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout=self.settings.timeout_s)
        except TimeoutError:
            self._forget(pending)
            timeout = self.settings.timeout_s
            raise EngineError(504, {"error": f"Inference timed out after {timeout:g} s"}) from None
        except asyncio.CancelledError:  # the client went away: do not decode for nobody
            self._forget(pending)
            raise
        if isinstance(result, BaseException):
            raise _client_error(result)
        return result

    def _forget(self, pending: _Pending) -> None:
        if pending in self._queue:
            self._queue.remove(pending)

    # -------------------------------------------------------------------------------- batching

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        wait_s = self.settings.batch_wait_ms / 1000
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            first = self._queue[0]
            # wait for company with the same parameters, up to batch_wait_ms after the first arrived
            while not first.sampling and self._count(first.key) < self.settings.max_batch:
                remaining = first.queued_at + wait_s - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except TimeoutError:
                    break
            batch = self._take(first.key)
            if not batch:
                continue
            self.batches += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, batch)
            except Exception as exc:  # the executor itself failed (shut down): answer, keep serving
                results = [exc] * len(batch)
            for pending, result in zip(batch, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(result)

    def _count(self, key: str) -> int:
        return sum(1 for p in self._queue if p.key == key)

    def _take(self, key: str) -> list[_Pending]:
        batch: list[_Pending] = []
        for pending in list(self._queue):
            if pending.key == key and len(batch) < self.settings.max_batch:
                self._queue.remove(pending)
                if not pending.future.done():
                    batch.append(pending)
        return batch

    def _run_batch(self, batch: list[_Pending]) -> list[Transcription | BaseException]:
        """On the worker thread. A failing batch is retried request by request, so that one request's
        parameters or audio never fail another's."""
        runner = self._runner
        assert runner is not None
        head = batch[0]
        seed = self.settings.seed if head.sampling else None
        # the latest deadline: an earlier one would cut the others' transcripts short
        deadline = max(p.deadline for p in batch)
        try:
            return list(
                runner.run([p.audio for p in batch], head.generation, head.timestamps, seed, deadline)
            )
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
        return [self._run_batch([p])[0] for p in batch]


def front_config(engine: WhisperEngine, **overrides: Any) -> MockConfig:
    """The front's :class:`MockConfig` for this engine (``overrides``: other MockConfig fields).

    Passthrough must let invalid parameter values reach ``generate()``, so the front leaves the
    judgement of parameter values to the engine.
    """
    settings: dict[str, Any] = {
        "compute_type": engine.compute_type,
        "model_sha": engine.model_sha,
        "seed": engine.settings.seed or 0,
        "validate_parameters": engine.settings.validation != "passthrough",
        "max_wait": 600.0,  # x-wait-for-model may hold a request through a whole large-v3 load
        "controls": False,  # an engine server is not a mock: no /__mock routes, no fault headers
    }
    return MockConfig(**{**settings, **overrides})


def _client_error(exc: BaseException) -> EngineError:
    """The HF service's mapping of pipeline exceptions to responses."""
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, CLIENT_ERRORS):
        return EngineError(400, {"error": str(exc)})
    log.error("inference failed: %s: %s", type(exc).__name__, exc)
    return EngineError(500, {"error": "unknown error", "warnings": [f"There was an inference error: {exc}"]})


__all__ = ["CLIENT_ERRORS", "EngineSettings", "WhisperEngine", "front_config", "model_revision"]
