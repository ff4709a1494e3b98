"""Secret scrubbing for everything that leaves a run: cassettes, proxy logs, compare reports.

The transport adds authentication after a request is built, so recorded requests normally carry no secret.
Scrubbing is the second line of defence, for what a *server* sends back (an error message that echoes the
token, a ``Set-Cookie``) and for anything a user passed with ``-H``. It removes:

* the values of credential headers (``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``),
  in requests and responses;
* anything shaped like a Hugging Face token (``hf_`` followed by 16 or more letters and digits), in header
  values, URLs and bodies;
* any secret value handed over explicitly (the token the run was given, whatever its shape).

A scrubbed value is replaced by ``REDACTED`` so that a reader sees that something was there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from asr_conformance.conformance.model import Exchange, Request, Response

REDACTED = "REDACTED"
#: Headers whose whole value is a credential.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: Hugging Face user/org access tokens are ``hf_`` + 34 letters and digits; 16+ catches shortened test ones.
HF_TOKEN_PATTERN = r"hf_[A-Za-z0-9]{16,}"
_HF_TOKEN_TEXT = re.compile(HF_TOKEN_PATTERN)
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
        object.__setattr__(self, "_secret_bytes", tuple(s.encode() for s in ordered))

    @classmethod
    def of(cls, secrets: Iterable[str | None]) -> Scrubber:
        """A scrubber for the given secret values (``None`` and empty values are ignored)."""
        return cls(tuple(s for s in secrets if s))

    def text(self, value: str) -> str:
        """``value`` with every known secret and token-shaped string replaced."""
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return _HF_TOKEN_TEXT.sub(REDACTED, value)

    def bytes(self, value: bytes) -> bytes:
        """``value`` with every known secret and token-shaped byte string replaced."""
        for secret in self._secret_bytes:
            value = value.replace(secret, REDACTED.encode())
        return _HF_TOKEN_BYTES.sub(REDACTED.encode(), value)

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


__all__ = ["CREDENTIAL_HEADERS", "HF_TOKEN_PATTERN", "REDACTED", "Scrubber"]
