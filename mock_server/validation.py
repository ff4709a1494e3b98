"""Request validation against the spec: the JSON Schema of the chosen view, then the field domains.

A JSON payload is rejected (400, the message naming the field) when it fails ``spec.validator("request",
view)`` or when a field holds one of the spec's ``must_reject`` values. Values the spec calls
``implementation_defined`` that the schema allows are accepted: the mock's documented choice is to be as
lenient as the schema. ``inputs`` is checked by the front while it decodes the base64 (its domain
values are symbolic).

Results are cached by the payload without ``inputs``, so repeated parameter sets cost a dict lookup.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from asr_conformance import spec

_MISSING = object()
_CACHE_SIZE = 1024
#: payloads whose canonical form is longer than this are validated every time, never cached: the cache
#: then holds at most _CACHE_SIZE x _MAX_CACHED_KEY characters (4 MiB) whatever clients send
_MAX_CACHED_KEY = 4096
_MAX_MESSAGE = 300


def _canonical(value: Any) -> str:
    """Type-exact comparison key: 1, 1.0 and true stay different."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _lookup(payload: Any, path: str) -> Any:
    node = payload
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


class RequestValidator:
    """Validates JSON request payloads for one spec view."""

    def __init__(self, view: str) -> None:
        self._validator = spec.validator("request", view)
        self._must_reject: dict[str, frozenset[str]] = {}
        for path, domain in spec.domains().items():
            if path.startswith("header:") or path == "inputs":
                continue
            values = frozenset(_canonical(v.value) for v in domain.must_reject)
            if values:
                self._must_reject[path] = values
        self._cache: OrderedDict[str, str | None] = OrderedDict()

    def error(self, payload: dict[str, Any], *, parameters: bool = True) -> str | None:
        """The first problem with ``payload`` as a message naming the field, or None when it is valid.

        ``parameters=False`` (the ``accept-invalid-params`` violation) ignores problems under
        ``parameters``.
        """
        inputs = payload.get("inputs", _MISSING)
        # inputs only matters by its type here; its content is decoded (and judged) later
        probe = {k: v for k, v in payload.items() if k != "inputs"}
        if inputs is not _MISSING:
            probe["inputs"] = "" if isinstance(inputs, str) else inputs
        key = f"{parameters}:{_canonical(probe)}"
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        message = self._find_error(probe, parameters)
        if len(key) <= _MAX_CACHED_KEY:
            self._cache[key] = message
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return message

    def clear(self) -> None:
        """Forget cached results (``/__mock/reset``)."""
        self._cache.clear()

    def _find_error(self, payload: dict[str, Any], parameters: bool) -> str | None:
        errors = sorted(self._validator.iter_errors(payload), key=lambda e: (len(e.absolute_path), e.message))
        for err in errors:
            path = ".".join(str(p) for p in err.absolute_path)
            if err.validator == "required" and isinstance(err.instance, dict):
                missing = next((r for r in err.validator_value if r not in err.instance), "")
                path = f"{path}.{missing}" if path else missing
            if not parameters and path.startswith("parameters"):
                continue
            return _message(path or "payload", err.message)
        if parameters:
            for path, rejected in self._must_reject.items():
                value = _lookup(payload, path)
                if value is not _MISSING and _canonical(value) in rejected:
                    return _message(path, f"{_canonical(value)[:80]} is not an accepted value")
        return None


def _message(path: str, detail: str) -> str:
    text = f"{path}: {detail}"
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


__all__ = ["RequestValidator"]
