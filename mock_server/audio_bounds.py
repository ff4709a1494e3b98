"""What the audio decoders report and refuse, and the bounds they check before spending work or memory.

The errors live here (below every decoder) so that the WAV reader, the FFmpeg decoder and the facade
:mod:`asr_conformance.mock_server.audio` raise the same types.
"""

from __future__ import annotations

from dataclasses import dataclass

#: default bound on the decoded length (seconds of audio); callers pass their own limit
DEFAULT_MAX_SECONDS = 3600.0
#: wall-clock budget for one decode: a body that takes longer is treated as undecodable
DECODE_TIME_BUDGET_S = 30.0
#: bound on demuxed packets (a flood of tiny or empty packets is garbage, not audio)
MAX_PACKETS = 2_000_000


class AudioDecodeError(ValueError):
    """The bytes are not decodable audio (undecodable, empty, or without an audio stream)."""


class AudioTooLongError(AudioDecodeError):
    """The audio decodes to more than the allowed number of seconds."""

    def __init__(self, max_seconds: float) -> None:
        super().__init__(f"audio longer than {max_seconds:g} s")
        self.max_seconds = max_seconds


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, before any resampling."""

    duration_s: float
    sample_rate: int
    channels: int
    format: str  # container short name: wav, flac, ogg, mp3, webm, mp4, ...
    codec: str = ""  # codec name as FFmpeg reports it: pcm_s16le, flac, vorbis, opus, mp3, aac, ...


__all__ = [
    "DECODE_TIME_BUDGET_S",
    "DEFAULT_MAX_SECONDS",
    "MAX_PACKETS",
    "AudioDecodeError",
    "AudioInfo",
    "AudioTooLongError",
]
