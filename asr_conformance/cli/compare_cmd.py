"""``asr-conformance compare`` and ``asr-conformance proxy``: thin shells over
asr_conformance.conformance.compare/.proxy.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from asr_conformance.cli.options import parse_headers, token_from_env

VIEWS = ("served", "documented")
#: print a progress line every this many cases
PROGRESS_EVERY = 25


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    metavar="TARGET",
    help="A model URL, 'mock' (in-process) or cassette:PATH; give two or more.",
)
@click.option(
    "--synthetic",
    multiple=True,
    metavar="TARGET",
    help="This --target is a mock reached by URL: its transcripts are synthetic, so no WER with it.",
)
@click.option(
    "--profile", type=click.Choice(["quick", "default", "thorough"]), default="quick", show_default=True
)
@click.option("--seed", type=int, help="Seed for generation (random and printed when not given).")
@click.option(
    "--max-examples", type=click.IntRange(min=0), help="Fuzz cases (the profile's count otherwise)."
)
@click.option(
    "--token-env", metavar="VAR", help="Environment variable holding the bearer token (all targets)."
)
@click.option(
    "-H", "--header", "headers", multiple=True, metavar="'Name: value'", help="Extra header (repeatable)."
)
@click.option("--spec", "view", type=click.Choice(VIEWS), default="served", show_default=True)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/compare"),
    show_default=True,
    help="Where compare.md, compare.html, compare.json and badges/ go.",
)
@click.option(
    "--record", type=click.Path(file_okay=False, path_type=Path), help="Record one cassette per target here."
)
@click.option(
    "--wer-threshold",
    type=click.FloatRange(0.0),
    default=0.5,
    show_default=True,
    help="Speech transcripts disagree above this word error rate.",
)
@click.option(
    "--max-requests", type=click.IntRange(min=1), help="Request budget per target (retries included)."
)
@click.option(
    "--max-body-bytes", type=click.IntRange(min=1), help="The targets' body limit (enables 413 checks)."
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=16, show_default=True, help="Requests in flight."
)
@click.option("--request-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True)
def compare(
    targets: tuple[str, ...],
    synthetic: tuple[str, ...],
    profile: str,
    seed: int | None,
    max_examples: int | None,
    token_env: str | None,
    headers: tuple[str, ...],
    view: str,
    report_dir: Path,
    record: Path | None,
    wer_threshold: float,
    max_requests: int | None,
    max_body_bytes: int | None,
    workers: int,
    request_timeout: float,
) -> None:
    """Send the same cases to every TARGET and report where they behave differently.

    Targets are compared case by case on status class, error shape, schema validity, presence of
    `chunks`, and transcript WER on speech cases (between real ASR engines only). Exit 0 when done, 2
    for usage errors or an unreachable target; disagreements are findings, not failures.
    """
    if len(targets) < 2:
        raise click.UsageError("compare needs at least two --target")
    unknown = [s for s in synthetic if s not in targets]
    if unknown:
        raise click.UsageError(f"--synthetic {unknown[0]!r} is not one of the --target values")
    from asr_conformance.conformance.engine.config import RunConfig

    token = token_from_env(token_env)
    config = RunConfig(
        target=None,
        token=token,
        token_env=token_env,
        headers=parse_headers(headers),
        profile=profile,
        seed=seed,
        max_examples=max_examples,
        spec_view=view,
        workers=workers,
        request_timeout=request_timeout,
        max_requests=max_requests,
        max_body_bytes=max_body_bytes,
        shrink=False,  # compare shows behaviour side by side; minimal examples are `run`'s job
    )
    sys.exit(asyncio.run(_compare(targets, config, report_dir, record, wer_threshold, synthetic)))


async def _compare(
    specs: tuple[str, ...],
    config: Any,
    report_dir: Path,
    record: Path | None,
    wer_threshold: float,
    synthetic: tuple[str, ...],
) -> int:
    from asr_conformance.conformance.compare.report import write
    from asr_conformance.conformance.compare.run import CompareUnreachable, run_compare
    from asr_conformance.conformance.targets.factory import TargetError

    recorders: dict[int, Any] = {}
    infos: list[Any] = []

    labels: list[str] = []

    def on_open(opened: Any) -> None:
        from asr_conformance.conformance.compare.result import labels_for

        infos.extend(t.info for t in opened)
        labels.extend(labels_for(infos))

    done = [0]

    def on_event(index: int, event: Any) -> None:
        from asr_conformance.conformance.model import CaseFinished, RunStarted

        if index == 0 and isinstance(event, CaseFinished):
            done[0] += 1
            if done[0] % PROGRESS_EVERY == 0:
                click.echo(f"  {done[0]} cases compared")
        if record is None:
            return
        if isinstance(event, RunStarted):
            from asr_conformance.conformance.record.cassette import CassetteRecorder

            recorders[index] = CassetteRecorder(
                record,
                event,
                target_info=infos[index],
                secrets=(config.token,) if config.token else (),
                name=labels[index],
            )
        recorders[index].handle(event)

    click.echo(f"compare: {len(specs)} targets, profile {config.profile}, spec view {config.spec_view}")
    try:
        result = await run_compare(
            specs,
            config,
            wer_threshold=wer_threshold,
            on_event=on_event,
            on_open=on_open,
            synthetic=synthetic,
        )
    except (TargetError, CompareUnreachable, OSError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    finally:
        for recorder in recorders.values():
            recorder.close()
    written = write(result, report_dir)
    click.echo(f"{result.cases} cases, seed {result.seed}")
    for label in result.labels:
        summary = result.targets[label]
        rate = "not judged" if summary.conformance is None else f"{summary.conformance * 100:.1f}% conformant"
        click.echo(f"  {label}: {rate}")
    for (a, b), stats in result.pairs.items():
        agreement = "—" if stats.agreement is None else f"{stats.agreement * 100:.1f}%"
        wer = f", mean WER {stats.mean_wer:.3f}" if stats.mean_wer is not None else ""
        click.echo(f"  {a} ↔ {b}: {agreement} of cases agree{wer}")
    _echo_behaviour(result)
    click.echo(f"{len(result.differences)} disagreements; report: {written['markdown']}, {written['html']}")
    if record is not None:
        for recorder in recorders.values():
            click.echo(f"recorded: {recorder.path}")
    return 0


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
    default=None,
    help="JSON Lines log, one record per exchange (appended); none unless given.",
)
@click.option("--spec", "view", type=click.Choice(VIEWS), default="served", show_default=True)
@click.option(
    "--timeout", "timeout_s", type=float, default=300.0, show_default=True, help="Upstream timeout (s)."
)
@click.option(
    "--read-timeout",
    "read_timeout_s",
    type=click.FloatRange(0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds a client gets to send its body; slower: 408.",
)
def proxy(
    upstream: str,
    host: str,
    port: int,
    strict: bool,
    log_path: Path | None,
    view: str,
    timeout_s: float,
    read_timeout_s: float,
) -> None:
    """Forward any client's traffic to UPSTREAM, validating every request and answer.

    Answers come back unchanged plus an ``x-asr-conformance-violations`` header ("0", or the count and
    the check ids); each exchange is logged to --log. With --strict a violating answer becomes a 502.
    """
    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.UsageError(f"--upstream must be an http(s):// URL, not {upstream!r}")
    from asr_conformance.conformance.record.proxy import ProxyConfig, create_app

    config = ProxyConfig(
        upstream=upstream,
        strict=strict,
        log_path=log_path,
        view=view,
        timeout_s=timeout_s,
        read_timeout_s=read_timeout_s,
    )
    try:
        asyncio.run(_serve(create_app(config), host, port, upstream, log_path, strict))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


async def _serve(
    app: object, host: str, port: int, upstream: str, log_path: Path | None, strict: bool
) -> None:
    from aiohttp import web

    from asr_conformance.conformance.targets.http import public_url

    assert isinstance(app, web.Application)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    mode = "strict: violating answers become 502" if strict else "report-only"
    mode += f"; log {log_path or 'off'}"
    click.echo(f"proxy listening on http://{host}:{bound} -> {public_url(upstream)} ({mode})")
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


def _echo_behaviour(result: Any) -> None:
    """One line per target on the known speech, then the variants on which targets diverge."""
    if result.behaviour is None:
        return
    for label, target in result.behaviour.targets.items():
        clean = target.wers.get("clean")
        heard = "no transcript" if clean is None else f"{clean:.3f}"
        shown = f"not judged ({target.not_judged})" if target.not_judged else f"clean WER {heard}"
        click.echo(f"  behaviour {label}: {shown}")
    for divergence in result.behaviour.divergences:
        click.echo(f"  behaviour diverges on {divergence.variant}: {divergence.note}")


__all__ = ["compare", "proxy"]
