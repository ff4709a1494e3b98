"""Turn a :class:`~asr_conformance.conformance.cases.CaseSpec` into the HTTP requests it stands for.

A single case is one request; a protocol case is the fixed sequence its scenario names (see
``asr_conformance.conformance.cases``). Nothing here knows about targets or secrets: the transport adds auth.
"""

from __future__ import annotations

import functools
import json
import re

import numpy as np
from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.generation.audio import MIME, render
from asr_conformance.conformance.generation.decoders import readers, refused_by_all
from asr_conformance.conformance.generation.values import MISSING, resolve_inputs
from asr_conformance.conformance.model import Request

JSON = "application/json"
_PLAIN_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
#: a token that no server should accept (not ``hf_``-shaped: scrubbers must not hide what was sent)
WRONG_TOKEN = "Bearer not-a-valid-token-asr-conformance"
#: Damage every mainstream decoder refuses (checked on each body built): the server must answer 4xx.
#: Appended to the model id for the unknown-model probe (a multi-model server answers 404).
UNKNOWN_MODEL_SUFFIX = "-asr-conformance-no-such-model"
MALFORMED_KINDS = ("empty", "random_bytes", "truncated", "wrong_header")
#: Damage mainstream decoders read in part (FFmpeg and libsndfile decode the frames present):
#: implementation-defined, never a verdict demanding 4xx.
READABLE_DAMAGE = ("cut_short",)


def audio_bytes(case: CaseSpec) -> bytes:
    """The audio a case carries: its recipe rendered, or the malformed body it describes."""
    good = render(case.audio) if case.audio is not None else b""
    if case.malformed is None:
        return good
    return malformed_body(case.malformed, good, int(case.meta.get("seed", 0)))


