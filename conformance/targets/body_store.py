"""A cassette's bodies, each stored once (by sha256) and compressed, in a file next to the YAML.

The YAML of a cassette keeps the exchanges' metadata as text; the bodies (audio, mostly) live in
``<name>.bodies``. While a run records it is append-only, so that an interrupted recording keeps what it
wrote; :meth:`BodyWriter.close` rewrites it as ``asr-conformance-bodies/2\\n`` and one xz stream of the
same records (compressed across bodies)::

    asr-conformance-bodies/1\\n
    {"sha256": HEX, "codec": CODEC, "n": PAYLOAD_BYTES, "size": BODY_BYTES, ...}\\n PAYLOAD
    ...

Codecs (:mod:`~asr_conformance.conformance.targets.body_codecs`), chosen per body and checked by decoding
before anything is written (exact bytes or nothing):

* ``recipe``: WAV audio the suite renders, stored as its
  :class:`~asr_conformance.conformance.cases.AudioRecipe` for the samples and its own header bytes (float
  WAV's PEAK chunk carries a timestamp): numpy-only kinds (silence, tone, noise, bursts), and speech with
  ``voice``, the sha256 of its sentence's espeak-ng voicing (a 16-bit WAV body, one per sentence, so replay
  needs no espeak-ng); rendered again when read, and refused if that does not give the same bytes there
  (a different numpy: record again);
* ``wav-flac``: a 16- or 24-bit PCM WAV file as its header and trailer bytes plus the samples as FLAC;
* ``json-b64``: a JSON body whose long base64 runs (audio: plain, unpadded, URL-safe, wrapped, after a
  data-URL prefix) are stored as the decoded bodies and replaced by ``@@sha256:HEX[:FLAGS]@@``;
* ``xz``: anything else of 4 KB or more, xz-compressed; ``raw``: the rest, as it is.

Header and trailer bytes and skeletons are stored as they are (``"plain": 1``) when small; format 2 stores
compressed each of them alone, and every ``.bodies`` of format 2 (``asr-conformance-bodies/1``) still reads.
A truncated last record (a recording killed mid-write) is ignored when reading.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from asr_conformance.conformance.targets.body_codecs import (
    B64_RUN,
    PORTABLE_KINDS,
    REF,
    SMALL,
    decode_recipe,
    decode_wav,
    encode_wav,
    expand_ref,
    pack,
    recipe_record,
    split_b64,
    unpack,
    voice_wav,
)

MAGIC = b"asr-conformance-bodies/1\n"
#: a closed store: the records of MAGIC's form after it, as one xz stream (compressed across bodies)
SOLID_MAGIC = b"asr-conformance-bodies/2\n"
SUFFIX = ".bodies"


class BodyStoreError(ValueError):
    """The bodies file is missing, damaged, or lacks a body the cassette names."""


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


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
        pending: dict[str, bytes] = {}  # bodies a candidate refers to, stored only if it is chosen
        if recipe is not None and recipe.codec == "wav":
            voice = voice_wav(recipe) if recipe.kind == "speech" else None
            if voice is not None:
                pending[digest(voice)] = voice
            if (recipe.kind in PORTABLE_KINDS or voice is not None) and (
                record := recipe_record(body, recipe, digest(voice) if voice else None)
            ) is not None:
                candidates.append(record)
        if (wav := encode_wav(body)) is not None:
            candidates.append(wav)
        if body[:1] in (b"{", b"[") and (skeleton := self._extract_base64(body, pending, recipe)) is not None:
            packed, header = pack(skeleton, {"codec": "json-b64"})
            candidates.append((header, packed))
        for header, payload in candidates:
            try:
                if _decode(header, payload, pending.__getitem__) != body:  # exact bytes, or not this codec
                    continue
            except Exception:  # a codec that cannot reproduce the body is simply not used
                continue
            if "voice" in header:
                self.put(pending[header["voice"]])  # before the record that names it
            return header, payload
        if len(body) < SMALL:
            return {"codec": "raw"}, body
        packed = lzma.compress(body)
        return ({"codec": "xz"}, packed) if len(packed) < len(body) else ({"codec": "raw"}, body)

    def _extract_base64(self, body: bytes, pending: dict[str, bytes], recipe: Any) -> bytes | None:
        """``body`` with its base64 runs (plain, URL-safe, wrapped, after a data-URL prefix) stored as
        bodies of their own and replaced by references (``pending``: sha -> bytes)."""
        if REF.search(body):
            return None
        found = False

        def swap(match: re.Match[bytes]) -> bytes:
            nonlocal found
            parts = split_b64(match.group(2))
            if parts is None:
                return match.group(0)
            raw, flags, tail = parts
            found = True
            sha = self.put(raw, recipe)
            pending[sha] = raw
            ref = b"@@sha256:" + sha.encode() + (b":" + flags if flags else b"") + b"@@"
            return b'"' + (match.group(1) or b"") + ref + tail

        skeleton = B64_RUN.sub(swap, body)
        return skeleton if found else None

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Finish the store: its records rewritten as one xz stream (bodies compressed across each other:
        the small records, mostly). Until then the file is append-only, so a killed recording keeps it."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        records = self.path.read_bytes()[len(MAGIC) :]
        if not records:
            return
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_bytes(SOLID_MAGIC + lzma.compress(records))
        os.replace(partial, self.path)  # the append-only file or the solid one, never half of either


def _decode(header: dict[str, Any], payload: bytes, lookup: Callable[[str], bytes]) -> bytes:
    codec = header["codec"]
    if codec == "raw":
        return payload
    if codec == "xz":
        return lzma.decompress(payload)
    if codec == "wav-flac":
        return decode_wav(header, payload)
    if codec == "recipe":
        return decode_recipe(header, payload, lookup)
    if codec == "json-b64":
        skeleton = unpack(header, payload)
        return REF.sub(lambda m: expand_ref(lookup(m.group(1).decode()), m.group(2) or b""), skeleton)
    raise BodyStoreError(f"unknown body codec {codec!r}")


class BodyReader:
    """The bodies of ``path`` by sha256, decoded on first use and checked against their digest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BodyStoreError(f"cannot read the cassette's bodies {path}: {exc}") from exc
        if data.startswith(SOLID_MAGIC):
            try:
                data = MAGIC + lzma.decompress(data[len(SOLID_MAGIC) :])
            except lzma.LZMAError as exc:
                raise BodyStoreError(f"{path} is damaged: {exc}") from exc
        elif not data.startswith(MAGIC):
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
