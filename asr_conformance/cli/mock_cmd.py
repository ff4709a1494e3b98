"""``asr-conformance mock``: serve the mock (or list its violations). A thin shell over mock_server."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
from pathlib import Path
from typing import Any

import click

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _print_violations() -> None:
    from asr_conformance.mock_server.engine_violations import ENGINE_VIOLATIONS
    from asr_conformance.mock_server.violations import VIOLATIONS

    width = max(map(len, [*VIOLATIONS, *ENGINE_VIOLATIONS]))
    for name, line in {**VIOLATIONS, **ENGINE_VIOLATIONS}.items():
        click.echo(f"{name:<{width}}  {line}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0: a free port."
)
@click.option("--model-id", default=None, metavar="ID", help="Serve only this model id (others get 404).")
@click.option("--token", default=None, envvar="ASR_MOCK_TOKEN", help="Require 'Authorization: Bearer T'.")
@click.option("--loading-seconds", type=click.FloatRange(0), default=0.0, help="503 'loading' this long.")
@click.option(
    "--max-wait", type=click.FloatRange(0), default=30.0, show_default=True, help="x-wait-for-model cap."
)
@click.option("--max-body-bytes", type=click.IntRange(1), default=None, help="Bodies above get 413 [32 MiB].")
@click.option(
    "--max-audio-seconds",
    type=click.FloatRange(0, min_open=True),
    default=600.0,
    help="Longer audio: 413 [600].",
)
@click.option("--max-concurrency", type=click.IntRange(1), default=256, help="More in flight: 503 [256].")
@click.option(
    "--read-timeout",
    type=click.FloatRange(0, min_open=True),
    default=60.0,
    help="Seconds a client gets to send its body; slower: 408 [60].",
)
@click.option("--seed", type=int, default=0, help="Seeds transcripts and scenarios [0].")
@click.option("--fixtures", type=FILE, help="Recorded answers by audio sha256.")
@click.option("--scenario", type=FILE, help="Fault scenario (JSON).")
@click.option(
    "--spec",
    "spec_view",
    type=click.Choice(["served", "documented"]),
    default="served",
    help="Spec view [served].",
)
@click.option(
    "--violate", multiple=True, metavar="NAME", help="Break one documented behaviour; 'list' lists them."
)
def mock(
    host: str,
    port: int,
    model_id: str | None,
    token: str | None,
    loading_seconds: float,
    max_wait: float,
    max_body_bytes: int | None,
    max_audio_seconds: float,
    max_concurrency: int,
    read_timeout: float,
    seed: int,
    fixtures: Path | None,
    scenario: Path | None,
    spec_view: str,
    violate: tuple[str, ...],
) -> None:
    """Serve a deterministic emulation of the HF Inference API automatic-speech-recognition task."""
    if "list" in violate:
        _print_violations()
        return
    from asr_conformance.mock_server.config import DEFAULT_MAX_BODY_BYTES, DEFAULT_MODEL_ID, MockConfig
    from asr_conformance.mock_server.engine_violations import ENGINE_VIOLATIONS, wrap
    from asr_conformance.mock_server.faults import FaultSpecError, Scenario
    from asr_conformance.mock_server.mock_engine import MockEngine

    hearing = tuple(v for v in violate if v in ENGINE_VIOLATIONS)  # switches of the engine wrapper
    violate = tuple(v for v in violate if v not in ENGINE_VIOLATIONS)

    scenario_data: dict[str, Any] | None = None
    if scenario is not None:
        try:
            scenario_data = json.loads(scenario.read_text())
            Scenario(scenario_data, seed)
        except (ValueError, FaultSpecError) as exc:
            raise click.BadParameter(str(exc), param_hint="--scenario") from exc
    try:
        config = MockConfig(
            model_id=model_id,
            token=token,
            loading_seconds=loading_seconds,
            max_wait=max_wait,
            max_body_bytes=max_body_bytes or DEFAULT_MAX_BODY_BYTES,
            max_audio_seconds=max_audio_seconds,
            max_concurrency=max_concurrency,
            read_timeout=read_timeout,
            seed=seed,
            fixtures=fixtures,
            scenario=scenario_data,
            spec_view=spec_view,  # type: ignore[arg-type]
            violate=violate,
        )
        engine = wrap(MockEngine(config), hearing)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    from asr_conformance.mock_server.server import new_event_loop

    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(_serve(config, engine, host, port, model_id or DEFAULT_MODEL_ID))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


async def _serve(config: Any, engine: Any, host: str, port: int, model_id: str) -> None:
    from asr_conformance.mock_server.server import start_server

    runner, url = await start_server(config, engine, host=host, port=port)
    # everything loaded so far lives as long as the process: keep it out of the collector's full passes
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    extras = [f"violating {', '.join(config.violate)}"] if config.violate else []
    if config.token:
        extras.append("token required")  # never the token itself
    click.echo(
        f"mock serving {url}/models/{model_id}" + (f" ({'; '.join(extras)})" if extras else ""), err=True
    )
    try:
        await stop.wait()
    finally:
        click.echo("stopping: letting requests in flight finish", err=True)
        await runner.cleanup()
