"""The audio codecs of a cassette's body store: WAV samples as FLAC, rendered audio as its recipe, and
base64 text as a reference to the decoded bytes (:mod:`~asr_conformance.conformance.targets.body_store`).

Each encoder returns ``(header, payload)`` or ``None`` (not this codec); the store keeps a codec only when
decoding gives the exact bytes back.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import lzma
import re
import struct
from collections.abc import Callable
from typing import Any

#: recipes rendered by numpy alone (no espeak-ng, no lossy encoder): the same bytes on any machine
PORTABLE_KINDS = frozenset({"silence", "tone", "noise", "bursts"})

#: a JSON string holding base64 (audio): an optional data-URL prefix, then 512+ characters of the
#: standard or URL-safe alphabet, possibly wrapped by ``\\n`` escapes (a backslash in the class, not an
#: alternation: ``(?:...|\\n)`` keeps a backtracking point per character, 400 MB for a 2 MB body;
#: :func:`split_b64` refuses any other escape)
B64_RUN = re.compile(rb'"(data:[A-Za-z0-9/.+-]{0,80};base64,)?([A-Za-z0-9+/_\\-]{512,}={0,2})')
#: ``@@sha256:HEX@@`` (plain base64 of that body) or ``@@sha256:HEX:FLAGS@@`` (``u``: URL-safe alphabet,
#: ``p``: padding left out, ``w``: wrapped every 76 characters by ``\\n``)
REF = re.compile(rb"@@sha256:([0-9a-f]{64})(?::([uwp]+))?@@")
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_STANDARD = bytes.maketrans(b"+/", b"-_")


#: parts under this size are stored as they are: compressed alone they barely shrink (xz adds 60 bytes),
#: and the closed store compresses them together
SMALL = 4096


def pack(part: bytes, header: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """A record's part that is not audio (a WAV header and trailer, a JSON skeleton) and the header that
    says how it is stored: as it is when small (``plain``), xz-compressed otherwise."""
    if len(part) < SMALL:
        return part, {**header, "plain": 1}
    return lzma.compress(part), header


def unpack(header: dict[str, Any], part: bytes) -> bytes:
    """Inverse of :func:`pack` (format 2 compressed every part)."""
    return part if header.get("plain") else lzma.decompress(part)


def _chunks(body: bytes) -> tuple[tuple[int, ...] | None, tuple[int, int] | None]:
    """A RIFF/WAVE file's ``fmt `` fields and its ``data`` span (start, end); ``None`` where missing."""
    if len(body) < 44 or body[:4] != b"RIFF" or body[8:12] != b"WAVE":
        return None, None
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(body):
        cid, size = body[pos : pos + 4], struct.unpack("<I", body[pos + 4 : pos + 8])[0]
        if cid == b"fmt " and fmt is None and size >= 16:
            fmt = struct.unpack("<HHIIHH", body[pos + 8 : pos + 24])
        elif cid == b"data" and data is None:
            data = (pos + 8, min(pos + 8 + size, len(body)))
        pos += 8 + size + (size & 1)
    return fmt, data


def _wav_parts(body: bytes) -> tuple[int, int, int, int, int] | None:
    """(data start, data end, channels, rate, bytes per sample) of a 16- or 24-bit PCM WAV that FLAC holds."""
    fmt, data = _chunks(body)
    if fmt is None or data is None:
        return None
    tag, channels, rate, _, _, bits = fmt
    start, end = data
    width = bits // 8
    if tag not in (1, 0xFFFE) or bits not in (16, 24) or not 1 <= channels <= 8 or not 1 <= rate <= 655350:
        return None
    if (end - start) % (width * channels) or end - start < width * channels:
        return None
    return start, end, channels, rate, width


def _flac(samples: bytes, channels: int, rate: int, width: int) -> bytes:
    import numpy as np
    import soundfile

    out = io.BytesIO()
    if width == 2:
        frames = np.frombuffer(samples, "<i2").reshape(-1, channels)
    else:  # 24-bit: three little-endian bytes, held in the top of an int32 as libsndfile expects
        raw = np.frombuffer(samples, np.uint8).reshape(-1, 3).astype(np.int32)
        frames = ((raw[:, 0] << 8) | (raw[:, 1] << 16) | (raw[:, 2] << 24)).reshape(-1, channels)
    subtype = "PCM_16" if width == 2 else "PCM_24"
    try:  # the highest level: a few per cent smaller, and decoding costs the same
        soundfile.write(out, frames, rate, format="FLAC", subtype=subtype, compression_level=1.0)
    except TypeError:  # a soundfile without compression levels
        soundfile.write(out, frames, rate, format="FLAC", subtype=subtype)
    return out.getvalue()


def _unflac(payload: bytes, width: int) -> bytes:
    import numpy as np
    import soundfile

    if width == 2:
        frames, _ = soundfile.read(io.BytesIO(payload), dtype="int16", always_2d=True)
        return frames.astype("<i2").tobytes()
    frames, _ = soundfile.read(io.BytesIO(payload), dtype="int32", always_2d=True)
    flat = frames.reshape(-1).astype(np.int64) & 0xFFFFFFFF
    return (
        np.stack([(flat >> 8) & 0xFF, (flat >> 16) & 0xFF, (flat >> 24) & 0xFF], axis=1)
        .astype(np.uint8)
        .tobytes()
    )


