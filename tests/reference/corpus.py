"""A speech corpus synthesised with espeak-ng at test time, cached across processes.

Several voices and speaking rates, several containers and sample rates, one clip over 30 s (long-form
decoding). The reference transcript of each clip is the text espeak-ng spoke. Clips are built once per
recipe into ``$ASR_CONFORMANCE_CACHE/corpus/<key>`` under a file lock (xdist-safe), encoded with the
shared audio module (PyAV), so no ffmpeg binary is needed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from asr_conformance.mock_server.audio import decode, encode
from asr_conformance.reference.model_cache import build_once, cache_root


@dataclass(frozen=True)
class ClipRecipe:
    id: str
    text: str
    voice: str
    speed: int  # words per minute
    codec: str  # as mock_server.audio.encode takes it
    sample_rate: int
    channels: int = 1


@dataclass(frozen=True)
class Clip:
    recipe: ClipRecipe
    path: Path
    duration_s: float

    @property
    def id(self) -> str:
        return self.recipe.id

    @property
    def text(self) -> str:
        return self.recipe.text

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


_LONG_TEXT = (
    "Good morning everyone, and thank you for coming to the meeting today. "
    "First we will look at the plans for the new library in the middle of the town. "
    "The building will have three floors, a large reading room and a small garden on the roof. "
    "Work should start in the spring and finish before the end of next year. "
    "After that we will talk about the bus service, because many people have asked for more buses "
    "in the evening and on the weekend. "
    "Finally there will be time for your questions, so please write them down as we go along."
)

RECIPES: tuple[ClipRecipe, ...] = (
    ClipRecipe(
        "s01",
        "The weather is nice today, so we will walk to the park after lunch.",
        "en-us",
        160,
        "wav",
        16000,
    ),
    ClipRecipe("s02", "Please send me the report before the end of the week.", "en-gb", 150, "flac", 22050),
    ClipRecipe(
        "s03",
        "My brother bought a new car last month and he drives it every day.",
        "en-us+m3",
        170,
        "mp3",
        44100,
    ),
    ClipRecipe(
        "s04",
        "The children were playing football in the garden until it started to rain.",
        "en+f3",
        150,
        "ogg",
        24000,
    ),
    ClipRecipe(
        "s05",
        "We need more time to finish the project, but the team is working hard.",
        "en-us",
        190,
        "opus",
        48000,
    ),
    ClipRecipe(
        "s06",
        "She opened the window and listened to the birds singing in the trees.",
        "en-gb+f2",
        140,
        "m4a",
        32000,
    ),
    ClipRecipe(
        "s07",
        "The train to the city leaves from the second platform every hour.",
        "en-us+m2",
        165,
        "wav",
        8000,
    ),
    ClipRecipe(
        "s08", "I would like a cup of coffee with milk and no sugar, please.", "en-gb", 175, "wav", 44100, 2
    ),
    ClipRecipe(
        "s09",
        "The doctor told him to drink more water and to sleep for eight hours.",
        "en-us+f4",
        155,
        "flac",
        16000,
    ),
    ClipRecipe(
        "s10", "Our house is at the end of the street, next to the old church.", "en", 180, "mp3", 16000
    ),
    ClipRecipe(
        "s11", "Can you tell me how to get to the nearest station from here?", "en-us", 145, "webm", 48000
    ),
    ClipRecipe(
        "s12",
        "The music was so loud that nobody could hear what the teacher said.",
        "en-gb+m4",
        170,
        "ogg",
        44100,
    ),
    ClipRecipe("long", _LONG_TEXT, "en-us", 150, "flac", 16000),
)


def _key(recipes: tuple[ClipRecipe, ...]) -> str:
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    blob = json.dumps([asdict(r) for r in recipes], sort_keys=True) + version
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _synthesise(recipe: ClipRecipe, out_dir: Path) -> None:
    raw = out_dir / f"{recipe.id}.espeak.wav"
    subprocess.run(
        ["espeak-ng", "-v", recipe.voice, "-s", str(recipe.speed), "-w", str(raw), recipe.text],
        check=True,
        capture_output=True,
    )
    mono = decode(raw.read_bytes(), target_rate=recipe.sample_rate).samples
    frames = mono[:, None].repeat(recipe.channels, axis=1)
    (out_dir / f"{recipe.id}.{recipe.codec}").write_bytes(encode(frames, recipe.sample_rate, recipe.codec))
    raw.unlink()


def _build(out_dir: Path, recipes: tuple[ClipRecipe, ...]) -> None:
    out_dir.mkdir(parents=True)
    for recipe in recipes:
        _synthesise(recipe, out_dir)


def build_corpus(recipes: tuple[ClipRecipe, ...] = RECIPES) -> list[Clip]:
    """Synthesise (once per machine and recipe set) and return the clips in recipe order."""
    if shutil.which("espeak-ng") is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    folder = build_once(cache_root() / "corpus" / _key(recipes), lambda tmp: _build(tmp, recipes))
    clips = []
    for recipe in recipes:
        path = folder / f"{recipe.id}.{recipe.codec}"
        clips.append(Clip(recipe, path, decode(path.read_bytes()).duration_s))
    return clips


__all__ = ["RECIPES", "Clip", "ClipRecipe", "build_corpus"]
