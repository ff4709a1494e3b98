"""ASR body semantics: ``chunks`` when (and only when) timestamps were asked for, and sane timestamps.

These look at every 200 answer, whatever kind of case produced it, and read what was asked from the
request itself. None of them has an opinion on the transcript's words: a real model invents words on
silence, so nothing here expects ``""`` (or anything else) for a given audio.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from asr_conformance.conformance.checks.base import CheckContext, Problem, Skip, check
from asr_conformance.conformance.checks.reading import (
    asks_timestamps,
    short,
    successes,
    timestamps_level,
    where,
)

from asr_conformance import spec

#: Whisper quantises timestamps to 20 ms; allow one step past the true end on top of the case's tolerance.
TIMESTAMP_STEP_S = 0.02


@cache
def timestamp_key(view: str) -> str:
    """The chunk's timestamp key in this view (``timestamp`` served, ``timestamps`` documented)."""
    props = spec.schema("response", view).get("properties", {})
    chunk_props = props.get("chunks", {}).get("items", {}).get("properties", {})
    keys = sorted(k for k in chunk_props if k.startswith("timestamp"))
    return keys[0] if keys else "timestamp"


def _has_chunks(ctx: CheckContext) -> bool:
    return any(isinstance(body.get("chunks"), list) for _, _, body in successes(ctx))


def _chunks(ctx: CheckContext) -> Iterator[tuple[int, list[Any]]]:
    for i, _, body in successes(ctx):
        chunks = body.get("chunks")
        if isinstance(chunks, list):
            yield i, chunks


def _pairs(ctx: CheckContext, chunks: list[Any]) -> Iterator[tuple[int, Any, Any]]:
    """``(chunk index, start, end)`` of chunks whose timestamp is a pair (others: timestamps_numeric)."""
    key = timestamp_key(ctx.view)
    for n, chunk in enumerate(chunks):
        stamp = chunk.get(key) if isinstance(chunk, dict) else None
        if isinstance(stamp, list) and len(stamp) == 2:
            yield n, stamp[0], stamp[1]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@check(
    id="chunks_when_timestamps_requested",
    title="No chunks although timestamps were asked for",
    evidence="documented",
    spec_ref="payload:parameters.return_timestamps",
    applies=lambda ctx: any(asks_timestamps(ex.request) for _, ex, _ in successes(ctx)),
    fired_by=("no-chunks",),
)
def chunks_when_timestamps_requested(ctx: CheckContext) -> Iterator[str]:
    """A 200 answer to ``return_timestamps: true`` carries a ``chunks`` list."""
    for i, ex, body in successes(ctx):
        if asks_timestamps(ex.request) and not isinstance(body.get("chunks"), list):
            found = "absent" if "chunks" not in body else f"{short(body['chunks'])}"
            yield f"{where(ctx, i)}return_timestamps: true but chunks {found}"


@check(
    id="chunks_absent_unless_requested",
    title="Chunks sent although timestamps were not asked for",
    evidence="observed",
    spec_ref="E10",
    applies=lambda ctx: any(timestamps_level(ex.request) == "none" for _, ex, _ in successes(ctx)),
    fired_by=("chunks-unasked",),
)
def chunks_absent_unless_requested(ctx: CheckContext) -> Iterator[str]:
    """Without ``return_timestamps`` (or with ``false``) there are no ``chunks`` (fal-ai sends them).

    Only requests that did not ask are judged: ``"word"``, ``1`` or ``"true"`` are implementation-defined
    spellings a server may well read as a request for chunks.
    """
    for i, ex, body in successes(ctx):
        if timestamps_level(ex.request) == "none" and body.get("chunks") is not None:
            yield f"{where(ctx, i)}chunks present without return_timestamps: {short(body['chunks'], 80)}"


