"""One interface for every target: the in-process mock, any model URL, the live service, a cassette.

Authentication and extra headers are added here, in the transport, after a request was built, so that
secrets never reach cases, the hypothesis database, reproductions or reports.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from asr_conformance.conformance.model import Exchange, Request


@dataclass(frozen=True)
class TargetInfo:
    """What the suite knows about a target, for deciding SKIP ("not exercised") over PASS."""

    name: str  # shown in reports: URL without credentials, "mock:in-process", "cassette:PATH"
    model_url: str  # base URL requests are sent to ("" for cassettes)
    exposes_mock_controls: bool = False  # has /__mock: fault headers may be sent
    has_token: bool = False  # the run was given a token (auth checks can run)
    max_body_bytes: int | None = None  # declared limit (--max-body-bytes N), else unknown
    is_mock: bool = False  # transcripts are synthetic: no WER, no "speech" expectations
    is_replay: bool = False  # responses come from a recording
    # the suite's canary (conformance.targets.canary), when the engine runs one: its base URL, and how
    # often a token was fetched (a target that fetches ``inputs`` URLs is a request-forgery hole)
    canary_url: str | None = None
    model_must_match: bool = False  # --model-must-match: an unknown model id must get 404 (error)
    canary_hits: Callable[[str], int] | None = field(default=None, compare=False, repr=False)

    @property
    def on_this_host(self) -> bool:
        """True when the target's URL is loopback: a file the suite writes is on the target's disk."""
        host = urlsplit(self.model_url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


class Target(Protocol):
    """Sends requests; never raises for HTTP-level or transport trouble (it returns an Exchange)."""

    info: TargetInfo

    async def send(self, request: Request, *, timeout: float | None = None) -> Exchange:
        """Send one request (adding auth and extra headers) and return the exchange as built."""

    async def close(self) -> None:
        """Release connections (and stop an in-process server)."""


__all__ = ["Target", "TargetInfo"]
