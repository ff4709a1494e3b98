"""SIGINT and SIGTERM during a run: stop sending, let what is in flight finish, write the reports.

The first signal sets the run's stop event (no new case is sent; requests in flight get the runner's
grace period) and the run ends "interrupted" with every report written and exit status 130. A second
signal, or one before the run has started, cancels the run at once (reports of what was judged are still
written, marked unfinished).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

import click

EXIT_INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(started: Callable[[], bool]) -> Iterator[asyncio.Event]:
    """Within a running event loop: the stop event the signals set (``started``: has the run begun?)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stop = asyncio.Event()

    def handle(name: str) -> None:
        if stop.is_set() or not started():
            click.echo(f"{name}: stopping now", err=True)
            if task is not None:
                task.cancel()
            return
        stop.set()
        click.echo(
            f"{name}: no new case is sent; finishing the requests in flight, then writing the reports "
            "(again to stop now)",
            err=True,
        )

    installed = []
    for sig in SIGNALS:
        try:
            loop.add_signal_handler(sig, handle, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    try:
        yield stop
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


__all__ = ["EXIT_INTERRUPTED", "stop_on_signals"]