@check(
    id="timestamps_numeric",
    title="Chunk timestamp is not a pair of numbers",
    evidence="official-schema",
    spec_ref="body:chunks.timestamps",
    applies=_has_chunks,
    fired_by=("timestamps-strings", "plural-chunk-key"),
)
def timestamps_numeric(ctx: CheckContext) -> Iterator[str]:
    """Each chunk's timestamp is ``[start, end]`` in seconds, numbers (open ends: timestamp_end_present)."""
    key = timestamp_key(ctx.view)
    for i, chunks in _chunks(ctx):
        for n, chunk in enumerate(chunks):
            if not isinstance(chunk, dict):
                yield f"{where(ctx, i)}chunk {n} is not an object: {short(chunk)}"
                continue
            if key not in chunk:
                others = [k for k in chunk if k.startswith("timestamp")]
                hint = f" (has {', '.join(others)})" if others else ""
                yield f"{where(ctx, i)}chunk {n} has no `{key}`{hint}"
                continue
            stamp = chunk[key]
            if not isinstance(stamp, list) or len(stamp) != 2:
                yield f"{where(ctx, i)}chunk {n} `{key}` is not a [start, end] pair: {short(stamp)}"
                continue
            start, end = stamp
            if not _number(start) or not (_number(end) or end is None):
                yield f"{where(ctx, i)}chunk {n} `{key}` holds non-numbers: {short(stamp)}"


@check(
    id="timestamp_end_present",
    title="Chunk end timestamp is null",
    evidence="observed",
    spec_ref="E11",
    applies=_has_chunks,
    fired_by=("timestamp-null-end",),
)
def timestamp_end_present(ctx: CheckContext) -> Iterator[str]:
    """No chunk ends in ``null`` (a known upstream bug, transformers #23231, still a deviation)."""
    for i, chunks in _chunks(ctx):
        for n, _, end in _pairs(ctx, chunks):
            if end is None:
                yield (
                    f"{where(ctx, i)}chunk {n} of {len(chunks)} ends in null "
                    "(known upstream: transformers #23231, Whisper leaves the last end open)"
                )


@check(
    id="timestamps_within_audio",
    title="Chunk timestamp outside the audio",
    evidence="documented",
    spec_ref="body:chunks",
    applies=_has_chunks,
    fired_by=("timestamps-past-end", "timestamps-decreasing"),
)
def timestamps_within_audio(ctx: CheckContext) -> Iterator[str | Problem]:
    """Every chunk has 0 ≤ start ≤ end ≤ audio duration (+ encoder delay and 20 ms timestamp step).

    An end past the audio is only a warning: real Whisper (tiny.en, measured) places words it invents
    on short silence, noise or tones up to 1.8 s past the end (0.3 s of silence: " you" [0.0, 2.06]).
    """
    duration = ctx.case.expected_duration_s
    limit = None if duration is None else duration + ctx.case.duration_tolerance_s + TIMESTAMP_STEP_S
    judged = 0
    for i, chunks in _chunks(ctx):
        for n, start, end in _pairs(ctx, chunks):
            if not _number(start):
                continue
            judged += 1
            if start < 0:
                yield f"{where(ctx, i)}chunk {n} starts before 0: {start}"
            if _number(end):
                if end < start:
                    yield f"{where(ctx, i)}chunk {n} ends before it starts: [{start}, {end}]"
                if limit is not None and end > limit:
                    yield Problem(
                        f"{where(ctx, i)}chunk {n} ends at {end} s, past the audio's {duration:.3f} s",
                        evidence="observed",
                        title="Chunk ends after the audio",
                    )
    if not judged:
        # Nothing to bound (no numeric start, e.g. a misnamed key): other checks judge the shape.
        raise Skip("no chunk carries a numeric timestamp")


@check(
    id="timestamps_ordered",
    title="Chunk timestamps go backwards",
    evidence="observed",
    spec_ref="body:chunks",
    applies=_has_chunks,
    fired_by=("timestamps-decreasing",),
)
def timestamps_ordered(ctx: CheckContext) -> Iterator[str]:
    """Chunks come in time order: starts and ends never decrease from one chunk to the next."""
    for i, chunks in _chunks(ctx):
        previous: tuple[int, Any, Any] | None = None
        for n, start, end in _pairs(ctx, chunks):
            if previous is not None:
                pn, pstart, pend = previous
                if _number(start) and _number(pstart) and start < pstart:
                    yield f"{where(ctx, i)}chunk {n} starts at {start}, before chunk {pn} ({pstart})"
                elif _number(end) and _number(pend) and end < pend:
                    yield f"{where(ctx, i)}chunk {n} ends at {end}, before chunk {pn} ({pend})"
            previous = (n, start, end)


