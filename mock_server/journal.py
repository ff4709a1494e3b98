"""The request journal (``GET /__mock/requests``) and the result cache (``x-use-cache``).

Journal entries never hold secrets: ``authorization``, cookies and anything named like a token or key
are masked, and the configured token is masked wherever else it appears. Fault headers are left out.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from asr_conformance.mock_server.faults import CONTROL_HEADERS
from asr_conformance.mock_server.responses import dumps as _dumps

_SECRET_NAMES = re.compile(r"authorization|cookie|token|secret|api-key|apikey|password", re.IGNORECASE)
MASK = "***"


@functools.lru_cache(maxsize=512)
def _is_secret(name: str) -> bool:
    return _SECRET_NAMES.search(name) is not None


def mask_header(name: str, value: str, token: str | None) -> str:
    """The value as the journal shows it: ``Bearer ***`` for credentials, the token masked elsewhere."""
    if _is_secret(name):
        scheme, sep, _ = value.partition(" ")
        return f"{scheme} {MASK}" if sep and scheme.lower() in ("bearer", "basic", "token") else MASK
    if token and token in value:
        return value.replace(token, MASK)
    return value


def journal_headers(headers: Any, token: str | None) -> dict[str, str]:
    """Request headers for the journal: lower-case names, secrets masked, control headers dropped."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        lname = name.lower()
        if lname in CONTROL_HEADERS:
            continue
        out[lname] = mask_header(lname, value, token)
    return out


class Journal:
    """The last ``size`` requests, oldest first.

    Entries are kept as JSON bytes: ten thousand nested dicts would give the garbage collector that
    many more objects to walk on every full collection (latency spikes under load).
    """

    def __init__(self, size: int) -> None:
        self._entries: deque[bytes] = deque(maxlen=size)
        self._seq = 0

    def add(self, entry: dict[str, Any]) -> None:
        self._seq += 1
        entry["seq"] = self._seq
        entry.setdefault("time", time.time())
        self._entries.append(_dumps(entry))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self._entries]

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        return count


@dataclass(frozen=True)
class CachedResult:
    body: bytes
    compute_time: str  # replayed as recorded (cache hits show the original x-compute-time)
    audio_length: str


class ResultCache:
    """LRU of successful results keyed by (model id, sha256 of the audio bytes, canonical parameters)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str, str], CachedResult] = OrderedDict()

    def get(self, key: tuple[str, str, str]) -> CachedResult | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: tuple[str, str, str], item: CachedResult) -> None:
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


__all__ = ["MASK", "CachedResult", "Journal", "ResultCache", "journal_headers", "mask_header"]
