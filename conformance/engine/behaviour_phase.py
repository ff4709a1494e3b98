"""The behaviour phase: send known speech, judge what the target heard.

``await behaviour_phase(target, config, budget)`` returns one :class:`CaseFinished` per behavioural
case. First the recogniser probe: one clean clip; when its WER exceeds :data:`HEARS_WER` (synthetic
servers such as the mock, garbage), every behavioural check is SKIP with the probe's figure and
nothing more is sent. Otherwise: the clean clips alone (their answers are the reference for the rest),
each invariance variant, ``max_new_tokens``, the pauses layout and the long clip with timestamps, and
the clean clips again all at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from asr_conformance.conformance.behaviour import corpus, variants
from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.checks.behaviour import CHECKS, PROTOCOLS
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.execute import judge
from asr_conformance.conformance.model import CaseFinished, Exchange, Request
from asr_conformance.conformance.target import Target
from asr_conformance.conformance.targets.http import BudgetExhausted, send_with_backoff
from asr_conformance.conformance.transcripts import wer

if TYPE_CHECKING:
    from asr_conformance.conformance.checks.base import Check
    from asr_conformance.conformance.engine.config import RunConfig

#: the probe's bound: tiny.en scores 0.00 on the probe clip, the mock's synthetic words about 1.0
HEARS_WER = 0.5
#: the probe clip (index into the packaged corpus): short, and every model tried gets it right
PROBE = 1
BEHAVIOUR_IDS = frozenset(c.id for c in CHECKS)


@dataclass(frozen=True)
class Limits:
    """How much of the corpus a run sends."""

    clips: int = 4  # clean clips (transcript check, isolation); the probe clip is one of them
    invariance_clips: int = 1  # clips sent in each invariance variant
    concurrency: int = 4  # clips sent at once (at most ``clips``)
    long: bool = True  # the 45-60 s clip
    long_sentences: int | None = None  # None: every packaged sentence
    long_pause_s: float = 3.0
    only: frozenset[str] | None = None  # protocols to run (tests); None: all
    variants: frozenset[str] | None = None  # invariance variants by name (tests); None: all
    voices: tuple[tuple[str, int], ...] = ()  # more espeak-ng voices (voice, wpm) when it is installed


#: per profile; a profile not named here runs no behaviour phase
PROFILE_LIMITS: dict[str, Limits] = {
    "quick": Limits(),
    "default": Limits(clips=8, invariance_clips=2, voices=(("en-gb-scotland", 140), ("en-us+f2", 190))),
    "thorough": Limits(
        clips=8,
        invariance_clips=4,
        concurrency=8,
        voices=(("en-gb-scotland", 140), ("en-us+f2", 190), ("en-gb-x-rp", 175), ("en+m4", 150)),
    ),
}


def enabled(profile: str, checks: Sequence[Check]) -> bool:
    """True when the profile has a behaviour phase and a behavioural check is selected."""
    return profile in PROFILE_LIMITS and any(c.id in BEHAVIOUR_IDS for c in checks)


class _Session:
    """One phase: the target, the run's settings, the budget, and the cases judged so far."""

    def __init__(
        self,
        target: Target,
        config: RunConfig,
        budget: Budget,
        checks: Sequence[Check],
        on_case: Callable[[CaseFinished], None] | None = None,
    ) -> None:
        self.target, self.config, self.budget = target, config, budget
        self.checks = [c for c in checks if c.id in BEHAVIOUR_IDS]
        self.finished: list[CaseFinished] = []
        self.on_case = on_case

    async def send(self, samples: np.ndarray, variant: variants.Variant) -> Exchange:
        request: Request = await asyncio.to_thread(variants.request, samples, variant)
        timeout = max(self.config.request_timeout, 60.0 + 4 * len(samples) / corpus.RATE)
        exchange, _ = await send_with_backoff(
            self.target,
            request,
            timeout=timeout,
            max_retries=self.config.max_retries,
            max_wait_s=self.config.max_retry_wait_s,
            on_attempt=self.budget.take,
        )
        return exchange

    def judge(self, protocol: str, name: str, exchanges: Sequence[Exchange], known: dict[str, Any]) -> None:
        case = CaseSpec(
            id=f"behaviour-{name.replace(' ', '-')}",
            phase="behaviour",
            kind="protocol",
            form="raw",
            audio=None,
            protocol=protocol,
            meta={"behaviour": known},
        )
        self.finished.append(judge(case, tuple(exchanges), self.target.info, self.config, checks=self.checks))
        if self.on_case is not None:
            self.on_case(self.finished[-1])