def normalise(text: str) -> str:
    """Whitespace runs to one space, ends stripped."""
    return " ".join(text.split())


@check(
    id="chunk_text_matches_text",
    title="Chunk texts do not add up to the text",
    evidence="observed",
    spec_ref="body:chunks.text",
    applies=_has_chunks,
    fired_by=("chunk-text-mismatch",),
)
def chunk_text_matches_text(ctx: CheckContext) -> Iterator[str]:
    """The chunks' texts joined (with or without spaces) equal ``text`` after whitespace normalisation.

    For implementation-defined levels (``"char"``, ``"word"`` ...) the server chooses what a chunk holds
    (CTC character chunks carry no spaces), so only the characters are compared, whitespace ignored.
    """
    for i, ex, body in successes(ctx):
        chunks, text = body.get("chunks"), body.get("text")
        if not isinstance(chunks, list) or not chunks or not isinstance(text, str):
            continue
        parts = [c.get("text") for c in chunks if isinstance(c, dict)]
        if not all(isinstance(p, str) for p in parts):
            continue  # response_schema_conformance names non-string chunk texts
        target = normalise(text)
        if timestamps_level(ex.request) == "other":
            if "".join(target.split()) != "".join("".join(parts).split()):
                joined = short("".join(parts))
                yield f"{where(ctx, i)}chunk characters {joined} differ from text {short(target)}"
            continue
        if target not in (normalise("".join(parts)), normalise(" ".join(parts))):
            joined = short(normalise(" ".join(parts)))
            yield f"{where(ctx, i)}chunks join to {joined}, text is {short(target)}"


def _speech_asked_timestamps(ctx: CheckContext) -> bool:
    audio = ctx.case.audio
    if audio is None or audio.kind != "speech" or ctx.case.malformed:
        return False
    return any(timestamps_level(ex.request) == "segment" for _, ex, _ in successes(ctx))


@check(
    id="speech_chunks_not_empty",
    title="Speech with timestamps answered with empty chunks or text",
    evidence="documented",
    spec_ref="payload:parameters.return_timestamps",
    applies=_speech_asked_timestamps,
    fired_by=("empty-timestamped-speech",),
)
def speech_chunks_not_empty(ctx: CheckContext) -> Iterator[str]:
    """Speech asked for timestamps gets non-empty chunks whose texts add up to a non-empty ``text``.

    Seen on HF's own serving code with a converted tiny.en: ``{"text": "", "chunks": []}`` for clear
    speech, which every other check lets through (the list is there, and empty lists join to "").
    """
    for i, ex, body in successes(ctx):
        if timestamps_level(ex.request) != "segment":
            continue
        chunks, text = body.get("chunks"), body.get("text")
        if not isinstance(chunks, list):
            continue  # chunks_when_timestamps_requested names it
        if not chunks:
            yield f"{where(ctx, i)}speech answered with no chunks (`chunks: []`)"
        parts = [c.get("text") for c in chunks if isinstance(c, dict)]
        if chunks and not "".join(p for p in parts if isinstance(p, str)).strip():
            yield f"{where(ctx, i)}every chunk's text is empty: {short(chunks)}"
        if isinstance(text, str) and not text.strip():
            yield f"{where(ctx, i)}speech answered with an empty text ({text!r})"


CHECKS = (
    chunks_when_timestamps_requested,
    chunks_absent_unless_requested,
    timestamps_numeric,
    timestamp_end_present,
    timestamps_within_audio,
    timestamps_ordered,
    chunk_text_matches_text,
    speech_chunks_not_empty,
)
