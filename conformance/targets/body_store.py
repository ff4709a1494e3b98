"""A cassette's bodies, each stored once (by sha256) and compressed, in a file next to the YAML.

The YAML of a cassette keeps the exchanges' metadata as text; the bodies (audio, mostly) live in
``<name>.bodies``, an append-only file so that an interrupted recording keeps what it wrote::

    asr-conformance-bodies/1\\n
    {"sha256": HEX, "codec": CODEC, "n": PAYLOAD_BYTES, "size": BODY_BYTES, ...}\\n PAYLOAD
    ...

Codecs, chosen per body and checked by decoding before anything is written (exact bytes or nothing):

* ``wav-flac``: a 16- or 24-bit PCM WAV file as its header and trailer bytes (xz) plus the samples as FLAC;
* ``json-b64``: a JSON body whose long base64 runs (audio) are stored as bodies of their own and
  replaced by ``@@sha256:HEX@@`` in the xz-compressed rest;
* ``recipe``: WAV audio the suite renders from numpy alone (silence, tone, noise, bursts), stored as its
  :class:`~asr_conformance.conformance.cases.AudioRecipe` for the samples and its own header bytes (xz;
  float WAV's PEAK chunk carries a timestamp); rendered again when read, and refused if that does not
  give the same bytes there (a different numpy: record again);
* ``xz``: anything else, xz-compressed (``raw`` when that does not make it smaller).

A truncated last record (a recording killed mid-write) is ignored when reading.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import io
import json
import lzma
import re
import struct
from pathlib import Path
from typing import IO, Any

MAGIC = b"asr-conformance-bodies/1\n"
SUFFIX = ".bodies"
_B64 = re.compile(rb'"([A-Za-z0-9+/]{512,}={0,2})')
_REF = re.compile(rb"@@sha256:([0-9a-f]{64})@@")
#: recipes rendered by numpy alone (no espeak-ng, no lossy encoder): the same bytes on any machine
_PORTABLE_KINDS = frozenset({"silence", "tone", "noise", "bursts"})


class BodyStoreError(ValueError):
    """The bodies file is missing, damaged, or lacks a body the cassette names."""


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


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
    soundfile.write(out, frames, rate, format="FLAC", subtype="PCM_16" if width == 2 else "PCM_24")
    return out.getvalue()


def _unflac(payload: bytes, width: int) -> bytes:
    import numpy as np
    import soundfile

    if width == 2:
        frames, _ = soundfile.read(io.BytesIO(payload), dtype="int16", always_2d=True)
        return frames.astype("<i2").tobytes()
    frames, _ = soundfile.read(io.BytesIO(payload), dtype="int32", always_2d=True)
    flat = frames.reshape(-1).astype(np.int64) & 0xFFFFFFFF
    return np.stack([(flat >> 8) & 0xFF, (flat >> 16) & 0xFF, (flat >> 24) & 0xFF], axis=1).astype(
        np.uint8
    ).tobytes()


def _encode_wav(body: bytes, parts: tuple[int, int, int, int, int]) -> tuple[dict[str, Any], bytes] | None:
    start, end, channels, rate, width = parts
    try:
        flac = _flac(body[start:end], channels, rate, width)
    except Exception:  # the encoder refused it: store it plainly
        return None
    frame = lzma.compress(body[:start] + body[end:])
    header = {"codec": "wav-flac", "head": start, "frame": len(frame), "width": width}
    return header, frame + flac


def _decode_wav(header: dict[str, Any], payload: bytes) -> bytes:
    frame = lzma.decompress(payload[: header["frame"]])
    samples = _unflac(payload[header["frame"] :], header.get("width", 2))
    return frame[: header["head"]] + samples + frame[header["head"] :]


def _recipe_record(body: bytes, recipe: Any) -> tuple[dict[str, Any], bytes] | None:
    """A WAV body as its recipe (the samples) plus its own header and trailer bytes (xz): a header may
    differ between renderings (float WAV's PEAK chunk carries a timestamp)."""
    _, data = _chunks(body)
    if data is None:
        return None
    start, end = data
    frame = lzma.compress(body[:start] + body[end:])
    header = {"codec": "recipe", "recipe": dataclasses.asdict(recipe), "head": start, "frame": len(frame)}
    return header, frame


def _decode_recipe(header: dict[str, Any], payload: bytes) -> bytes:
    from asr_conformance.conformance.cases import AudioRecipe
    from asr_conformance.conformance.generation.audio import render

    rendered = render(AudioRecipe(**header["recipe"]))
    _, data = _chunks(rendered)
    if data is None:
        raise ValueError("the recipe no longer renders a WAV file")
    frame = lzma.decompress(payload[: header["frame"]])
    return frame[: header["head"]] + rendered[data[0] : data[1]] + frame[header["head"] :]


class BodyWriter:
    """Appends bodies to ``path`` once each; :meth:`put` returns the body's sha256 (hex)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.known: set[str] = set()
        self._file: IO[bytes] | None = path.open("wb")
        self._file.write(MAGIC)

    def put(self, body: bytes, recipe: Any = None) -> str:
        """Store ``body`` (once); ``recipe``: the AudioRecipe it may have been rendered from."""
        sha = digest(body)
        if sha in self.known:
            return sha
        header, payload = self._encode(body, recipe)
        assert self._file is not None, "body store closed"
        record = {"sha256": sha, **header, "n": len(payload), "size": len(body)}
        self._file.write(json.dumps(record, separators=(",", ":")).encode() + b"\n" + payload)
        self.known.add(sha)
        return sha

    def _encode(self, body: bytes, recipe: Any = None) -> tuple[dict[str, Any], bytes]:
        candidates: list[tuple[dict[str, Any], bytes]] = []
        portable = recipe is not None and recipe.kind in _PORTABLE_KINDS and recipe.codec == "wav"
        if portable and (record := _recipe_record(body, recipe)) is not None:
            candidates.append(record)
        parts = _wav_parts(body)
        if parts is not None and (wav := _encode_wav(body, parts)) is not None:
            candidates.append(wav)
        pending: dict[str, bytes] = {}
        if body[:1] in (b"{", b"[") and (skeleton := self._extract_base64(body, pending, recipe)) is not None:
            candidates.append(({"codec": "json-b64"}, lzma.compress(skeleton)))
        for header, payload in candidates:
            try:
                if _decode(header, payload, pending.__getitem__) == body:  # exact bytes, or not this codec
                    return header, payload
            except Exception:  # a codec that cannot reproduce the body is simply not used
                continue
        packed = lzma.compress(body)
        return ({"codec": "xz"}, packed) if len(packed) < len(body) else ({"codec": "raw"}, body)

    def _extract_base64(self, body: bytes, pending: dict[str, bytes], recipe: Any) -> bytes | None:
        """``body`` with its base64 runs stored as bodies of their own (``pending``: sha -> bytes)."""
        if _REF.search(body):
            return None
        found = False

        def swap(match: re.Match[bytes]) -> bytes:
            nonlocal found
            text = match.group(1)
            if not text.endswith(b"="):  # the string may go on (a masked tail): whole quads only
                text = text[: len(text) - len(text) % 4]
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                return match.group(0)
            if base64.b64encode(raw) != text:
                return match.group(0)
            found = True
            sha = self.put(raw, recipe)
            pending[sha] = raw
            return b'"@@sha256:' + sha.encode() + b"@@" + match.group(1)[len(text) :]

        skeleton = _B64.sub(swap, body)
        return skeleton if found else None

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _decode(header: dict[str, Any], payload: bytes, lookup: Any) -> bytes:
    codec = header["codec"]
    if codec == "raw":
        return payload
    if codec == "xz":
        return lzma.decompress(payload)
    if codec == "wav-flac":
        return _decode_wav(header, payload)
    if codec == "recipe":
        return _decode_recipe(header, payload)
    if codec == "json-b64":
        skeleton = lzma.decompress(payload)
        return _REF.sub(lambda m: base64.b64encode(lookup(m.group(1).decode())), skeleton)
    raise BodyStoreError(f"unknown body codec {codec!r}")


class BodyReader:
    """The bodies of ``path`` by sha256, decoded on first use and checked against their digest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BodyStoreError(f"cannot read the cassette's bodies {path}: {exc}") from exc
        if not data.startswith(MAGIC):
            raise BodyStoreError(f"{path} is not an asr-conformance bodies file")
        self._records: dict[str, tuple[dict[str, Any], bytes]] = {}
        pos = len(MAGIC)
        while (eol := data.find(b"\n", pos)) != -1:
            try:
                header = json.loads(data[pos:eol])
            except ValueError:
                break  # a torn record at the end
            payload = data[eol + 1 : eol + 1 + header["n"]]
            if len(payload) != header["n"]:
                break
            self._records[header["sha256"]] = (header, payload)
            pos = eol + 1 + header["n"]
        self._cache: dict[str, bytes] = {}

    def __contains__(self, sha: str) -> bool:
        return sha in self._records

    def get(self, sha: str) -> bytes:
        if sha in self._cache:
            return self._cache[sha]
        if sha not in self._records:
            raise BodyStoreError(f"{self.path} has no body sha256 {sha[:12]}…")
        header, payload = self._records[sha]
        try:
            body = _decode(header, payload, self.get)
        except (lzma.LZMAError, RuntimeError, ValueError) as exc:
            raise BodyStoreError(f"{self.path}: body {sha[:12]}… cannot be decoded: {exc}") from exc
        if digest(body) != sha:
            again = " (rendered from its recipe here: record it again)" if header["codec"] == "recipe" else ""
            raise BodyStoreError(f"{self.path}: body {sha[:12]}… decodes to other bytes{again}")
        self._cache[sha] = body
        return body


__all__ = ["MAGIC", "SUFFIX", "BodyReader", "BodyStoreError", "BodyWriter", "digest"]