def text(exchange: Exchange) -> str | None:
    """The answer's text when it is a 200 with a string ``text``."""
    if exchange.response is None or exchange.response.status != 200:
        return None
    try:
        body = json.loads(exchange.response.body)
    except ValueError:
        return None
    value = body.get("text") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


async def behaviour_phase(
    target: Target,
    config: RunConfig,
    budget: Budget,
    *,
    checks: Sequence[Check] | None = None,
    limits: Limits | None = None,
    on_case: Callable[[CaseFinished], None] | None = None,
) -> list[CaseFinished]:
    """Run the behaviour phase; returns its cases (fewer when the request budget runs out).

    ``on_case`` sees each case as soon as it is judged (progress: the phase can take minutes)."""
    from asr_conformance.conformance.engine.config import selected_checks

    limits = limits or PROFILE_LIMITS.get(config.profile, Limits())
    chosen = selected_checks(config) if checks is None else checks
    session = _Session(target, config, budget, chosen, on_case)
    if session.checks:
        with contextlib.suppress(BudgetExhausted):  # the budget is spent: what was judged stands
            await _run(session, limits)
    return session.finished


async def _run(session: _Session, limits: Limits) -> None:
    clips = corpus.packaged()[: max(limits.clips, PROBE + 1)]
    probe = await session.send(clips[PROBE].samples, variants.CLEAN)
    heard = text(probe)
    skip = None
    if heard is None:
        skip = (
            f"the probe clip got no transcript (status {probe.response.status if probe.response else None})"
        )
    elif heard.strip() and (score := wer(clips[PROBE].text, heard)) > HEARS_WER:
        skip = f"the target does not transcribe speech (WER {score:.2f} on the clean clip)"
    if skip is not None:
        for protocol in PROTOCOLS:
            session.judge(protocol, protocol.removeprefix("behaviour_"), [probe], {"skip": skip})
        return
    alone = [
        probe if i == PROBE else await session.send(c.samples, variants.CLEAN) for i, c in enumerate(clips)
    ]
    clean_texts = [text(e) or "" for e in alone]
    want = limits.only or frozenset(PROTOCOLS)
    if "behaviour_transcript" in want:
        voiced = await asyncio.to_thread(_voiced, clips, limits.voices)
        heard = alone + [await session.send(c.samples, variants.CLEAN) for c in voiced]
        texts = [c.text for c in (*clips, *voiced)]
        session.judge("behaviour_transcript", "transcript", heard, {"texts": texts})
    if "behaviour_invariance" in want:
        await _invariance(session, clips[: limits.invariance_clips], clean_texts, limits.variants)
    if "behaviour_max_new_tokens" in want:
        bounded = variants.with_parameters(variants.CLEAN, "max", generation_parameters={"max_new_tokens": 3})
        exchange = await session.send(clips[0].samples, bounded)
        session.judge(
            "behaviour_max_new_tokens", "max-new-tokens", [exchange], {"unbounded_text": clean_texts[0]}
        )
    if "behaviour_alignment" in want:
        await _layout(session, "behaviour_alignment", corpus.pauses_layout())
    if limits.long and "behaviour_long" in want:
        sentences = corpus.packaged()[: limits.long_sentences]
        await _layout(session, "behaviour_long", corpus.layout("long", sentences, limits.long_pause_s))
    if "behaviour_isolation" in want:
        together = clips[: max(2, limits.concurrency)]
        sent = await asyncio.gather(*(session.send(c.samples, variants.CLEAN) for c in together))
        session.judge("behaviour_isolation", "isolation", sent, {"alone_texts": clean_texts[: len(together)]})


