"""Behavioural checks: does the target hear the known speech, the same way whatever the encoding?

They judge the cases of the behaviour phase (``CaseSpec.protocol`` ``behaviour_*``); the known facts
(texts, sentence spans, the target's own clean WER) are in ``case.meta["behaviour"]``, the answers in
the exchanges. A target the recogniser probe found deaf to speech gets SKIP with the probe's reason.
Bounds come from tiny.en through HTTP (docs/checks.md, "Behaviour").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from asr_conformance.conformance.checks.base import CheckContext, Problem, Skip, check
from asr_conformance.conformance.checks.reading import response_json
from asr_conformance.conformance.transcripts import normalise_transcript, wer

#: mean WER over the clean clips (tiny.en: 0.12) and the worst single clip (tiny.en: 0.38)
MEAN_WER_BOUND = 0.35
CLIP_WER_BOUND = 0.6
#: how much worse than its own clean WER a variant may be (tiny.en: +0.05 at most; 8 kHz: +0.32, the
#: telephone band loses what espeak-ng puts above 4 kHz)
INVARIANCE_ALLOWANCE = 0.25
NARROWBAND_ALLOWANCE = 0.5
#: seconds a chunk may stray from the speech it covers (tiny.en's chunk edges fall inside the pauses,
#: its first chunk starts at 0.0 before a 0.5 s lead-in)
ALIGN_TOLERANCE_S = 1.0
#: words allowed for ``max_new_tokens: 3`` (a word may take two tokens, punctuation one)
FEW_WORDS = 5


def behaviour(*names: str) -> Callable[[CheckContext], bool]:
    def applies(ctx: CheckContext) -> bool:
        return ctx.case.kind == "protocol" and ctx.case.protocol in names

    return applies


def facts(ctx: CheckContext) -> dict[str, Any]:
    """The case's known facts; Skip when the probe found the target deaf to speech."""
    known = ctx.case.meta.get("behaviour") or {}
    if known.get("skip"):
        raise Skip(str(known["skip"]))
    return known


def text_of(ctx: CheckContext, index: int) -> str | None:
    response = ctx.exchanges[index].response
    if response is None or response.status != 200:
        return None
    ok, body = response_json(response)
    text = body.get("text") if ok and isinstance(body, dict) else None
    return text if isinstance(text, str) else None


def chunks_of(ctx: CheckContext, index: int) -> list[tuple[float, float]]:
    """``[start, end]`` of each chunk with numeric times (others are the timestamp checks' business)."""
    response = ctx.exchanges[index].response
    ok, body = response_json(response) if response is not None else (False, None)
    spans = []
    for chunk in (body.get("chunks") or []) if ok and isinstance(body, dict) else []:
        stamp = chunk.get("timestamp", chunk.get("timestamps")) if isinstance(chunk, dict) else None
        if isinstance(stamp, list) and len(stamp) == 2 and all(isinstance(t, int | float) for t in stamp):
            spans.append((float(stamp[0]), float(stamp[1])))
    return spans


def answered(ctx: CheckContext, index: int) -> str:
    text = text_of(ctx, index)
    if text is None:
        status = ctx.exchanges[index].response.status if ctx.exchanges[index].response else None
        raise Skip(f"no transcript to judge (status {status})")
    return text


@check(
    id="speech_transcribed",
    title="Transcript does not match the speech",
    evidence="observed",
    spec_ref="payload:inputs",
    applies=behaviour("behaviour_transcript"),
    fired_by=("empty-transcript",),
)
def speech_transcribed(ctx: CheckContext) -> Iterator[str | Problem]:
    """Known speech is transcribed: WER per clean clip and over all of them within bounds, never empty."""
    known = facts(ctx)
    rates = []
    for index, reference in enumerate(known["texts"]):
        text = answered(ctx, index)
        if not text.strip():
            yield Problem(
                f"clip {index + 1}: empty transcript for speech", title="Empty transcript for speech"
            )
            rates.append(1.0)
            continue
        rates.append(wer(reference, text))
        if rates[-1] > CLIP_WER_BOUND:
            heard = text.strip()
            yield f"clip {index + 1}: WER {rates[-1]:.2f} > {CLIP_WER_BOUND} ({heard!r} for {reference!r})"
    mean = sum(rates) / len(rates)
    if mean > MEAN_WER_BOUND:
        yield f"mean WER {mean:.2f} over {len(rates)} clean clips > {MEAN_WER_BOUND}"


@check(
    id="speech_invariant_to_encoding",
    title="The same speech heard worse in another encoding",
    evidence="observed",
    spec_ref="payload:inputs",
    applies=behaviour("behaviour_invariance"),
    fired_by=("no-resample", "interleaved-stereo"),
)
def speech_invariant_to_encoding(ctx: CheckContext) -> Iterator[str | Problem]:
    """Another rate, channel layout, codec or request form is not much worse than the target's clean WER."""
    known = facts(ctx)
    texts = [answered(ctx, i) for i in range(len(known["texts"]))]
    mean = sum(wer(r, t) for r, t in zip(known["texts"], texts, strict=True)) / len(texts)
    allowance = NARROWBAND_ALLOWANCE if known.get("rate", 16000) <= 8000 else INVARIANCE_ALLOWANCE
    if mean > known["clean_wer"] + allowance:
        yield (
            f"{known['variant']}: WER {mean:.2f} against {known['clean_wer']:.2f} for the clean 16 kHz "
            f"mono WAV (allowed +{allowance})"
        )
    if known.get("lossless"):
        for index, (clean, text) in enumerate(zip(known["clean_texts"], texts, strict=True)):
            if normalise_transcript(clean) != normalise_transcript(text):
                yield Problem(
                    f"clip {index + 1}: {known['variant']} gives {text.strip()!r}, the same PCM as WAV "
                    f"{clean.strip()!r} (greedy decoding of identical samples)",
                    title="Lossless re-encoding changed the text",
                )


