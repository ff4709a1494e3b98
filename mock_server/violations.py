"""Named deliberate deviations: each switch breaks exactly one documented behaviour, nothing else.

The conformance suite's meta-tests start a mock with one switch on and assert that the matching check
fires (and no other). ``asr-conformance mock --violate list`` prints this table.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

VIOLATIONS: dict[str, str] = {
    "plural-chunk-key": "chunks carry `timestamps` (the pre-2025 docs' name) instead of `timestamp`",
    "chunks-unasked": "`chunks` are returned although `return_timestamps` was not true",
    "no-chunks": "`return_timestamps: true` gives no `chunks`",
    "timestamps-past-end": "the last chunk ends 1.5 s after the end of the audio",
    "timestamps-decreasing": "timestamps go backwards (chunks in reverse order; a lone chunk ends first)",
    "timestamp-null-end": "the last chunk's end is null (transformers #23231)",
    "timestamps-strings": 'timestamps are strings ("1.20") instead of numbers',
    "chunk-text-mismatch": "the chunk texts do not join to `text` (the last chunk says something else)",
    "text-missing": "success bodies have no `text`",
    "text-not-string": "`text` is a list of words instead of a string",
    "500-on-bad-audio": "undecodable audio gets 500 instead of 400 `Malformed soundfile`",
    "plain-text-errors": "error bodies are text/plain instead of JSON",
    "error-key-missing": "JSON error bodies say `message` instead of `error`",
    "ignored-auth": "with --token, a missing or wrong token is accepted",
    "ignored-wait-for-model": "`x-wait-for-model: true` still gets an immediate 503 while loading",
    "loading-no-estimated-time": "the loading 503 has no `estimated_time`",
    "nondeterministic-text": "the same audio and parameters give a different text each time (cache off)",
    "cache-always": "`x-use-cache: false` is ignored: repeated audio is served from the cache",
    "cache-unmarked": "cache hits say `x-compute-type: cpu` instead of `cache`",
    "accept-invalid-params": "parameter values the spec must reject are accepted (200)",
    "reject-valid-params": "valid `generation_parameters` are rejected with 400",
    "reject-raw-without-content-type": "raw audio without Content-Type gets 400 (as the toolkit does)",
    "reject-json-form": "the JSON form (base64 `inputs`) gets 400",
    "wrong-content-type": "success bodies are labelled text/plain instead of application/json",
    "missing-compute-headers": "success responses lack the x-compute-* headers",
    "ignore-body-limit": "bodies above --max-body-bytes are processed instead of getting 413",
    "reject-mp3": "mp3 audio gets 400 `Malformed soundfile`",
    "reject-8khz": "audio recorded at 8 kHz gets 400 `Malformed soundfile`",
    "slow": "every success is delayed (slow_seconds, default 4 s)",
    "500-on-huge-param": "numeric parameters above 2**31-1 give 500 instead of a documented choice",
    "router-path-404": "the router form /hf-inference/models/{id} is not served (404)",
    "empty-timestamped-speech": '`return_timestamps: true` gets `{"text": "", "chunks": []}`',
    "audio-length-ms": "x-compute-audio-length is in milliseconds instead of seconds",
    "compute-time-not-number": 'x-compute-time carries a unit ("0.012s") instead of a number of seconds',
    "small-body-limit": "bodies over 1 MiB get 413, whatever the declared limit (aiohttp's default)",
    "strict-client-headers": "Content-Type aliases and parameters real clients send (audio/x-wav) get 400",
    "inputs-dereferenced": "JSON `inputs` naming a .wav path is read from disk, an http:// URL fetched",
    "any-model-id": "every model id is served, even when the mock is started with --model-id",
    "strict-boolean-headers": "boolean headers take only lowercase `true` (`1`, `yes`, `TRUE` read as false)",
}


def dereference(inputs: object) -> bytes | None:
    """The ``inputs-dereferenced`` switch: what a server that treats ``inputs`` as a file or URL reads.

    Limited to ``.wav`` paths and plain-http URLs (the suite's own probes): a test switch, not a hole.
    """
    if not isinstance(inputs, str):
        return None
    if inputs.startswith("/") and inputs.endswith(".wav") and Path(inputs).is_file():
        return Path(inputs).read_bytes()
    if inputs.startswith("http://"):
        try:
            with urllib.request.urlopen(inputs, timeout=5) as answer:
                return bytes(answer.read(1 << 24))
        except OSError:
            return None
    return None


__all__ = ["VIOLATIONS", "dereference"]
