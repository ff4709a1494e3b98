"""A canary the suite serves, to catch servers that fetch ``inputs`` as a URL (request forgery).

HF's own serving code fetches ``https://`` inputs and reads ``/path/on/server.wav`` from its disk; the
spec says ``inputs`` is base64 audio. The suite sends the URL of this canary as ``inputs``: any hit on
it is a security defect, whatever the answer says.

The engine starts it before planning and stops it after the run (see :func:`start`); the planner sees
its base URL, and the checks its hits, through ``TargetInfo.canary_url`` / ``TargetInfo.canary_hits``.
A loopback target gets a canary on 127.0.0.1; a remote one a canary on every interface, advertised at
the address this host uses to reach the target (the check SKIPs when nothing came: it may not reach it).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from asr_conformance.conformance.target import TargetInfo

#: 0.1 s of silence as a 16 kHz s16 WAV: what a fetching server gets (it must not matter what).
_WAV = (
    b"RIFF"
    + (36 + 3200).to_bytes(4, "little")
    + b"WAVEfmt "
    + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little")
    + (1).to_bytes(2, "little")
    + (16000).to_bytes(4, "little")
    + (32000).to_bytes(4, "little")
    + (2).to_bytes(2, "little")
    + (16).to_bytes(2, "little")
    + b"data"
    + (3200).to_bytes(4, "little")
    + bytes(3200)
)
PREFIX = "/asr-conformance-canary/"


def is_loopback(url: str) -> bool:
    """True when the URL's host is this machine (127.0.0.0/8, ::1, localhost)."""
    return TargetInfo(name="", model_url=url).on_this_host


def _outbound_address(target_url: str) -> str:
    """The local address this host uses towards the target (no packet is sent: UDP connect)."""
    parts = urlsplit(target_url)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((parts.hostname or "127.0.0.1", parts.port or 80))
        return str(s.getsockname()[0])


class Canary:
    """A tiny HTTP server: ``GET {PREFIX}{token}.wav`` answers a WAV and counts the token's hits."""

    def __init__(self, bind: str = "127.0.0.1", advertise: str | None = None) -> None:
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                canary._record(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(_WAV)))
                self.end_headers()
                self.wfile.write(_WAV)

            do_POST = do_HEAD = do_GET

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: hits are counted, not logged."""

        self._server = ThreadingHTTPServer((bind, 0), Handler)
        self._server.daemon_threads = True
        host = advertise or bind
        self.base_url = f"http://{host}:{self._server.server_address[1]}{PREFIX}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="canary", daemon=True)
        self._thread.start()

    def _record(self, path: str) -> None:
        token = path.removeprefix(PREFIX).split("?", 1)[0].removesuffix(".wav")
        with self._lock:
            self._hits[token] += 1

    def url(self, token: str) -> str:
        return f"{self.base_url}{token}.wav"

    def hits(self, token: str) -> int:
        """How often ``token`` was fetched (any method)."""
        with self._lock:
            return self._hits[token]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start(target_url: str) -> Canary:
    """A canary the target can reach: loopback for a local target, else every interface."""
    if is_loopback(target_url):
        return Canary("127.0.0.1")
    return Canary("0.0.0.0", advertise=_outbound_address(target_url))


__all__ = ["PREFIX", "Canary", "is_loopback", "start"]
