"""The request journal (``GET /__mock/requests``) and the result cache (``x-use-cache``).

Journal entries never hold secrets: every entry goes through
:func:`asr_conformance.core.redact.scrub` (credential headers, the configured token anywhere, ``hf_``
tokens, ``Bearer`` credentials, secret query fields, secret-named parameters, echoed error text). Fault
headers are left out. Both structures are bounded in bytes, not only in count: long strings are clipped
before they are stored, an entry is capped, and the oldest entries go when the total is over budget.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from asr_conformance.mock_server.faults import CONTROL_HEADERS
from asr_conformance.mock_server.responses import dumps as _dumps

from asr_conformance.core.redact import MASK, scrub

#: longest string kept in a journal entry (longer ones are clipped, their length noted)
MAX_JOURNAL_STRING = 1024
#: most bytes one journal entry may take; a bigger one keeps only its fixed fields
MAX_ENTRY_BYTES = 16 * 1024
#: default byte budget of the whole journal
DEFAULT_JOURNAL_BYTES = 32 * 1024 * 1024
#: strings or containers visited per entry before the rest is summarised
_MAX_NODES = 2000
#: entry fields the front fills with its own values (never a client's text): stored as they are
_TRUSTED = frozenset({"headers", "method", "form", "compute_type", "audio_sha256", "outcome", "truncated"})
_CLIENT_TYPES = (str, dict, list)
#: parameter strings longer than this enter cache keys as their sha256
MAX_KEY_CHARS = 4096


def mask_header(name: str, value: str, token: str | None) -> str:
    """The value as the journal shows it: ``Bearer ***`` for credentials, secrets masked elsewhere."""
    if len(value) <= 256:  # header values repeat from request to request: most cost a lookup
        return _mask_short_header(name, value, token)
    return scrub(value, (token,), name=name)


@functools.lru_cache(maxsize=4096)
def _scrub_short(value: str, secrets: tuple[str | None, ...]) -> str:
    return scrub(value, secrets)


@functools.lru_cache(maxsize=4096)
def _mask_short_header(name: str, value: str, token: str | None) -> str:
    return scrub(value, (token,), name=name)


def journal_headers(headers: Any, token: str | None) -> dict[str, str]:
    """Request headers for the journal: lower-case names, secrets masked, control headers dropped."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        lname = name.lower()
        if lname in CONTROL_HEADERS:
            continue
        out[lname] = mask_header(lname, _clip(value), token)
    return out


def _clip(text: str) -> str:
    # clipped with room to spare before scrubbing, so that a secret straddling the cut is still whole
    return text if len(text) <= MAX_JOURNAL_STRING + 256 else text[: MAX_JOURNAL_STRING + 256]


def _bounded(value: Any, budget: list[int]) -> Any:
    """``value`` with strings clipped and at most ``_MAX_NODES`` nodes kept (the rest summarised)."""
    budget[0] -= 1
    if budget[0] < 0:
        return "…"
    if isinstance(value, str):
        return _clip(value)
    if isinstance(value, dict):
        return {_clip(str(k)): _bounded(v, budget) for k, v in value.items() if budget[0] >= 0}
    if isinstance(value, list):
        return [_bounded(v, budget) for v in value if budget[0] >= 0]
    return value


def _finish_strings(value: Any) -> Any:
    """After scrubbing: cut strings to their journal length, noting how long they were."""
    if isinstance(value, str) and len(value) > MAX_JOURNAL_STRING:
        return f"{value[:MAX_JOURNAL_STRING]}… ({len(value)} chars)"
    if isinstance(value, dict):
        return {k: _finish_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finish_strings(v) for v in value]
    return value


