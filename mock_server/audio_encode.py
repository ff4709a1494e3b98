"""Encoding test audio: ``(frames, channels)`` float32 to file bytes, deterministically (bit-exact
muxers, fixed Ogg serial numbers), for the suite's audio recipes and the tests.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from asr_conformance.mock_server.audio_ffmpeg import layout_for

CODECS: tuple[str, ...] = ("wav", "flac", "ogg", "opus", "mp3", "webm", "m4a")
SAMPLE_FORMATS: tuple[str, ...] = ("s16", "s24", "flt")


@dataclass(frozen=True)
class _LossyCodec:
    container: str
    codec: str
    rates: tuple[int, ...]
    bit_rate: int


_LOSSY: dict[str, _LossyCodec] = {
    "opus": _LossyCodec("ogg", "libopus", (8000, 12000, 16000, 24000, 48000), 64_000),
    "webm": _LossyCodec("webm", "libopus", (8000, 12000, 16000, 24000, 48000), 64_000),
    "mp3": _LossyCodec(
        "mp3", "libmp3lame", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000), 64_000
    ),
    "m4a": _LossyCodec(
        "ipod",
        "aac",
        (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000),
        96_000,
    ),
}

_SF_SUBTYPES = {
    ("wav", "s16"): "PCM_16",
    ("wav", "s24"): "PCM_24",
    ("wav", "flt"): "FLOAT",
    ("flac", "s16"): "PCM_16",
    ("flac", "s24"): "PCM_24",
}


def _check_samples(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    arr = np.asarray(samples, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] not in (1, 2):
        raise ValueError("samples must have shape (frames, channels) with 1 or 2 channels")
    if not 1000 <= sample_rate <= 384_000:
        raise ValueError(f"unsupported sample rate {sample_rate}")
    return np.clip(arr, -1.0, 1.0)


def encode(samples: np.ndarray, sample_rate: int, codec: str, sample_format: str = "s16") -> bytes:
    """Encode ``(frames, channels)`` float32 samples as a ``codec`` file; same input, same bytes.

    ``codec``: one of :data:`CODECS` (``ogg`` is Ogg Vorbis, ``opus`` is Ogg Opus, ``webm`` holds Opus,
    ``m4a`` holds AAC). ``sample_format`` (s16, s24, flt) is the stored sample type for wav and flac
    (flac has no float: ``flt`` raises ValueError); lossy codecs store their own representation and
    accept any of the three. Opus, mp3 and aac only take certain rates: the audio is resampled to the
    nearest supported rate at or above ``sample_rate`` (opus: 8/12/16/24/48 kHz).
    """
    import soundfile

    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; expected one of {', '.join(CODECS)}")
    if sample_format not in SAMPLE_FORMATS:
        raise ValueError(
            f"unknown sample format {sample_format!r}; expected one of {', '.join(SAMPLE_FORMATS)}"
        )
    arr = _check_samples(samples, sample_rate)
    if codec in ("wav", "flac"):
        subtype = _SF_SUBTYPES.get((codec, sample_format))
        if subtype is None:
            raise ValueError(f"{codec} cannot store sample format {sample_format!r}")
        buf = io.BytesIO()
        soundfile.write(buf, arr, sample_rate, format=codec.upper(), subtype=subtype)
        return _zero_peak_timestamp(buf.getvalue()) if codec == "wav" else buf.getvalue()
    if codec == "ogg":
        buf = io.BytesIO()
        soundfile.write(buf, arr, sample_rate, format="OGG", subtype="VORBIS")
        return fix_ogg_serials(buf.getvalue())
    return _encode_lossy(arr, sample_rate, _LOSSY[codec])


def _zero_peak_timestamp(data: bytes) -> bytes:
    """libsndfile stamps float WAV's PEAK chunk with the wall clock: zero it, so the same samples give the
    same bytes (cache keys and cassettes match on the body's digest)."""
    at = data.find(b"PEAK", 12, 200)
    if at < 0:
        return data
    return data[: at + 12] + bytes(4) + data[at + 16 :]


def _encode_lossy(arr: np.ndarray, sample_rate: int, spec: _LossyCodec) -> bytes:
    import av

    rate = next((r for r in spec.rates if r >= sample_rate), spec.rates[-1])
    layout = layout_for(arr.shape[1])
    buf = io.BytesIO()
    # bitexact: no random stream ids, no encoder version strings, no timestamps of "now"
    with av.open(buf, mode="w", format=spec.container, options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(spec.codec, rate=rate, layout=layout)
        stream.bit_rate = spec.bit_rate
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(arr.reshape(1, -1)), format="flt", layout=layout
        )
        frame.sample_rate = sample_rate
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ Ogg


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if r & 0x80000000 else (r << 1) & 0xFFFFFFFF
        table.append(r)
    return table


_OGG_CRC = _crc_table()


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    return crc


def fix_ogg_serials(data: bytes) -> bytes:
    """Renumber Ogg logical streams 1, 2, ... and recompute page CRCs (libsndfile picks random serials)."""
    out = bytearray()
    serials: dict[int, int] = {}
    pos = 0
    while pos + 27 <= len(data) and data[pos : pos + 4] == b"OggS":
        nsegs = data[pos + 26]
        header_len = 27 + nsegs
        body_len = sum(data[pos + 27 : pos + header_len])
        page = bytearray(data[pos : pos + header_len + body_len])
        (serial,) = struct.unpack_from("<I", page, 14)
        struct.pack_into("<I", page, 14, serials.setdefault(serial, len(serials) + 1))
        struct.pack_into("<I", page, 22, 0)
        struct.pack_into("<I", page, 22, _ogg_crc(bytes(page)))
        out += page
        pos += len(page)
    return bytes(out + data[pos:])


__all__ = ["CODECS", "SAMPLE_FORMATS", "encode", "fix_ogg_serials"]
