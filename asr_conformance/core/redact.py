"""One scrubbing function for everything that stores or shows what a client sent: :func:`scrub`.

It masks, wherever they appear in a value (header values, paths, query strings, parameter values, error
text that echoes any of these):

* any known secret value the caller passes (the server's token, the run's token), also in its
  percent-encoded form and inside base64 (the three alignments);
* anything shaped like a Hugging Face token (``hf_`` followed by 16 or more letters and digits);
* credentials after an auth scheme (``Bearer …``, ``Basic …``, ``Token …``);
* the values of secret-named query and form fields (``api_key=``, ``token=``, ``access_token=``,
  ``password=`` …) and of secret-named JSON-ish fields in text (``"token": "…"``);
* the whole value of a field or header whose *name* says it is a secret (``Authorization``,
  ``Cookie``, ``x-api-key``, a ``parameters`` key called ``token`` …), keeping an auth scheme visible.

Dicts and lists are scrubbed recursively (keys judged by name, values by content); other scalars are
returned unchanged. Imports nothing of ours: every layer may use it.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

MASK = "***"
#: names (headers, query fields, JSON keys) whose values are secrets whatever they look like
#: (whole words of the name: ``hf_token`` and ``x-api-key`` are secrets, ``max_new_tokens`` is a count)
SECRET_NAME = re.compile(
    r"(?:^|[-_.\s])(?:authorization|cookie|token|access[-_]?token|auth[-_]?token|secret|client[-_]?secret"
    r"|api[-_]?key|apikey|password|passwd|credentials?|session|signature)(?:$|[-_.\s])",
    re.IGNORECASE,
)
_HF_TOKEN = re.compile(r"hf_[A-Za-z0-9]{16,}")  # real tokens: 34; "hf_internal" is a name
_SCHEME_CREDENTIAL = re.compile(r"\b(bearer|basic|token)(\s+)[^\s,;\"'&]+", re.IGNORECASE)
_NAMES = r"[A-Za-z0-9_.-]*(?:token|secret|api[-_]?key|apikey|password|passwd|pwd|auth|signature|sig|session)"
_QUERY_FIELD = re.compile(rf"(?i)(?<![A-Za-z0-9])({_NAMES})=([^&\s#\"',;]*)")
_JSON_FIELD = re.compile(rf"(?i)([\"']{_NAMES}[\"']\s*:\s*)([\"'])(.*?)(?<!\\)\2")
#: what every pattern below needs somewhere in the text
_SUSPECT = re.compile(r"hf_|[=:]|bearer|basic|token", re.IGNORECASE)
_SCHEMES = ("bearer", "basic", "token", "digest")
#: secrets shorter than this are not searched for in text (a 2-letter "secret" would mask half of it)
MIN_SECRET_LEN = 4
#: strings up to this long are memoised (4,096 of them: a few MB at most whatever clients send)
_MEMO_LEN = 256
#: containers nested deeper than this are replaced whole (the front bounds JSON depth far below it)
MAX_DEPTH = 100


def scrub(
    value: Any, secrets: Iterable[str | None] = (), *, name: str | None = None, mask: str = MASK
) -> Any:
    """``value`` with every secret masked (see the module docstring); never mutates its argument.

    ``secrets``: exact values to mask (None and empty ones are ignored). ``name``: the header or field
    the value belongs to; a secret-looking name masks the whole value (``Bearer ***`` keeps the scheme).
    """
    forms = _forms(secrets if isinstance(secrets, tuple) else tuple(secrets))
    return _scrub(value, forms, name, mask, 0)


def _scrub(value: Any, forms: tuple[str, ...], name: str | None, mask: str, depth: int) -> Any:
    if name is not None and _secret_name(name) and isinstance(value, str | int | float):
        return _mask_whole(str(value), mask)
    if isinstance(value, str):
        if len(value) <= _MEMO_LEN:  # header values and keys repeat: most requests cost a lookup
            return _short_text(value, forms, mask)
        return _text(value, forms, mask)
    if depth >= MAX_DEPTH and isinstance(value, dict | list | tuple):
        return mask
    if isinstance(value, dict):
        return {
            _text(str(k), forms, mask): _scrub(v, forms, str(k), mask, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, forms, None, mask, depth + 1) for v in value]
    return value


@functools.lru_cache(maxsize=1024)
def _secret_name(name: str) -> bool:
    return len(name) <= _MEMO_LEN and SECRET_NAME.search(name) is not None


@functools.lru_cache(maxsize=4096)
def _short_text(text: str, forms: tuple[str, ...], mask: str) -> str:
    return _text(text, forms, mask)


def _mask_whole(value: str, mask: str) -> str:
    scheme, sep, _ = value.strip().partition(" ")
    return f"{scheme} {mask}" if sep and scheme.lower() in _SCHEMES else mask


def _text(text: str, forms: tuple[str, ...], mask: str) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, mask)
    if _SUSPECT.search(text) is None:  # one cheap scan spares most strings the four below
        return text
    if "hf_" in text:
        text = _HF_TOKEN.sub(mask, text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{mask}", text)
    if "=" in text:
        text = _QUERY_FIELD.sub(lambda m: f"{m.group(1)}={mask}", text)
    if ":" in text:
        text = _JSON_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{mask}{m.group(2)}", text)
    return text


@functools.lru_cache(maxsize=64)
def _forms(given: tuple[str | None, ...]) -> tuple[str, ...]:
    """Each secret as sent, percent-encoded, and the stable middle of its base64 in each alignment;
    longest first, so that a secret containing another is masked whole."""
    secrets = sorted({s for s in given if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
    out: list[str] = []
    for secret in secrets:
        out.append(secret)
        raw = secret.encode("utf-8", "surrogateescape")
        quoted = quote(raw, safe="")
        if quoted != secret:
            out.append(quoted)
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + raw).decode()
            # drop the first group (mixed with whatever precedes) and the last (with whatever follows)
            core = encoded[4 if shift else 0 : len(encoded) - 4]
            if len(core) >= 8:
                out.append(core)
    return tuple(out)


__all__ = ["MASK", "MAX_DEPTH", "SECRET_NAME", "scrub"]
