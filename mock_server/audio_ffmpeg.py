"""Decoding through PyAV (FFmpeg): every container and codec that is not the WAV fast path, and the
resampler both paths share (``av.AudioResampler(format="flt", layout="mono")``).

PyAV (~20 MB resident) is imported where used: a server that only ever sees WAV never loads FFmpeg.
"""

from __future__ import annotations

import io
import struct
import time
from typing import TYPE_CHECKING

import numpy as np
from asr_conformance.mock_server.audio_bounds import (
    DECODE_TIME_BUDGET_S,
    MAX_PACKETS,
    AudioDecodeError,
    AudioInfo,
    AudioTooLongError,
    check_duration,
    check_format,
)
from asr_conformance.mock_server.engine import DecodedAudio

if TYPE_CHECKING:
    import av

# FFmpeg demuxer names -> the short names reported in ``format``
_CONTAINER_NAMES = {"matroska,webm": "webm", "mov,mp4,m4a,3gp,3g2,mj2": "mp4"}


def resample(frames: list[np.ndarray], rate: int, layout: str, target_rate: int) -> np.ndarray:
    """Downmix and resample packed float32 ``(n, channels)`` blocks through FFmpeg's resampler."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=target_rate)
    out: list[np.ndarray] = []
    for block in frames:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block.reshape(1, -1)), format="flt", layout=layout
        )
        frame.sample_rate = rate
        out.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    out.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def layout_for(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def _open(data: bytes) -> av.container.InputContainer:
    import av

    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, UnicodeDecodeError, OSError, IndexError) as exc:
        raise AudioDecodeError(f"not a readable audio file: {exc}") from exc


def _audio_stream(container: av.container.InputContainer) -> av.AudioStream:
    if not container.streams.audio:
        raise AudioDecodeError("no audio stream")
    return container.streams.audio[0]


def _container_name(container: av.container.InputContainer) -> str:
    name = container.format.name
    return _CONTAINER_NAMES.get(name, name.split(",")[0])


def decode_ffmpeg(data: bytes, target_rate: int, digest: str, max_seconds: float) -> DecodedAudio:
    import av

    deadline = time.monotonic() + DECODE_TIME_BUDGET_S
    max_samples = int(max_seconds * target_rate) + target_rate  # slack for resampler tails
    with _open(data) as container:
        stream = _audio_stream(container)
        ctx = stream.codec_context
        source_rate = ctx.sample_rate or 0
        source_channels = ctx.channels or 0
        resampler = av.AudioResampler(format="flt", layout="mono", rate=target_rate)
        out: list[np.ndarray] = []
        total = 0
        source_frames = 0
        try:
            for index, packet in enumerate(container.demux(stream)):
                if index > MAX_PACKETS or time.monotonic() > deadline:
                    raise AudioDecodeError("decoding took too long")
                for frame in packet.decode():
                    source_rate = frame.sample_rate or source_rate
                    source_channels = frame.layout.nb_channels or source_channels
                    # judged on the source frame, before the resampler multiplies it
                    check_format(source_rate, source_channels)
                    source_frames += frame.samples
                    check_duration(source_frames, source_rate, max_seconds)
                    for resampled in resampler.resample(frame):
                        block = resampled.to_ndarray().reshape(-1)
                        total += block.shape[0]
                        if total > max_samples:
                            raise AudioTooLongError(max_seconds)
                        out.append(block)
            for resampled in resampler.resample(None):
                out.append(resampled.to_ndarray().reshape(-1))
        except (av.FFmpegError, ValueError, OSError) as exc:
            if isinstance(exc, AudioDecodeError):
                raise
            raise AudioDecodeError(f"undecodable audio: {exc}") from exc
        fmt = _container_name(container)
        declared = _declared_frames(data, fmt)
    samples = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
    if samples.shape[0] == 0 or source_rate <= 0:
        raise AudioDecodeError("no audio samples")
    if samples.shape[0] / target_rate > max_seconds:
        raise AudioTooLongError(max_seconds)
    if declared is not None and source_rate:
        decoded_frames = samples.shape[0] * source_rate / target_rate
        if decoded_frames < declared * 0.99 - 1:
            raise AudioDecodeError("truncated file: fewer samples than its header declares")
    return DecodedAudio(
        samples=np.ascontiguousarray(samples, dtype=np.float32),
        sample_rate=target_rate,
        source_sample_rate=source_rate,
        source_channels=source_channels,
        source_format=fmt,
        sha256=digest,
    )


def _declared_frames(data: bytes, fmt: str) -> int | None:
    """Total frames a FLAC STREAMINFO block promises (0 = unknown), so that truncation is detected."""
    if fmt != "flac" or len(data) < 42 or data[:4] != b"fLaC":
        return None
    # STREAMINFO: 4-byte block header, then 10 bytes of sizes, then 20 bits rate, 3 channels, 5 bps,
    # 36 bits total samples.
    (packed,) = struct.unpack_from(">Q", data, 8 + 10)
    total = packed & ((1 << 36) - 1)
    return total or None


def probe_ffmpeg(data: bytes) -> AudioInfo:
    """Duration, rate, channels and container of a file FFmpeg reads (decoded, so durations are exact)."""
    import av

    deadline = time.monotonic() + DECODE_TIME_BUDGET_S
    with _open(data) as container:
        stream = _audio_stream(container)
        rate = stream.codec_context.sample_rate or 0
        channels = stream.codec_context.channels or 0
        frames = 0
        try:
            for index, packet in enumerate(container.demux(stream)):
                if index > MAX_PACKETS or time.monotonic() > deadline:
                    raise AudioDecodeError("decoding took too long")
                for frame in packet.decode():
                    frames += frame.samples
                    rate = frame.sample_rate or rate
                    channels = frame.layout.nb_channels or channels
                    check_format(rate, channels)
        except (av.FFmpegError, ValueError, OSError) as exc:
            if isinstance(exc, AudioDecodeError):
                raise
            raise AudioDecodeError(f"undecodable audio: {exc}") from exc
        if frames == 0 or rate <= 0:
            raise AudioDecodeError("no audio samples")
        return AudioInfo(frames / rate, rate, channels, _container_name(container), stream.codec_context.name)


__all__ = ["decode_ffmpeg", "layout_for", "probe_ffmpeg", "resample"]