def _words_present(sentence: str, text: str) -> float:
    wanted = normalise_transcript(sentence).split()
    tail = set(normalise_transcript(text).split()[-2 * len(wanted) :])
    return sum(w in tail for w in wanted) / len(wanted) if wanted else 1.0


@check(
    id="long_form_complete",
    title="Long audio not transcribed to the end",
    evidence="observed",
    spec_ref="E8",
    applies=behaviour("behaviour_long"),
    fired_by=("truncate-30s", "timestamps-reset-per-window"),
)
def long_form_complete(ctx: CheckContext) -> Iterator[str]:
    """Speech past 30 s is transcribed to its last sentence, and chunk times keep growing past 30 s."""
    known = facts(ctx)
    text = answered(ctx, 0)
    last, (onset, end) = known["texts"][-1], known["spans"][-1]
    share = _words_present(last, text)
    if share < 0.5:
        where = f"{onset:.1f}-{end:.1f} s"
        yield f"the last sentence ({where}, {last!r}) is missing: {share:.0%} of its words at the end"
    spans = chunks_of(ctx, 0)
    if not spans:
        return
    reach = max(e for _, e in spans)
    if reach < onset:
        yield f"the chunks end at {reach:.2f} s, before the last sentence starts ({onset:.2f} s)"
    starts = [s for s, _ in spans]
    back = [(a, b) for a, b in itertools.pairwise(starts) if b < a - ALIGN_TOLERANCE_S]
    if back:
        first, then = back[0]
        yield f"chunk times go back from {first:.2f} s to {then:.2f} s (a window restarting at 0?)"


@check(
    id="timestamps_follow_speech",
    title="Chunk times do not follow the speech",
    evidence="observed",
    spec_ref="body:chunks",
    applies=behaviour("behaviour_alignment", "behaviour_long"),
    fired_by=("timestamps-reset-per-window",),
)
def timestamps_follow_speech(ctx: CheckContext) -> Iterator[str]:
    """Every known sentence lies in a chunk, and no chunk lies inside a known pause or past the speech."""
    known = facts(ctx)
    answered(ctx, 0)
    spans = chunks_of(ctx, 0)
    if not spans:
        raise Skip("no chunks with numeric times")
    sentences = [tuple(s) for s in known["spans"]]
    tol = ALIGN_TOLERANCE_S
    for index, (start, end) in enumerate(sentences):
        middle = (start + end) / 2
        if not any(s - tol <= middle <= e + tol for s, e in spans):
            yield f"sentence {index + 1} ({start:.2f}-{end:.2f} s) lies in no chunk"
    for start, end in spans:
        if not any(s - tol < end and start < e + tol for s, e in sentences):
            yield f"chunk [{start:.2f}, {end:.2f}] covers no speech (sentences at {_spans(sentences)})"


def _spans(spans: list[tuple[float, float]]) -> str:
    return ", ".join(f"{s:.1f}-{e:.1f}" for s, e in spans)


@check(
    id="max_new_tokens_effective",
    title="Token limit max_new_tokens has no effect",
    evidence="observed",
    spec_ref="payload:parameters.generation_parameters.max_new_tokens",
    applies=behaviour("behaviour_max_new_tokens"),
    fired_by=("ignore-max-new-tokens",),
)
def max_new_tokens_effective(ctx: CheckContext) -> Iterator[str]:
    """``max_new_tokens: 3`` gives at most a few words where the unbounded answer has many."""
    known = facts(ctx)
    unbounded = len(normalise_transcript(known["unbounded_text"]).split())
    if unbounded <= FEW_WORDS:
        raise Skip(f"the unbounded answer has only {unbounded} words")
    words = len(normalise_transcript(answered(ctx, 0)).split())
    if words > FEW_WORDS:
        yield f"max_new_tokens 3 gave {words} words (unbounded: {unbounded}); expected at most {FEW_WORDS}"


@check(
    id="concurrent_answers_isolated",
    title="Concurrent requests changed each other's answers",
    evidence="observed",
    spec_ref="payload:inputs",
    applies=behaviour("behaviour_isolation"),
    fired_by=("crosstalk-under-load",),
)
def concurrent_answers_isolated(ctx: CheckContext) -> Iterator[str]:
    """Clips sent at once each get the text they get alone (greedy decoding; no cross-talk, no padding)."""
    alone = [normalise_transcript(t) for t in facts(ctx)["alone_texts"]]
    for index, expected in enumerate(alone):
        got = normalise_transcript(answered(ctx, index))
        if got != expected:
            owner = next((i for i, other in enumerate(alone) if other == got and i != index), None)
            whose = f" (clip {owner + 1}'s answer)" if owner is not None else ""
            yield f"clip {index + 1} sent with {len(alone) - 1} others: {got!r}{whose}, alone: {expected!r}"


CHECKS = (
    speech_transcribed,
    speech_invariant_to_encoding,
    long_form_complete,
    timestamps_follow_speech,
    max_new_tokens_effective,
    concurrent_answers_isolated,
)
PROTOCOLS = (
    "behaviour_transcript",
    "behaviour_invariance",
    "behaviour_long",
    "behaviour_alignment",
    "behaviour_max_new_tokens",
    "behaviour_isolation",
)

__all__ = ["CHECKS", "PROTOCOLS"]
