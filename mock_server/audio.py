"""Audio in and out: decode request bodies for the engines, probe them, encode test audio.

Shared by the HTTP front, both engines and the conformance suite. This module is the public face; the
work is split along its concepts:

* :mod:`~asr_conformance.mock_server.audio_wav`: the PCM/float WAV fast path (numpy only);
* :mod:`~asr_conformance.mock_server.audio_ffmpeg`: everything else through PyAV (FFmpeg), and the
  resampler both paths share;
* :mod:`~asr_conformance.mock_server.audio_encode`: deterministic encoding of test audio;
* :mod:`~asr_conformance.mock_server.audio_bounds`: the errors, and the bounds checked before work.

:func:`decode` turns any supported file (wav, flac, ogg/vorbis, opus, mp3, webm, m4a, ...) into mono
float32 at a target rate, as :class:`~asr_conformance.mock_server.engine.DecodedAudio`. Anything
undecodable, empty or without an audio stream raises :class:`AudioDecodeError`; the work is bounded
(decoded length, packets, wall time) so garbage never hangs a worker. :func:`probe` reports duration,
rate, channels and container without resampling. :func:`encode` renders ``(frames, channels)`` float32
to file bytes.

Lossy codecs shift and pad: mp3 adds about 50 ms (encoder delay + frame padding), opus 6.5 ms pre-skip
plus up to a 20 ms frame, aac about 21-46 ms (priming + frame padding). Decoded durations of lossy files
therefore differ from the source by up to a few tens of milliseconds; see ``docs/mock.md``.
"""

from __future__ import annotations

import hashlib

from asr_conformance.mock_server.audio_bounds import (
    DEFAULT_MAX_SECONDS,
    AudioDecodeError,
    AudioInfo,
    AudioTooLongError,
    check_duration,
)
from asr_conformance.mock_server.audio_encode import CODECS, SAMPLE_FORMATS, encode, fix_ogg_serials
from asr_conformance.mock_server.audio_ffmpeg import decode_ffmpeg, layout_for, probe_ffmpeg, resample
from asr_conformance.mock_server.audio_wav import cheap_to_decode, parse_wav
from asr_conformance.mock_server.engine import DecodedAudio


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(
    data: bytes,
    *,
    target_rate: int = 16000,
    sha256: str | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
) -> DecodedAudio:
    """Decode a whole audio file to mono float32 at ``target_rate``.

    ``sha256`` is the hex digest of ``data`` if the caller already has it. ``max_seconds`` bounds the
    decoded length (:class:`AudioTooLongError`); None means :data:`DEFAULT_MAX_SECONDS`.
    Raises :class:`AudioDecodeError` for anything that is not decodable audio.
    """
    if not data:
        raise AudioDecodeError("empty body")
    limit = DEFAULT_MAX_SECONDS if max_seconds is None else max_seconds
    digest = sha256 or _sha256(data)
    try:
        return _decode(data, target_rate, digest, limit)
    except (AudioDecodeError, MemoryError):
        raise
    except Exception as exc:  # any decoder failure on these bytes is the bytes' fault: a 400, never a 500
        raise AudioDecodeError(f"undecodable audio: {type(exc).__name__}: {exc}") from exc


def _decode(data: bytes, target_rate: int, digest: str, limit: float) -> DecodedAudio:
    wav = parse_wav(data, limit)
    if wav is None:
        return decode_ffmpeg(data, target_rate, digest, limit)
    if wav.samples.shape[0] == 0:
        raise AudioDecodeError("WAV without samples")
    check_duration(wav.samples.shape[0], wav.sample_rate, limit)
    if wav.channels == 1 and wav.sample_rate == target_rate:
        mono = wav.samples.reshape(-1)
    else:
        mono = resample([wav.samples], wav.sample_rate, layout_for(wav.channels), target_rate)
    return DecodedAudio(
        samples=mono,
        sample_rate=target_rate,
        source_sample_rate=wav.sample_rate,
        source_channels=wav.channels,
        source_format="wav",
        sha256=digest,
    )


def probe(data: bytes) -> AudioInfo:
    """Duration, rate, channels and container of an audio file (decoded, so durations are exact)."""
    if not data:
        raise AudioDecodeError("empty body")
    try:
        wav = parse_wav(data)
        if wav is None:
            return probe_ffmpeg(data)
    except (AudioDecodeError, MemoryError):
        raise
    except Exception as exc:  # as in decode: the bytes' fault
        raise AudioDecodeError(f"undecodable audio: {type(exc).__name__}: {exc}") from exc
    frames = wav.samples.shape[0]
    if frames == 0:
        raise AudioDecodeError("WAV without samples")
    return AudioInfo(frames / wav.sample_rate, wav.sample_rate, wav.channels, "wav", wav.codec)


__all__ = [
    "CODECS",
    "DEFAULT_MAX_SECONDS",
    "SAMPLE_FORMATS",
    "AudioDecodeError",
    "AudioInfo",
    "AudioTooLongError",
    "cheap_to_decode",
    "decode",
    "encode",
    "fix_ogg_serials",
    "probe",
]
