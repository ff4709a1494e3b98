"""Secret scrubbing for everything that leaves a run: cassettes, proxy logs, compare reports.

The rules are :func:`asr_conformance.core.redact.scrub`'s, the one function the mock's journal, the proxy,
cassettes and reports share: known secret values (also percent-encoded or inside base64), ``hf_`` tokens,
credentials after an auth scheme, secret-named query fields, JSON fields and headers. This module applies
them to exchanges:

* header values, paths and query strings, error text: scrubbed as text (credential headers lose their
  whole value);
* JSON bodies: every string value is scrubbed, except the base64 audio in ``inputs`` (scrubbing it could
  only corrupt the audio: a token cannot hide in it unchanged), and the body is rewritten only when
  something was masked;
* other bodies (audio): only exact secret values and ``hf_`` tokens are replaced, byte for byte.

The transport adds authentication after a request is built, so recorded requests normally carry no secret:
scrubbing is the second line of defence, for what a server sends back and what a user passed with ``-H``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from asr_conformance.conformance.model import Exchange, Request, Response

from asr_conformance.core.redact import MAX_DEPTH, SECRET_NAME, scrub

REDACTED = "REDACTED"
#: Headers whose whole value is a credential.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: Hugging Face user/org access tokens are ``hf_`` + 34 letters and digits; 16+ catches shortened test ones.
HF_TOKEN_PATTERN = r"hf_[A-Za-z0-9]{16,}"
_HF_TOKEN_BYTES = re.compile(HF_TOKEN_PATTERN.encode())
#: Credentials embedded in a URL (``https://user:secret@host``).
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class Scrubber:
    """Removes credentials from headers, URLs and bodies; ``secrets`` are extra exact values to remove."""

    secrets: tuple[str, ...] = ()
    _secret_bytes: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Longest first, so that a secret containing another one is removed whole.
        ordered = tuple(sorted({s for s in self.secrets if s}, key=len, reverse=True))
        object.__setattr__(self, "secrets", ordered)
        object.__setattr__(
            self, "_secret_bytes", tuple(s.encode("utf-8", "surrogateescape") for s in ordered)
        )

    @classmethod
    def of(cls, secrets: Iterable[str | None]) -> Scrubber:
        """A scrubber for the given secret values (``None`` and empty values are ignored)."""
        return cls(tuple(s for s in secrets if s))

    def text(self, value: str) -> str:
        """``value`` with every known secret and credential-shaped string replaced."""
        return str(scrub(value, self.secrets, mask=REDACTED))

    def bytes(self, value: bytes) -> bytes:
        """A body with secrets replaced: JSON string values scrubbed (not the audio), others byte for byte."""
        if value[:1] == b"{":
            cleaned = self._json_body(value)
            if cleaned is not None:
                return cleaned
        for secret in self._secret_bytes:
            value = value.replace(secret, REDACTED.encode())
        return _HF_TOKEN_BYTES.sub(REDACTED.encode(), value)

    def _json_body(self, value: bytes) -> bytes | None:
        """The scrubbed JSON body, the same bytes when nothing was masked, ``None`` when it is not JSON."""
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        audio = data.pop("inputs", None)
        cleaned: dict[str, Any] = scrub(data, self.secrets, mask=REDACTED)
        if cleaned == data and not self._in_audio(audio):
            return value  # unchanged: keep the exact bytes (replay matches on their digest)
        if audio is not None:
            cleaned = {"inputs": self._audio_text(audio), **cleaned}
        return json.dumps(cleaned, ensure_ascii=False).encode()

    def _in_audio(self, audio: Any) -> bool:
        return isinstance(audio, str) and any(s in audio for s in self.secrets)

    def _audio_text(self, audio: Any) -> Any:
        """Base64 audio loses only exact secrets: text rules (``…sig=`` padding, say) would corrupt it."""
        if not isinstance(audio, str):
            return scrub(audio, self.secrets, mask=REDACTED)
        for secret in self.secrets:
            audio = audio.replace(secret, REDACTED)
        return audio

    def url(self, value: str) -> str:
        """A URL without user info and without secrets in its path or query."""
        return self.text(_URL_USERINFO.sub("", value))

    def header_value(self, name: str, value: str) -> str:
        """The value to keep for header ``name``: credential headers lose their whole value."""
        if name.lower() in CREDENTIAL_HEADERS:
            return REDACTED
        return self.text(value)

    def headers(self, headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        return tuple((name, self.header_value(name, value)) for name, value in headers)

    def request(self, request: Request) -> Request:
        return replace(
            request,
            path=self.url(request.path),
            headers=self.headers(request.headers),
            body=self.bytes(request.body),
        )

    def response(self, response: Response) -> Response:
        return replace(response, headers=self.headers(response.headers), body=self.bytes(response.body))

    def exchange(self, exchange: Exchange) -> Exchange:
        """The exchange with secrets removed from request and response headers and bodies."""
        return Exchange(
            request=self.request(exchange.request),
            response=self.response(exchange.response) if exchange.response is not None else None,
            transport_error=self.text(exchange.transport_error) if exchange.transport_error else None,
        )

    def finds_secret(self, data: bytes | str) -> bool:
        """True when ``data`` still holds a known secret or a token-shaped string."""
        raw = data.encode() if isinstance(data, str) else data
        return any(s in raw for s in self._secret_bytes) or bool(_HF_TOKEN_BYTES.search(raw))


def request_secrets(request: Request, payload: Any = None) -> tuple[str, ...]:
    """The values a request itself marks as secret: its credentials (``Authorization`` after the scheme,
    cookie values, secret-named headers), secret-named query fields and, in ``payload`` (its parsed JSON,
    when the caller has it), the values of secret-named fields.

    A credential is masked wherever it shows up again (the path, a parameter, an error that echoes it),
    whatever its shape: the shape rules of :func:`scrub` only catch ``hf_`` tokens and named fields.
    """
    found: list[str] = []
    for name, value in request.headers:
        lowered = name.lower()
        if lowered in ("authorization", "proxy-authorization"):
            found.append(value.strip().rpartition(" ")[2])
        elif lowered == "cookie":
            found += [part.partition("=")[2].strip() for part in value.split(";")]
        elif SECRET_NAME.search(lowered):
            found.append(value.strip())
    query = urlsplit(request.path).query
    found += [v for k, v in parse_qsl(query, keep_blank_values=False) if SECRET_NAME.search(k)]
    stack: list[tuple[Any, int]] = [(payload, 0)]
    while stack:  # iterative and depth-bounded: a payload may be nested as deep as its sender likes
        node, depth = stack.pop()
        if isinstance(node, dict) and depth < MAX_DEPTH:
            for key, value in node.items():
                if isinstance(value, str) and SECRET_NAME.search(str(key)):
                    found.append(value)
                stack.append((value, depth + 1))
        elif isinstance(node, list) and depth < MAX_DEPTH:
            stack.extend((value, depth + 1) for value in node)
    return tuple(dict.fromkeys(s for s in found if s))


__all__ = ["CREDENTIAL_HEADERS", "HF_TOKEN_PATTERN", "REDACTED", "Scrubber", "request_secrets"]