class Journal:
    """The last ``size`` requests (and at most ``max_bytes`` of them), oldest first.

    Entries are kept as JSON bytes: ten thousand nested dicts would give the garbage collector that
    many more objects to walk on every full collection (latency spikes under load).
    """

    def __init__(self, size: int, max_bytes: int = DEFAULT_JOURNAL_BYTES, token: str | None = None) -> None:
        self._entries: deque[bytes] = deque(maxlen=size)
        self._bytes = 0
        self._max_bytes = max_bytes
        self._secrets = (token,)
        self._seq = 0

    def add(self, entry: dict[str, Any]) -> None:
        """Scrub, bound and store ``entry`` (``seq`` and ``time`` are added)."""
        self._seq += 1
        entry["seq"] = self._seq
        entry.setdefault("time", time.time())
        safe = {
            # numbers, and the fields the front fills itself, as they are; client text scrubbed
            k: v if k in _TRUSTED or not isinstance(v, _CLIENT_TYPES) else self._safe(k, v)
            for k, v in entry.items()
        }
        raw = _dumps(safe)
        if len(raw) > MAX_ENTRY_BYTES:
            fixed = {k: v for k, v in safe.items() if not isinstance(v, dict | list) or k == "headers"}
            fixed["truncated"] = f"entry of {len(raw)} bytes kept without its parameters"
            raw = _dumps(fixed)
        if len(self._entries) == self._entries.maxlen and self._entries:
            self._bytes -= len(self._entries[0])
        self._entries.append(raw)
        self._bytes += len(raw)
        while self._bytes > self._max_bytes and len(self._entries) > 1:
            self._bytes -= len(self._entries.popleft())

    def _safe(self, key: str, value: Any) -> Any:
        if isinstance(value, str) and len(value) <= 256:
            return _scrub_short(value, self._secrets)  # paths and ids repeat: a lookup
        return _finish_strings(scrub(_bounded(value, [_MAX_NODES]), self._secrets, name=key))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self._entries]

    def as_json(self) -> bytes:
        """``{"requests": [...]}`` as bytes, joined from the stored JSON: no parsing, no encoding (a
        full journal is tens of MB; decoding and re-encoding it held the event loop over 100 ms)."""
        return b'{"requests":[' + b",".join(self._entries) + b"]}"

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        self._bytes = 0
        return count

    @property
    def bytes(self) -> int:
        """Bytes the stored entries take."""
        return self._bytes


@dataclass(frozen=True)
class CachedResult:
    body: bytes
    compute_time: str  # replayed as recorded (cache hits show the original x-compute-time)
    audio_length: str


class ResultCache:
    """LRU of successful results keyed by (model id, sha256 of the audio bytes, canonical parameters),
    bounded by count and by bytes (long keys are stored as their sha256)."""

    def __init__(self, size: int, max_bytes: int = DEFAULT_JOURNAL_BYTES) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[tuple[str, str, str], CachedResult] = OrderedDict()

    def get(self, key: tuple[str, str, str]) -> CachedResult | None:
        key = _short_key(key)
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: tuple[str, str, str], item: CachedResult) -> None:
        key = _short_key(key)
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= _weight(key, old)
        self._items[key] = item
        self._bytes += _weight(key, item)
        while len(self._items) > self._size or (self._bytes > self._max_bytes and len(self._items) > 1):
            evicted_key, evicted = self._items.popitem(last=False)
            self._bytes -= _weight(evicted_key, evicted)

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


def _short_key(key: tuple[str, str, str]) -> tuple[str, str, str]:
    model_id, sha, params = key
    if len(params) > MAX_KEY_CHARS:
        params = "sha256:" + hashlib.sha256(params.encode("utf-8", "surrogateescape")).hexdigest()
    if len(model_id) > MAX_KEY_CHARS:
        model_id = "sha256:" + hashlib.sha256(model_id.encode("utf-8", "surrogateescape")).hexdigest()
    return model_id, sha, params


def _weight(key: tuple[str, str, str], item: CachedResult) -> int:
    return sum(map(len, key)) + len(item.body) + 64


__all__ = ["MASK", "CachedResult", "Journal", "ResultCache", "journal_headers", "mask_header"]
