"""The WAV fast path: PCM and float RIFF WAVE files read with numpy, no codec and no copy beyond the
conversion (WAV is what most clients send). Anything unusual returns None so that FFmpeg gets a chance.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from asr_conformance.mock_server.audio_bounds import (
    MAX_WAV_CHUNKS,
    AudioDecodeError,
    check_duration,
    check_format,
)


@dataclass(frozen=True)
class Wav:
    """A parsed WAV file: its format and its samples."""

    sample_rate: int
    channels: int
    codec: str
    samples: np.ndarray  # (frames, channels) float32


_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_FLOAT = 3
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_STREAMING_SIZES = (0, 0xFFFFFFFF)  # writers that cannot seek back leave these in the size fields


def cheap_to_decode(data: bytes, target_rate: int, max_bytes: int) -> bool:
    """True for a WAV of at most ``max_bytes`` whose ``fmt`` chunk (among the first few) says mono at
    ``target_rate``: it decodes with numpy alone, without resampling (0.2 ms for 256 KiB, where an
    8 kHz file of that size takes 8 ms to resample)."""
    if len(data) > max_bytes or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    pos = 12
    for _ in range(8):
        if pos + 24 > len(data):
            return False
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if data[pos : pos + 4] == b"fmt ":
            _, channels, rate = struct.unpack_from("<HHI", data, pos + 8)
            return channels == 1 and rate == target_rate
        pos += 8 + size + (size & 1)
    return False


def parse_wav(data: bytes, max_seconds: float | None = None) -> Wav | None:
    """Parse a PCM/float RIFF WAVE file with numpy; None when it is not one we can take this way.

    Returns None (so that FFmpeg gets a chance) for anything unusual: compressed WAV formats, odd
    widths, RF64. Raises :class:`AudioDecodeError` for a WAV that is clearly broken (declared data longer
    than the body: truncated; an absurd rate or channel count; too many chunks) and
    :class:`~asr_conformance.mock_server.audio_bounds.AudioTooLongError` when the data holds more than
    ``max_seconds``, before converting any sample.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    for _ in range(MAX_WAV_CHUNKS):
        if pos + 8 > len(data):
            return None
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                return None
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if tag == _WAVE_FORMAT_EXTENSIBLE and size >= 40:
                (tag,) = struct.unpack_from("<H", data, body + 24)  # first two bytes of the subformat GUID
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                return None
            available = len(data) - body
            if size in _STREAMING_SIZES:
                size = available
            elif size > available:
                raise AudioDecodeError("truncated WAV: data chunk longer than the body")
            return _wav_samples(fmt, data, body, size, max_seconds)
        pos = body + size + (size & 1)
    raise AudioDecodeError(f"WAV with more than {MAX_WAV_CHUNKS} chunks before its data")


def _wav_samples(
    fmt: tuple[int, int, int, int], data: bytes, start: int, size: int, max_seconds: float | None
) -> Wav | None:
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1:
        raise AudioDecodeError("WAV with no channels or no sample rate")
    check_format(rate, channels)
    if not 1 <= bits <= 64:
        raise AudioDecodeError(f"WAV with {bits} bits per sample")
    width = bits // 8
    frame_bytes = width * channels
    if frame_bytes == 0:
        return None  # sub-byte samples (ADPCM and friends): FFmpeg's job
    if max_seconds is not None:
        check_duration(size // frame_bytes, rate, max_seconds)
    usable = size - size % frame_bytes
    raw = memoryview(data)[start : start + usable]
    if tag == _WAVE_FORMAT_PCM and bits == 16:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) * np.float32(1 / 32768)
        codec = "pcm_s16le"
    elif tag == _WAVE_FORMAT_PCM and bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)  # sign comes from the top byte
        samples = ints.astype(np.float32) * np.float32(1 / 2147483648)
        codec = "pcm_s24le"
    elif tag == _WAVE_FORMAT_PCM and bits == 32:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float32) * np.float32(1 / 2147483648)
        codec = "pcm_s32le"
    elif tag == _WAVE_FORMAT_PCM and bits == 8:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128) * np.float32(1 / 128)
        codec = "pcm_u8"
    elif tag == _WAVE_FORMAT_FLOAT and bits == 32:
        samples = np.nan_to_num(np.frombuffer(raw, dtype="<f4"), nan=0.0, posinf=1.0, neginf=-1.0)
        samples = samples.astype(np.float32)
        codec = "pcm_f32le"
    elif tag == _WAVE_FORMAT_FLOAT and bits == 64:
        samples = np.nan_to_num(np.frombuffer(raw, dtype="<f8"), nan=0.0, posinf=1.0, neginf=-1.0)
        samples = samples.astype(np.float32)
        codec = "pcm_f64le"
    else:
        return None
    return Wav(rate, channels, codec, samples.reshape(-1, channels))


__all__ = ["Wav", "cheap_to_decode", "parse_wav"]
