"""``asr-conformance compare`` and ``asr-conformance proxy``: thin shells over conformance.compare/.proxy."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

VIEWS = ("served", "documented")


@click.command()
@click.option(
    "--upstream", required=True, metavar="URL", help="Server to forward to; the client's path is appended."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8788, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option(
    "--strict", is_flag=True, help="Answer 502 with the violations as JSON instead of a violating answer."
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("asr-conformance-proxy.jsonl"),
    show_default=True,
    help="JSON Lines log, one record per exchange (appended).",
)
@click.option("--spec", "view", type=click.Choice(VIEWS), default="served", show_default=True)
@click.option(
    "--timeout", "timeout_s", type=float, default=300.0, show_default=True, help="Upstream timeout (s)."
)
def proxy(
    upstream: str, host: str, port: int, strict: bool, log_path: Path, view: str, timeout_s: float
) -> None:
    """Forward any client's traffic to UPSTREAM, validating every request and answer.

    Answers come back unchanged plus an ``x-asr-conformance-violations`` header ("0", or the count and
    the check ids); each exchange is logged to --log. With --strict a violating answer becomes a 502.
    """
    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.UsageError(f"--upstream must be an http(s):// URL, not {upstream!r}")
    from conformance.proxy import ProxyConfig, create_app

    config = ProxyConfig(upstream=upstream, strict=strict, log_path=log_path, view=view, timeout_s=timeout_s)
    try:
        asyncio.run(_serve(create_app(config), host, port, upstream, log_path, strict))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


async def _serve(app: object, host: str, port: int, upstream: str, log_path: Path, strict: bool) -> None:
    from aiohttp import web

    from conformance.transport import public_url

    assert isinstance(app, web.Application)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    mode = "strict: violating answers become 502" if strict else "report-only"
    click.echo(f"proxy listening on http://{host}:{bound} -> {public_url(upstream)} ({mode}; log {log_path})")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    click.echo("proxy stopped")


def _token(token_env: str | None) -> str | None:
    if token_env is None:
        return None
    value = os.environ.get(token_env)
    if not value:
        raise click.UsageError(f"--token-env {token_env}: the environment variable is not set or empty")
    return value


__all__ = ["proxy"]
