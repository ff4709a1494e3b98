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
#: source sample rates outside this range are not audio a client means (a 1 Hz file upsampled to
#: 16 kHz costs 16,000x its size; rates near 2**31 overflow FFmpeg's resampler)
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 768_000
#: FFmpeg has downmix layouts up to 8 channels (7.1); more is refused rather than guessed
MAX_CHANNELS = 8
#: RIFF chunks a WAV may have before its data (real files have a handful; a body of empty chunks is a
#: stall, not audio)
MAX_WAV_CHUNKS = 256


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


def check_format(sample_rate: int, channels: int) -> None:
    """Refuse (:class:`AudioDecodeError`) a rate or channel count no decoder should spend work on."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioDecodeError(f"sample rate {sample_rate} Hz outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioDecodeError(f"{channels} channels (1-{MAX_CHANNELS} are decoded)")


def check_duration(frames: int, sample_rate: int, max_seconds: float) -> None:
    """Raise :class:`AudioTooLongError` when ``frames`` at ``sample_rate`` exceed ``max_seconds``:
    called with source frame counts, before any conversion or resampling is paid for."""
    if sample_rate > 0 and frames / sample_rate > max_seconds:
        raise AudioTooLongError(max_seconds)


__all__ = [
    "DECODE_TIME_BUDGET_S",
    "DEFAULT_MAX_SECONDS",
    "MAX_CHANNELS",
    "MAX_PACKETS",
    "MAX_SAMPLE_RATE",
    "MAX_WAV_CHUNKS",
    "MIN_SAMPLE_RATE",
    "AudioDecodeError",
    "AudioInfo",
    "AudioTooLongError",
    "check_duration",
    "check_format",
]
