"""Run profiles: how many cases of each kind a run makes, and how long the audio may be.

``quick`` is a smoke test (≤ 30 s), ``default`` the everyday run (≤ 3 min), ``thorough`` the nightly one.
Durations are bounded per profile because the target decodes every byte we send.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """Sizes of each phase, and the audio space the generator draws from."""

    name: str
    fuzz_examples: int  # hypothesis draws in the fuzz phase (``--max-examples`` overrides)
    max_duration_s: float  # longest audio a case may carry (coverage and fuzz)
    min_duration_s: float = 0.1
    coverage_rates: tuple[int, ...] = (8000, 16000, 44100, 48000)  # rates crossed with every codec
    all_codec_combinations: bool = False  # cross codecs x rates x channels x sample formats in coverage
    speech_cases: int = 2  # espeak-ng renders are the slowest audio: bounded
    shrink_attempts: int = 40  # extra requests spent shrinking one failure


PROFILES: dict[str, Profile] = {
    "quick": Profile(name="quick", fuzz_examples=60, max_duration_s=3.0, coverage_rates=(8000, 16000, 48000)),
    "default": Profile(name="default", fuzz_examples=400, max_duration_s=12.0, speech_cases=4),
    "thorough": Profile(
        name="thorough",
        fuzz_examples=3000,
        max_duration_s=60.0,
        coverage_rates=(8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000),
        all_codec_combinations=True,
        speech_cases=12,
        shrink_attempts=120,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


__all__ = ["PROFILES", "Profile", "get_profile"]
