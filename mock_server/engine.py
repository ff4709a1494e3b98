"""The seam between the HTTP front and whatever produces transcripts.

The front (``asr_conformance.mock_server.front``) owns everything about the protocol: routing, parsing both
request
forms, validation against the spec, headers, the cache, faults, errors. An engine only turns decoded
audio plus already-validated parameters into a transcription. The deterministic mock engine and the
reference Whisper engine both implement :class:`Engine`.

Error contract: an engine raises :class:`EngineError` for anything the client should see as a 4xx or a
5xx with a specific body; the front turns any other exception into
``500 {"error": "unknown error", "warnings": ["There was an inference error: ..."]}`` (the real
service's shape), never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class DecodedAudio:
    """Audio as the engines see it: mono float32 at ``sample_rate`` (16 kHz unless stated)."""

    samples: np.ndarray  # shape (n,), float32 in [-1, 1]
    sample_rate: int
    source_sample_rate: int
    source_channels: int
    source_format: str  # container/codec name as the decoder reported it, e.g. "flac", "mp3"
    sha256: str  # of the request's audio bytes (raw body, or base64-decoded ``inputs``)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class InferenceParams:
    """Parameters after parsing and validation by the front (``generate_kwargs`` already merged)."""

    return_timestamps: bool = False
    generation: dict[str, Any] = field(default_factory=dict)  # generation_parameters, as sent
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys of ``parameters``, as sent

    def canonical(self) -> str:
        """A stable text form for cache keys and fixture lookup."""
        import json

        return json.dumps(
            {"return_timestamps": self.return_timestamps, "generation": self.generation, "extra": self.extra},
            sort_keys=True,
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class Chunk:
    text: str
    start: float
    end: float | None  # Whisper may leave the last end open (transformers #23231)


@dataclass(frozen=True)
class Transcription:
    text: str
    chunks: tuple[Chunk, ...] | None = None  # None unless timestamps were asked for


class EngineError(Exception):
    """An error the client must see with this status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


@runtime_checkable
class Engine(Protocol):
    """What the front needs from a transcription backend."""

    #: reported in ``x-compute-type`` for fresh results ("cpu", "gpu", ...)
    compute_type: str
    #: reported in ``x-sha`` (the model revision)
    model_sha: str

    async def start(self) -> None:
        """Begin loading (may return before the model is ready)."""

    def is_ready(self) -> bool:
        """True once the engine can transcribe."""

    def estimated_load_seconds(self) -> float:
        """Remaining load time for the 503 body's ``estimated_time``."""

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until ready or ``timeout`` seconds pass; True when ready."""

    def validate(self, params: InferenceParams) -> None:
        """Engine-specific refusals beyond the spec (raise :class:`EngineError` 400); may do nothing."""

    async def transcribe(self, audio: DecodedAudio, params: InferenceParams) -> Transcription:
        """Transcribe; raise :class:`EngineError` for client-visible errors."""

    async def close(self) -> None:
        """Release resources."""


__all__ = ["Chunk", "DecodedAudio", "Engine", "EngineError", "InferenceParams", "Transcription"]
