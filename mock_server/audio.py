"""Audio in and out: decode request bodies for the engines, probe them, encode test audio.

Shared by the HTTP front, both engines and the conformance suite.

* :func:`decode` turns any supported file (wav, flac, ogg/vorbis, opus, mp3, webm, m4a, ...) into mono
  float32 at a target rate, as :class:`~asr_conformance.mock_server.engine.DecodedAudio`. PCM WAV takes a
  pure-numpy path
  (no codec, no copy beyond the conversion) because it is what most clients send; everything else goes
  through PyAV (FFmpeg), resampled and downmixed with ``av.AudioResampler(format="flt", layout="mono")``.
  Anything undecodable, empty or without an audio stream raises :class:`AudioDecodeError`; the work is
  bounded (decoded length, packets, wall time) so garbage never hangs a worker.
* :func:`probe` reports duration, rate, channels and container without resampling.
* :func:`encode` renders ``(frames, channels)`` float32 to file bytes, deterministically (bit-exact
  muxers, fixed Ogg serial numbers), for the suite's audio recipes and the tests.

Lossy codecs shift and pad: mp3 adds about 50 ms (encoder delay + frame padding), opus 6.5 ms pre-skip
plus up to a 20 ms frame, aac about 21-46 ms (priming + frame padding). Decoded durations of lossy files
therefore differ from the source by up to a few tens of milliseconds; see ``docs/mock.md``.
"""

from __future__ import annotations

import hashlib
import io
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from asr_conformance.mock_server.engine import DecodedAudio

if TYPE_CHECKING:
    import av

# PyAV (~20 MB resident) and soundfile are imported where used: a server that only ever sees WAV
# never loads FFmpeg.

#: default bound on the decoded length (seconds of audio); callers pass their own limit
DEFAULT_MAX_SECONDS = 3600.0
#: wall-clock budget for one decode: a body that takes longer is treated as undecodable
DECODE_TIME_BUDGET_S = 30.0
#: bound on demuxed packets (a flood of tiny or empty packets is garbage, not audio)
MAX_PACKETS = 2_000_000

CODECS: tuple[str, ...] = ("wav", "flac", "ogg", "opus", "mp3", "webm", "m4a")
SAMPLE_FORMATS: tuple[str, ...] = ("s16", "s24", "flt")

# FFmpeg demuxer names -> the short names reported in ``format``
_CONTAINER_NAMES = {"matroska,webm": "webm", "mov,mp4,m4a,3gp,3g2,mj2": "mp4"}


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


# ------------------------------------------------------------------------------------------------ WAV


@dataclass(frozen=True)
class _Wav:
    sample_rate: int
    channels: int
    codec: str
    samples: np.ndarray  # (frames, channels) float32


_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_FLOAT = 3
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_STREAMING_SIZES = (0, 0xFFFFFFFF)  # writers that cannot seek back leave these in the size fields


def _parse_wav(data: bytes) -> _Wav | None:
    """Parse a PCM/float RIFF WAVE file with numpy; None when it is not one we can take this way.

    Returns None (so that FFmpeg gets a chance) for anything unusual: compressed WAV formats, odd
    widths, RF64. Raises :class:`AudioDecodeError` for a WAV that is clearly broken (declared data longer
    than the body: truncated).
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
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
            return _wav_samples(fmt, data, body, size)
        pos = body + size + (size & 1)
    return None


def _wav_samples(fmt: tuple[int, int, int, int], data: bytes, start: int, size: int) -> _Wav | None:
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1:
        raise AudioDecodeError("WAV with no channels or no sample rate")
    width = bits // 8
    frame_bytes = width * channels
    if frame_bytes == 0:
        return None
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
    return _Wav(rate, channels, codec, samples.reshape(-1, channels))


# --------------------------------------------------------------------------------------------- decode


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _resample(frames: list[np.ndarray], rate: int, layout: str, target_rate: int) -> np.ndarray:
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


def _layout_for(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


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
    wav = _parse_wav(data)
    if wav is not None:
        if wav.samples.shape[0] == 0:
            raise AudioDecodeError("WAV without samples")
        if wav.samples.shape[0] / wav.sample_rate > limit:
            raise AudioTooLongError(limit)
        if wav.channels == 1 and wav.sample_rate == target_rate:
            mono = wav.samples.reshape(-1)
        else:
            mono = _resample([wav.samples], wav.sample_rate, _layout_for(wav.channels), target_rate)
        return DecodedAudio(
            samples=mono,
            sample_rate=target_rate,
            source_sample_rate=wav.sample_rate,
            source_channels=wav.channels,
            source_format="wav",
            sha256=digest,
        )
    return _decode_ffmpeg(data, target_rate, digest, limit)


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


def _decode_ffmpeg(data: bytes, target_rate: int, digest: str, max_seconds: float) -> DecodedAudio:
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
        try:
            for index, packet in enumerate(container.demux(stream)):
                if index > MAX_PACKETS or time.monotonic() > deadline:
                    raise AudioDecodeError("decoding took too long")
                for frame in packet.decode():
                    source_rate = frame.sample_rate or source_rate
                    source_channels = frame.layout.nb_channels or source_channels
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


# ---------------------------------------------------------------------------------------------- probe


def probe(data: bytes) -> AudioInfo:
    """Duration, rate, channels and container of an audio file (decoded, so durations are exact)."""
    import av

    if not data:
        raise AudioDecodeError("empty body")
    wav = _parse_wav(data)
    if wav is not None:
        frames = wav.samples.shape[0]
        if frames == 0:
            raise AudioDecodeError("WAV without samples")
        return AudioInfo(frames / wav.sample_rate, wav.sample_rate, wav.channels, "wav", wav.codec)
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
        except (av.FFmpegError, ValueError, OSError) as exc:
            if isinstance(exc, AudioDecodeError):
                raise
            raise AudioDecodeError(f"undecodable audio: {exc}") from exc
        if frames == 0 or rate <= 0:
            raise AudioDecodeError("no audio samples")
        return AudioInfo(frames / rate, rate, channels, _container_name(container), stream.codec_context.name)


# --------------------------------------------------------------------------------------------- encode


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
        return buf.getvalue()
    if codec == "ogg":
        buf = io.BytesIO()
        soundfile.write(buf, arr, sample_rate, format="OGG", subtype="VORBIS")
        return fix_ogg_serials(buf.getvalue())
    return _encode_lossy(arr, sample_rate, _LOSSY[codec])


def _encode_lossy(arr: np.ndarray, sample_rate: int, spec: _LossyCodec) -> bytes:
    import av

    rate = next((r for r in spec.rates if r >= sample_rate), spec.rates[-1])
    layout = _layout_for(arr.shape[1])
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


__all__ = [
    "CODECS",
    "DEFAULT_MAX_SECONDS",
    "SAMPLE_FORMATS",
    "AudioDecodeError",
    "AudioInfo",
    "AudioTooLongError",
    "decode",
    "encode",
    "fix_ogg_serials",
    "probe",
]
