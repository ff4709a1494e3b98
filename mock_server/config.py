"""Everything a mock (or reference) server can be told at start: one frozen dataclass.

The command line (``asr-conformance mock``), :class:`asr_conformance.mock_server.server.MockServer` and the
pytest
fixture all build a :class:`MockConfig`; the front and the mock engine only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: the model id used in URLs when none is configured (any id is accepted then)
DEFAULT_MODEL_ID = "openai/whisper-large-v3"
#: the real service's payload limit is undocumented; this default fits 10 minutes of 16 kHz WAV as base64
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024

#: a 32 MiB body at 4.5 Mbit/s; slower uploads are more likely a stalled or hostile client
DEFAULT_READ_TIMEOUT_S = 60.0

SpecView = Literal["served", "documented"]


@dataclass(frozen=True)
class MockConfig:
    """Server settings. Defaults give a ready, open, well-behaved server."""

    #: the one model id served (others get 404); None accepts any id
    model_id: str | None = None
    #: bearer token required on every model request; None means no authentication
    token: str | None = None
    #: the model reports "currently loading" (503) for this long after start
    loading_seconds: float = 0.0
    #: longest a request with ``x-wait-for-model: true`` is held before it gets its 503
    max_wait: float = 30.0
    #: request bodies above this get 413
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: decoded audio longer than this gets 413
    max_audio_seconds: float = 600.0
    #: seeds the transcripts, fault scenarios and violations that need randomness
    seed: int = 0
    #: JSON file of recorded responses keyed by audio sha256 (+ parameters), see docs/mock.md
    fixtures: Path | None = None
    #: which view of the spec requests are validated against and responses shaped by
    spec_view: SpecView = "served"
    #: names from :data:`asr_conformance.mock_server.violations.VIOLATIONS`: deliberate deviations
    violate: tuple[str, ...] = ()
    #: requests in flight above this get 503 (never queue without bound); a slot is taken once the
    #: body has been read, so slow uploads never hold one
    max_concurrency: int = 256
    #: seconds a client gets to send its whole body; slower gets 408
    read_timeout: float = DEFAULT_READ_TIMEOUT_S
    #: serve the ``/__mock`` controls and honour fault headers and scenarios (an engine server such as
    #: the reference is not a mock: it sets this False)
    controls: bool = True
    #: ``x-compute-type`` of fresh results
    compute_type: str = "cpu"
    #: ``x-sha``: the model revision reported
    model_sha: str = "5a6e0c4b1f8d2e7a9c3b6d0f4e8a2c7b1d5f9e3a"
    #: fault scenario applied to every request (see docs/mock.md); set later with POST /__mock/scenario
    scenario: dict[str, Any] | None = None
    #: requests remembered by GET /__mock/requests
    journal_size: int = 10_000
    #: cached results kept for ``x-use-cache``
    cache_size: int = 4096
    #: sample rate audio is decoded to for the engine
    target_rate: int = 16000
    #: how long ``x-mock-fault: loading`` pretends the model takes to load
    fault_loading_seconds: float = 0.5
    #: check ``parameters`` against the spec (400 naming the field); False leaves every judgement of
    #: parameter values to the engine, as a passthrough server that hands them to ``generate()`` does
    validate_parameters: bool = True
    #: delay added to every response by the ``slow`` violation
    slow_seconds: float = 4.0
    #: the transcript's pace: words per second of non-silent audio
    words_per_second: float = 2.5
    #: extra arguments reserved for engines (the reference engine reads its own keys)
    engine_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from asr_conformance.mock_server.violations import VIOLATIONS

        unknown = [v for v in self.violate if v not in VIOLATIONS]
        if unknown:
            raise ValueError(f"unknown violation(s) {', '.join(unknown)}; see --violate list")
        if self.spec_view not in ("served", "documented"):
            raise ValueError(f"spec_view must be 'served' or 'documented', not {self.spec_view!r}")
        limits = (self.max_body_bytes, self.max_audio_seconds, self.max_concurrency, self.read_timeout)
        if min(limits) <= 0:
            raise ValueError("limits must be positive")

    def violates(self, name: str) -> bool:
        """True when the violation ``name`` is switched on."""
        return name in self.violate


__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MODEL_ID", "DEFAULT_READ_TIMEOUT_S", "MockConfig", "SpecView"]