def encode_wav(body: bytes) -> tuple[dict[str, Any], bytes] | None:
    """A 16- or 24-bit PCM WAV as its header and trailer bytes plus the samples as FLAC."""
    parts = _wav_parts(body)
    if parts is None:
        return None
    start, end, channels, rate, width = parts
    try:
        flac = _flac(body[start:end], channels, rate, width)
    except Exception:  # the encoder refused it: store it plainly
        return None
    frame, header = pack(body[:start] + body[end:], {"codec": "wav-flac", "head": start, "width": width})
    header["frame"] = len(frame)
    return header, frame + flac


def decode_wav(header: dict[str, Any], payload: bytes) -> bytes:
    frame = unpack(header, payload[: header["frame"]])
    samples = _unflac(payload[header["frame"] :], header.get("width", 2))
    return frame[: header["head"]] + samples + frame[header["head"] :]


def voice_wav(recipe: Any) -> bytes | None:
    """espeak-ng's voicing of a speech recipe as a 16-bit WAV (what a cassette keeps), or ``None``."""
    import soundfile
    from asr_conformance.conformance.generation.audio import speech_voice

    try:
        samples, rate = speech_voice(recipe)
    except (RuntimeError, OSError, ValueError):  # no espeak-ng here: the samples are stored instead
        return None
    out = io.BytesIO()
    # espeak-ng writes 16-bit samples, read back as value / 32768: scaling back is exact
    soundfile.write(out, (samples * 32768).astype("<i2"), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def recipe_record(body: bytes, recipe: Any, voice: str | None = None) -> tuple[dict[str, Any], bytes] | None:
    """A WAV body as its recipe (the samples) plus its own header and trailer bytes: a header may
    differ between renderings (float WAV's PEAK chunk carries a timestamp). ``voice``: the sha256 of a
    speech recipe's :func:`voice_wav`, stored as a body of its own (shared by every case of that sentence)."""
    _, data = _chunks(body)
    if data is None:
        return None
    start, end = data
    frame, header = pack(body[:start] + body[end:], {"codec": "recipe", "recipe": dataclasses.asdict(recipe)})
    header.update(head=start, frame=len(frame))
    if voice is not None:
        header["voice"] = voice
    return header, frame


def decode_recipe(header: dict[str, Any], payload: bytes, lookup: Callable[[str], bytes]) -> bytes:
    import numpy as np
    import soundfile
    from asr_conformance.conformance.cases import AudioRecipe
    from asr_conformance.conformance.generation.audio import render, render_voiced

    recipe = AudioRecipe(**header["recipe"])
    if header.get("voice"):
        samples, rate = soundfile.read(io.BytesIO(lookup(header["voice"])), dtype="float32", always_2d=False)
        rendered = render_voiced(recipe, (np.asarray(samples, dtype=np.float32), int(rate)))
    else:
        rendered = render(recipe)
    _, data = _chunks(rendered)
    if data is None:
        raise ValueError("the recipe no longer renders a WAV file")
    frame = unpack(header, payload[: header["frame"]])
    return frame[: header["head"]] + rendered[data[0] : data[1]] + frame[header["head"] :]


def _wrap(text: bytes) -> bytes:
    return b"\\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def expand_ref(raw: bytes, flags: bytes) -> bytes:
    """The base64 text a reference stands for: ``raw`` encoded, in the alphabet and wrapping of ``flags``."""
    text = base64.b64encode(raw)
    if b"u" in flags:
        text = text.translate(_STANDARD)
    if b"p" in flags:
        text = text.rstrip(b"=")
    return _wrap(text) if b"w" in flags else text


def split_b64(run: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(decoded bytes, flags, tail) of a base64 run: ``expand_ref(bytes, flags) + tail == run``; ``None``
    when it does not decode. The tail is what whole quads leave (unpadded base64, a masked end)."""
    flags = b""
    text = run
    if b"\\n" in text:
        text, flags = text.replace(b"\\n", b""), flags + b"w"
    if b"-" in text or b"_" in text:
        if b"+" in text or b"/" in text:
            return None  # two alphabets: not something an encoder wrote
        text, flags = text.translate(_URLSAFE), flags + b"u"
    unpadded = _decode_b64(text + b"=" * (-len(text) % 4)) if len(text) % 4 else b""
    if unpadded and expand_ref(unpadded, flags + b"p") == run:  # base64 without its padding
        return unpadded, flags + b"p", b""
    if not text.endswith(b"="):  # the string may go on (a masked tail): whole quads only
        text = text[: len(text) - len(text) % 4]
    raw = _decode_b64(text)
    head = expand_ref(raw, flags)
    if not raw or not run.startswith(head):
        return None
    return raw, flags, run[len(head) :]


def _decode_b64(text: bytes) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


__all__ = [
    "B64_RUN",
    "PORTABLE_KINDS",
    "REF",
    "SMALL",
    "decode_recipe",
    "decode_wav",
    "encode_wav",
    "expand_ref",
    "pack",
    "recipe_record",
    "split_b64",
    "unpack",
    "voice_wav",
]
