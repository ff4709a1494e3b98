"""Known speech: sentences with their texts, and layouts whose timing is known.

The packaged corpus (``corpus/*.flac`` with ``corpus/texts.json``, 16 kHz mono, rendered once by
:func:`render_packaged` with espeak-ng) gives every user the same clips, with or without espeak-ng.
:func:`espeak_sentence` renders more voices and speeds when espeak-ng is installed. Layouts put
sentences between pauses of known length, so sentence onsets and pauses are known to the sample.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import soundfile

RATE = 16000
#: the packaged sentences: common words (a weak model gets them), distinct (no sentence is a sub-phrase
#: of another), 2.5-4 s each at espeak-ng's default speed
SENTENCES: tuple[str, ...] = (
    "The weather is nice today, so we will walk to the park after lunch.",
    "Please send me the report before the end of the week.",
    "My brother bought a new car last month and he drives it every day.",
    "The children were playing football in the garden until it started to rain.",
    "She opened the window and listened to the birds singing in the trees.",
    "The train to the city leaves from the second platform every hour.",
    "I would like a cup of coffee with milk and no sugar, please.",
    "Our house is at the end of the street, next to the old church.",
)
#: voice and words per minute of each packaged sentence
VOICES: tuple[tuple[str, int], ...] = (
    ("en-us", 165),
    ("en-gb", 160),
    ("en-us+m3", 170),
    ("en+f3", 155),
    ("en-gb+f2", 150),
    ("en-us+m2", 165),
    ("en-gb", 175),
    ("en-us+f4", 160),
)
PACKAGE = "asr_conformance.conformance.behaviour"


@dataclass(frozen=True)
class Clip:
    """Mono float32 speech at :data:`RATE` and what was said."""

    id: str
    text: str
    samples: np.ndarray

    @property
    def duration_s(self) -> float:
        return len(self.samples) / RATE


@dataclass(frozen=True)
class Layout:
    """Sentences between pauses: onsets and ends of every sentence, in seconds."""

    id: str
    samples: np.ndarray
    texts: tuple[str, ...]
    spans: tuple[tuple[float, float], ...]  # (start, end) of each sentence's sound

    @property
    def duration_s(self) -> float:
        return len(self.samples) / RATE

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    def pauses(self) -> list[tuple[float, float]]:
        """The silences between sentences (not the lead-in or the tail)."""
        return [(a[1], b[0]) for a, b in zip(self.spans, self.spans[1:], strict=False)]


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


@functools.lru_cache(maxsize=64)
def espeak_sentence(text: str, voice: str = "en-us", wpm: int = 165) -> np.ndarray:
    """espeak-ng's rendering of ``text`` as float32 mono at :data:`RATE`, trimmed of edge silence."""
    from asr_conformance.mock_server.audio import decode

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt install espeak-ng)")
    # a file, not --stdout: the streamed WAV header carries a placeholder length
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            [exe, "-v", voice, "-s", str(wpm), "-w", str(out), text],
            capture_output=True,
            check=True,
            timeout=60,
        )
        wav = out.read_bytes()
    return trim(decode(wav, target_rate=RATE).samples)


def trim(samples: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    """Cut leading and trailing near-silence, so that a sentence's span is its sound."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if len(loud) == 0:
        return samples[:0]
    return np.ascontiguousarray(samples[loud[0] : loud[-1] + 1], dtype=np.float32)


def _corpus_dir() -> Path:
    return Path(str(resources.files(PACKAGE) / "corpus"))


@functools.lru_cache(maxsize=1)
def packaged() -> tuple[Clip, ...]:
    """The shipped clips, in :data:`SENTENCES` order."""
    folder = _corpus_dir()
    texts = json.loads((folder / "texts.json").read_text())
    clips = []
    for entry in texts["clips"]:
        data, rate = soundfile.read(folder / entry["file"], dtype="float32")
        if rate != RATE:
            raise ValueError(f"{entry['file']}: {rate} Hz, expected {RATE}")
        clips.append(Clip(entry["id"], entry["text"], np.asarray(data, dtype=np.float32)))
    return tuple(clips)


def render_packaged(folder: Path | None = None) -> Path:
    """(Re)build the packaged corpus with espeak-ng: one 16 kHz mono FLAC per sentence, and texts.json."""
    folder = folder or _corpus_dir()
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, (text, (voice, wpm)) in enumerate(zip(SENTENCES, VOICES, strict=True)):
        name = f"s{index + 1:02d}"
        buffer = io.BytesIO()
        soundfile.write(buffer, espeak_sentence(text, voice, wpm), RATE, format="FLAC", subtype="PCM_16")
        (folder / f"{name}.flac").write_bytes(buffer.getvalue())
        entries.append({"id": name, "file": f"{name}.flac", "text": text, "voice": voice, "wpm": wpm})
    blob = {"rate": RATE, "source": "espeak-ng, trimmed, PCM_16", "clips": entries}
    (folder / "texts.json").write_text(json.dumps(blob, indent=1) + "\n")
    return folder


def layout(layout_id: str, clips: tuple[Clip, ...], pause_s: float, lead_s: float = 0.5) -> Layout:
    """``clips`` one after another, ``lead_s`` of silence first and last, ``pause_s`` between."""
    gap = np.zeros(round(pause_s * RATE), dtype=np.float32)
    edge = np.zeros(round(lead_s * RATE), dtype=np.float32)
    parts: list[np.ndarray] = [edge]
    spans = []
    cursor = len(edge)
    for index, clip in enumerate(clips):
        if index:
            parts.append(gap)
            cursor += len(gap)
        spans.append((cursor / RATE, (cursor + len(clip.samples)) / RATE))
        parts.append(clip.samples)
        cursor += len(clip.samples)
    parts.append(edge)
    return Layout(layout_id, np.concatenate(parts), tuple(c.text for c in clips), tuple(spans))


def pauses_layout(clips: tuple[Clip, ...] | None = None) -> Layout:
    """Three sentences separated by 2 s pauses (about 14 s): timestamps must avoid the pauses."""
    chosen = (clips or packaged())[:3]
    return layout("pauses", chosen, pause_s=2.0)


def long_layout(clips: tuple[Clip, ...] | None = None) -> Layout:
    """Every packaged sentence with 3 s pauses (45-60 s): the last ones start well past 30 s."""
    return layout("long", clips or packaged(), pause_s=3.0)


__all__ = [
    "RATE",
    "SENTENCES",
    "Clip",
    "Layout",
    "espeak_available",
    "espeak_sentence",
    "layout",
    "long_layout",
    "packaged",
    "pauses_layout",
    "render_packaged",
    "trim",
]
