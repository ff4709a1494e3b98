"""What the generator produces and the runner sends: a case, independent of any target.

A case is pure data and reproducible from its ``meta`` alone, so that the same list of cases can go to
several targets (compare), be replayed by id, and be shrunk by hypothesis.

``protocol`` cases send several requests; their ``protocol`` field names the scenario and fixes the
order of the exchanges the checks will see:

==================  ===========================================================================
protocol            exchanges (in order)
==================  ===========================================================================
determinism         same body twice, both with ``x-use-cache: false``, no sampling parameters
cache               same body twice, default headers (cache allowed); then once ``x-use-cache: false``
forms               the same audio as raw bytes, then as JSON ``{"inputs": b64}`` (no parameters)
auth_missing        the request without ``authorization`` (only when the run has a token)
auth_wrong          the request with a wrong bearer token (only when the run has a token)
loading             (mock targets only) with ``x-mock-fault: loading``: no wait header, then
                    ``x-wait-for-model: true``, then ``x-wait-for-model: 1`` (both spellings clients sent)
body_limit          a body larger than the target's declared ``--max-body-bytes``
content_type        the same raw audio with no Content-Type, ``application/octet-stream``, a wrong
                    ``audio/*`` type and the right one
unknown_model       the plain raw request to the model URL with a suffix no model id has
==================  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asr_conformance.conformance.model import CaseKind, RequestForm


@dataclass(frozen=True)
class AudioRecipe:
    """How to render audio deterministically (shrinking works on these fields)."""

    codec: str  # wav | flac | ogg | opus | mp3 | webm | m4a
    sample_rate: int
    channels: int
    sample_format: str  # s16 | s24 | flt
    duration_s: float
    kind: str  # silence | tone | noise | speech | bursts (phrases between pauses: several chunks)
    seed: int = 0
    text: str = ""  # for kind == "speech"

    def describe(self) -> str:
        return (
            f"{self.codec} {self.sample_rate} Hz {'mono' if self.channels == 1 else 'stereo'} "
            f"{self.sample_format} {self.duration_s:.2f} s {self.kind}"
        )


@dataclass(frozen=True)
class CaseSpec:
    """One generated test case."""

    id: str
    phase: str  # probe | examples | coverage | fuzz
    kind: CaseKind
    form: RequestForm
    audio: AudioRecipe | None  # None for malformed bodies described by ``malformed``
    parameters: dict[str, Any] | None = None  # the JSON ``parameters`` object as sent (json form)
    headers: tuple[tuple[str, str], ...] = ()  # protocol headers (x-use-cache, ...), never auth
    mutation: str | None = None  # negative cases: "parameters.generation_parameters.top_k: string ..."
    mutated_path: str | None = None  # the one path a negative case changes
    malformed: str | None = None  # truncated | wrong_header | random_bytes | empty | bad_base64 ...
    raw_json: Any = None  # for negative cases whose body is not a valid payload shape
    protocol: str | None = None  # see module docstring
    expected_duration_s: float | None = None  # true duration of the rendered audio
    duration_tolerance_s: float = 0.05
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def asks_timestamps(self) -> bool:
        return bool((self.parameters or {}).get("return_timestamps") is True)

    @property
    def samples_tokens(self) -> bool:
        """True when parameters may make decoding non-deterministic (sampling)."""
        gen = (self.parameters or {}).get("generation_parameters") or {}
        temp = gen.get("temperature")
        return bool(gen.get("do_sample")) or (isinstance(temp, int | float) and temp > 0)


__all__ = ["AudioRecipe", "CaseSpec"]