def _malformed_candidates(kind: str, good: bytes, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    match kind:
        case "empty":
            return [b""]
        case "random_bytes":
            # A zero run first: no container's magic number at the start.
            return [b"\0" * 64 + rng.bytes(4096), rng.bytes(4096), b"\0" * 4096]
        case "truncated":
            return [good[: max(8, len(good) // 10)], good[:44], good[:16]]
        case "wrong_header":
            return [b"\0" * 64 + good[64:], b"\0" * (len(good) // 2) + good[len(good) // 2 :], b"\0" * 4096]
        case "cut_short":
            # The header intact, half the payload gone (a WAV then declares more data than it holds).
            return [good[: max(64, len(good) // 2)]]
    raise ValueError(f"unknown malformed kind {kind!r}")


class NotMalformedError(ValueError):
    """No candidate body of a ``must_reject`` kind is refused by every mainstream decoder."""


@functools.lru_cache(maxsize=256)
def malformed_body(kind: str, good: bytes, seed: int) -> bytes:
    """Bytes of this kind of damage; for :data:`MALFORMED_KINDS`, refused by FFmpeg AND libsndfile.

    FFmpeg resynchronises on mp3/aac frames and reads a file cut short, so each kind tries gentler
    damage first and keeps the first body both decoders really refuse (the oracle of
    ``generation.decoders``, never the project's own WAV fast path). :data:`READABLE_DAMAGE` kinds are
    returned as they are: their cases are implementation-defined.
    """
    options = _malformed_candidates(kind, good, seed)
    if kind in READABLE_DAMAGE:
        return options[0]
    body = next((b for b in options if refused_by_all(b)), None)
    if body is None:
        raise NotMalformedError(f"every {kind} body of this audio is read by {readers(options[-1])}")
    return body


def body_filename(case: CaseSpec) -> str:
    """Suggested file name for ``curl --data-binary @FILE``."""
    if case.form == "json" or case.raw_json is not None:
        ext = "json"
    elif case.malformed or case.audio is None:
        ext = "bin"
    else:
        ext = case.audio.codec
    return f"case-{case.id}.{ext}"


def _raw(case: CaseSpec, body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> Request:
    headers: list[tuple[str, str]] = []
    ctype = case.meta.get("content_type", "auto")  # auto | @missing | a literal value
    if ctype == "auto" and case.audio is not None and not case.malformed:
        headers.append(("Content-Type", MIME[case.audio.codec]))
    elif ctype == "auto":
        headers.append(("Content-Type", "application/octet-stream"))
    elif ctype != "@missing":
        headers.append(("Content-Type", ctype))
    return Request("POST", "", (*headers, *case.headers, *extra), body)


def json_body(case: CaseSpec, audio: bytes, *, with_parameters: bool = True) -> bytes:
    """The JSON form's body: ``{"inputs": base64, "parameters": {...}}`` (or the case's raw JSON)."""
    if case.raw_json is not None:
        raw = case.raw_json
        if isinstance(raw, dict) and "inputs" in raw:  # a symbolic inputs value, resolved like below
            raw = {k: v for k, v in raw.items() if k != "inputs"}
            if (inputs := resolve_inputs(case.raw_json["inputs"], audio)) is not MISSING:
                raw = {"inputs": inputs, **raw}
        return json.dumps(raw, separators=(",", ":")).encode()
    payload: dict[str, object] = {}
    inputs = resolve_inputs(case.meta.get("inputs") or "@base64-valid", audio)
    if isinstance(inputs, str) and _PLAIN_BASE64.fullmatch(inputs):
        # Same bytes as json.dumps, without scanning megabytes of base64 for characters to escape.
        params = b""
        if with_parameters and case.parameters is not None:
            params = b',"parameters":' + json.dumps(case.parameters, separators=(",", ":")).encode()
        return b'{"inputs":"' + inputs.encode() + b'"' + params + b"}"
    if inputs is not MISSING:
        payload["inputs"] = inputs
    if with_parameters and case.parameters is not None:
        payload["parameters"] = case.parameters
    return json.dumps(payload, separators=(",", ":")).encode()


def _json(case: CaseSpec, audio: bytes, extra: tuple[tuple[str, str], ...] = (), **kw: bool) -> Request:
    # A client profile may spell the JSON type its own way (``application/json; charset=utf-8``).
    ctype = str(case.meta["content_type"]) if case.meta.get("client") else JSON
    return Request("POST", "", (("Content-Type", ctype), *case.headers, *extra), json_body(case, audio, **kw))


def build_requests(case: CaseSpec, *, max_body_bytes: int | None = None) -> list[Request]:
    """Every request the case sends, in the order the checks expect."""
    audio = audio_bytes(case)
    one = _json(case, audio) if case.form == "json" else _raw(case, audio)
    if case.protocol is None:
        return [one]
    no_cache = (("x-use-cache", "false"),)
    match case.protocol:
        case "determinism":
            first = _json(case, audio, no_cache) if case.form == "json" else _raw(case, audio, no_cache)
            return [first, first]
        case "cache":
            fresh = _json(case, audio, no_cache) if case.form == "json" else _raw(case, audio, no_cache)
            return [one, one, fresh]
        case "forms":
            return [_raw(case, audio), _json(case, audio, with_parameters=False)]
        case "auth_missing":
            return [_with_auth(one, "")]
        case "auth_wrong":
            return [_with_auth(one, WRONG_TOKEN)]
        case "loading":
            fault = (("x-mock-fault", "loading"),)
            wait = (*fault, ("x-wait-for-model", str(case.meta.get("wait_value", "true"))))
            return [_raw(case, audio, fault), _raw(case, audio, wait)]
        case "body_limit":
            if max_body_bytes is None:
                raise ValueError("body_limit needs the target's declared --max-body-bytes")
            big = audio + b"\0" * max(0, max_body_bytes + 1 - len(audio))
            return [_raw(case, big)]
        case "unknown_model":
            # Appended to the model URL: the same path with a model id no server holds.
            return [replace_path(_raw(case, audio), UNKNOWN_MODEL_SUFFIX)]
        case "content_type":
            assert case.audio is not None
            return [
                Request("POST", "", case.headers, audio),
                Request("POST", "", (("Content-Type", "application/octet-stream"), *case.headers), audio),
                Request("POST", "", (("Content-Type", _wrong_mime(case.audio.codec)), *case.headers), audio),
                Request("POST", "", (("Content-Type", MIME[case.audio.codec]), *case.headers), audio),
            ]
    raise ValueError(f"unknown protocol scenario {case.protocol!r}")


def replace_path(request: Request, path: str) -> Request:
    return Request(request.method, path, request.headers, request.body)


def _with_auth(request: Request, value: str) -> Request:
    headers = tuple(h for h in request.headers if h[0].lower() != "authorization")
    return Request(request.method, request.path, (*headers, ("Authorization", value)), request.body)


def _wrong_mime(codec: str) -> str:
    return "audio/mpeg" if codec != "mp3" else "audio/flac"


__all__ = [
    "MALFORMED_KINDS",
    "READABLE_DAMAGE",
    "UNKNOWN_MODEL_SUFFIX",
    "WRONG_TOKEN",
    "NotMalformedError",
    "audio_bytes",
    "body_filename",
    "build_requests",
    "json_body",
    "malformed_body",
]