def planned(profile: str, checks: Sequence[Check], limits: Limits | None = None) -> int:
    """How many cases the phase emits against a target that hears (0 when it does not run); a deaf
    target gets fewer, one SKIP per protocol, and a spent budget fewer still."""
    if limits is None and not enabled(profile, checks):
        return 0
    limits = limits or PROFILE_LIMITS[profile]
    want = limits.only or frozenset(PROTOCOLS)
    names = [v.name for v in variants.invariance_variants()]
    count = sum(1 for name in names if limits.variants is None or name in limits.variants)
    counts = {
        "behaviour_transcript": 1,
        "behaviour_invariance": count,
        "behaviour_max_new_tokens": 1,
        "behaviour_alignment": 1,
        "behaviour_long": 1 if limits.long else 0,
        "behaviour_isolation": 1,
    }
    return sum(n for protocol, n in counts.items() if protocol in want)


def _voiced(clips: Sequence[corpus.Clip], voices: tuple[tuple[str, int], ...]) -> list[corpus.Clip]:
    """The clips' sentences in more espeak-ng voices (none without espeak-ng: the packaged ones stand)."""
    if not voices or not corpus.espeak_available():
        return []
    return [
        corpus.Clip(f"{c.id}-{voice}-{wpm}", c.text, corpus.espeak_sentence(c.text, voice, wpm))
        for voice, wpm in voices
        for c in clips
    ]


async def _invariance(
    session: _Session, clips: Sequence[corpus.Clip], clean_texts: list[str], names: frozenset[str] | None
) -> None:
    references = [c.text for c in clips]
    clean_wer = sum(wer(r, t) for r, t in zip(references, clean_texts, strict=False)) / len(clips)
    for variant in variants.invariance_variants():
        if names is not None and variant.name not in names:
            continue
        exchanges = [await session.send(c.samples, variant) for c in clips]
        known = {
            "variant": variant.describe(),
            "rate": variant.rate,
            "texts": references,
            "clean_wer": round(clean_wer, 4),
            "clean_texts": clean_texts[: len(clips)],
            "lossless": variant.codec == "flac" and variant.rate == corpus.RATE and variant.channels == 1,
        }
        session.judge("behaviour_invariance", f"invariance {variant.name}", exchanges, known)


async def _layout(session: _Session, protocol: str, layout: corpus.Layout) -> None:
    timed = variants.with_parameters(variants.CLEAN, "timestamps", return_timestamps=True)
    exchange = await session.send(layout.samples, timed)
    known = {
        "texts": list(layout.texts),
        "spans": [list(s) for s in layout.spans],
        "duration_s": layout.duration_s,
    }
    session.judge(protocol, layout.id, [exchange], known)


__all__ = [
    "BEHAVIOUR_IDS",
    "HEARS_WER",
    "PROFILE_LIMITS",
    "Limits",
    "behaviour_phase",
    "enabled",
    "planned",
    "variant_wers",
]


def variant_wers(cases: Iterable[CaseFinished]) -> dict[str, float | None]:
    """``{variant: mean WER}`` over the clips the variant was sent with; None when nothing was heard
    (an error, or the probe found the target deaf). Keys: ``clean``, each invariance variant, ``pauses``
    and ``long`` (timestamps on)."""
    figures: dict[str, float | None] = {}
    for case in cases:
        known = (case.meta or {}).get("behaviour") or {}
        if case.phase != "behaviour" or known.get("skip") or "texts" not in known:
            continue
        protocol = (case.meta.get("case") or {}).get("protocol", "")
        if protocol == "behaviour_transcript":
            name = "clean"
        elif protocol == "behaviour_invariance":
            name = known["variant"]
        elif protocol in ("behaviour_alignment", "behaviour_long"):
            name = case.case_id.removeprefix("behaviour-")
        else:
            continue
        layout = protocol in ("behaviour_alignment", "behaviour_long")  # one clip: all the sentences
        references = [" ".join(known["texts"])] if layout else list(known["texts"])
        heard = [text(e) for e in case.exchanges[: len(references)]]
        if any(h is None for h in heard):
            figures[name] = None
            continue
        rates = [wer(r, h or "") for r, h in zip(references, heard, strict=True)]
        figures[name] = round(sum(rates) / len(rates), 4)
    return figures
