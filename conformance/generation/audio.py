"""Render :class:`~asr_conformance.conformance.cases.AudioRecipe` values to file bytes, deterministically.

Signals come from numpy (silence, tone, noise seeded by the recipe) or espeak-ng (speech), are cut or
padded to exactly the recipe's duration, and are encoded by the shared
``asr_conformance.mock_server.audio.encode``. The
true duration is therefore the recipe's; lossy codecs add encoder delay and padding, which the
tolerance returned by :func:`duration_tolerance` covers.
"""

from __future__ import annotations

import functools
import hashlib
import io
import shutil
import subprocess

import numpy as np
import soundfile
from asr_conformance.conformance.cases import AudioRecipe
from asr_conformance.mock_server.audio import encode

CODECS: tuple[str, ...] = ("wav", "flac", "ogg", "opus", "mp3", "webm", "m4a")
#: rates each codec stores as is (others are resampled by the encoder, which changes what we claim)
CODEC_RATES: dict[str, tuple[int, ...]] = {
    "wav": (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000),
    "flac": (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000),
    "ogg": (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000),
    "opus": (8000, 12000, 16000, 24000, 48000),
    "webm": (8000, 12000, 16000, 24000, 48000),
    "mp3": (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
    "m4a": (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
}
#: sample formats each codec stores (lossy codecs store their own; we render those from s16)
CODEC_FORMATS: dict[str, tuple[str, ...]] = {
    "wav": ("s16", "s24", "flt"),
    "flac": ("s16", "s24"),
    "ogg": ("s16",),
    "opus": ("s16",),
    "webm": ("s16",),
    "mp3": ("s16",),
    "m4a": ("s16",),
}
MIME: dict[str, str] = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "webm": "audio/webm",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
}
#: short sentences for speech recipes (espeak-ng voices them; no external data)
SENTENCES: tuple[str, ...] = (
    "a man said to the universe sir i exist",
    "the quick brown fox jumps over the lazy dog",
    "please call stella and ask her to bring these things",
    "testing one two three",
    "the birch canoe slid on the smooth planks",
    "open the window and let the fresh air in",
)


def duration_tolerance(codec: str) -> float:
    """Allowed gap between decoded and true duration: lossy codecs pad and delay (≥ 60 ms)."""
    return {"wav": 0.01, "flac": 0.01, "ogg": 0.05}.get(codec, 0.1)


def valid_recipe(recipe: AudioRecipe) -> bool:
    """True when the codec stores this rate and sample format as they are."""
    return (
        recipe.codec in CODECS
        and recipe.sample_rate in CODEC_RATES[recipe.codec]
        and recipe.sample_format in CODEC_FORMATS[recipe.codec]
        and recipe.channels in (1, 2)
        and recipe.duration_s > 0
    )


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


@functools.lru_cache(maxsize=32)
def _speech(text: str) -> tuple[np.ndarray, int]:
    """espeak-ng's rendering of ``text`` as float32 mono, with its native rate (deterministic)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed; speech recipes need it (apt install espeak-ng)")
    wav = subprocess.run(
        [exe, "-v", "en-us", "-s", "165", "--stdout", text], capture_output=True, check=True, timeout=30
    ).stdout
    data, rate = soundfile.read(io.BytesIO(wav), dtype="float32", always_2d=False)
    return np.asarray(data, dtype=np.float32), int(rate)


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst or len(x) == 0:
        return x
    n = max(1, round(len(x) * dst / src))
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)


def speech_voice(recipe: AudioRecipe) -> tuple[np.ndarray, int]:
    """espeak-ng's voicing of a speech recipe's sentence (float32 mono, 16-bit values) and its rate."""
    return _speech(recipe.text or SENTENCES[recipe.seed % len(SENTENCES)])


def synthesize(recipe: AudioRecipe, voice: tuple[np.ndarray, int] | None = None) -> np.ndarray:
    """The recipe's signal as ``(frames, channels)`` float32, exactly ``duration_s`` long; ``voice``: the
    sentence's voicing as :func:`speech_voice` gives it (a cassette keeps it: no espeak-ng on replay)."""
    frames = max(1, round(recipe.duration_s * recipe.sample_rate))
    seed = int.from_bytes(hashlib.sha256(f"{recipe.seed}:{recipe.kind}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    # float32 throughout: synthesis runs once per case, at hundreds of cases per second.
    if recipe.kind == "silence":
        mono = np.zeros(frames, dtype=np.float32)
    elif recipe.kind == "tone":
        freq = float(rng.uniform(180.0, min(2000.0, recipe.sample_rate / 4)))
        step = np.float32(2 * np.pi * freq / recipe.sample_rate)
        mono = np.sin(np.arange(frames, dtype=np.float32) * step) * np.float32(0.3)
    elif recipe.kind == "noise":
        mono = rng.standard_normal(frames, dtype=np.float32) * np.float32(0.1)
    elif recipe.kind == "bursts":
        # Half-second noise bursts between half-second pauses: speech-like phrasing, several segments.
        on = (np.arange(frames) % recipe.sample_rate) < recipe.sample_rate // 2
        mono = rng.standard_normal(frames, dtype=np.float32) * np.float32(0.1) * on
    elif recipe.kind == "speech":
        samples, rate = voice or speech_voice(recipe)
        voice_at_rate = _resample(samples, rate, recipe.sample_rate)
        mono = np.zeros(frames, dtype=np.float32)
        mono[: min(frames, len(voice_at_rate))] = voice_at_rate[:frames]
    else:
        raise ValueError(f"unknown audio kind {recipe.kind!r}")
    if recipe.channels == 1:
        return mono[:, None]
    # The second channel is slightly attenuated so a downmix differs from either channel.
    return np.stack([mono, np.float32(0.8) * mono], axis=1)


def cheap(recipe: AudioRecipe | None) -> bool:
    """True when rendering costs next to nothing: no audio, lossless and short, or already rendered."""
    if recipe is None:
        return True
    lossless = recipe.codec in ("wav", "flac") and recipe.kind != "speech" and recipe.duration_s <= 1.5
    return lossless or _RENDERED.get(recipe) is not None


_RENDERED: dict[AudioRecipe, bool] = {}


@functools.lru_cache(maxsize=4096)
def render(recipe: AudioRecipe) -> bytes:
    """The recipe as file bytes (cached: the same recipe renders to the same bytes)."""
    if not valid_recipe(recipe):
        raise ValueError(f"{recipe.codec} cannot store {recipe.describe()}")
    data = encode(synthesize(recipe), recipe.sample_rate, recipe.codec, recipe.sample_format)
    _RENDERED[recipe] = True
    return data


def render_voiced(recipe: AudioRecipe, voice: tuple[np.ndarray, int]) -> bytes:
    """:func:`render` of a speech recipe from a recorded ``voice`` instead of espeak-ng (not cached)."""
    return encode(synthesize(recipe, voice), recipe.sample_rate, recipe.codec, recipe.sample_format)


__all__ = [
    "CODECS",
    "CODEC_FORMATS",
    "CODEC_RATES",
    "MIME",
    "SENTENCES",
    "cheap",
    "duration_tolerance",
    "espeak_available",
    "render",
    "render_voiced",
    "speech_voice",
    "synthesize",
    "valid_recipe",
]
