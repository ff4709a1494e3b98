"""Running the front: in the current event loop (:func:`start_server`) or in a background thread
(:class:`MockServer`, what tests and the suite's in-process target use).

::

    with MockServer(MockConfig(token="t")) as mock:
        requests.post(mock.model_url(), data=flac_bytes, headers={"Authorization": "Bearer t"})
        assert mock.journal()[-1]["status"] == 200
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from asr_conformance.mock_server.config import DEFAULT_MODEL_ID, MockConfig
from asr_conformance.mock_server.engine import Engine
from asr_conformance.mock_server.front import create_app, front_state
from asr_conformance.mock_server.wire import scrub_logs, shape_parser_errors

T = TypeVar("T")

#: seconds in-flight requests get to finish when a server stops
SHUTDOWN_TIMEOUT_S = 10.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (10-20% more requests/s), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def default_engine(config: MockConfig) -> Engine:
    from asr_conformance.mock_server.mock_engine import MockEngine

    return MockEngine(config)


async def start_server(
    config: MockConfig,
    engine: Engine | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT_S,
) -> tuple[web.AppRunner, str]:
    """Start serving in the running loop; returns the runner (``await runner.cleanup()`` stops it) and
    the base URL. ``port=0`` picks a free port."""
    app = create_app(engine or default_engine(config), config)
    # handler_cancellation: a client that disconnects cancels its handler (fault sleeps, waits, engine
    # work queued for it) instead of holding a slot for nobody
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=shutdown_timeout,
        handle_signals=False,
        handler_cancellation=True,
    )
    await runner.setup()
    shape_parser_errors(runner)
    scrub_logs(config.token)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    bound_host, bound_port = sock.getsockname()[:2]
    url_host = f"[{bound_host}]" if family == socket.AF_INET6 else bound_host
    return runner, f"http://{url_host}:{bound_port}"


class MockServer:
    """A real server on 127.0.0.1 (free port) in a background thread; a context manager."""

    def __init__(self, config: MockConfig | None = None, engine: Engine | None = None) -> None:
        self.config = config or MockConfig()
        self._engine = engine
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # lifecycle ---------------------------------------------------------------------------------

    def start(self) -> MockServer:
        """Start the server thread and wait until it accepts connections."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._runner, self.url = loop.run_until_complete(start_server(self.config, self._engine))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

        self._thread = threading.Thread(target=run, name="asr-mock-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop gracefully: in-flight requests finish (up to SHUTDOWN_TIMEOUT_S), then the thread ends."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None
        self._loop = None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # helpers -----------------------------------------------------------------------------------

    def model_url(self, model_id: str | None = None, *, router: bool = False) -> str:
        """The model URL clients post to (``/hf-inference/models/...`` with ``router=True``)."""
        mid = model_id or self.config.model_id or DEFAULT_MODEL_ID
        prefix = "/hf-inference/models/" if router else "/models/"
        return f"{self.url}{prefix}{mid}"

    def _call(self, fn: Callable[[], T]) -> T:
        if self._loop is None or self._runner is None:
            raise RuntimeError("the mock server is not running")

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def _state(self) -> Any:
        assert self._runner is not None
        return front_state(self._runner.app)

    def journal(self) -> list[dict[str, Any]]:
        """The requests received so far, oldest first (as GET /__mock/requests shows them)."""
        return self._call(lambda: self._state().journal.entries())

    def clear_journal(self) -> None:
        self._call(lambda: self._state().journal.clear())

    def set_scenario(self, scenario: dict[str, Any] | None) -> None:
        """Install a fault scenario (see asr_conformance.mock_server.faults); None clears it. Raises
        FaultSpecError.
        """
        self._call(lambda: self._state().set_scenario(scenario))

    def reset(self) -> None:
        """Forget the journal, the cache and the scenario."""
        self._call(lambda: self._state().reset())


__all__ = ["MockServer", "default_engine", "new_event_loop", "start_server"]
