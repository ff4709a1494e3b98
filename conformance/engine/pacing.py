"""Fitting the run to the target: per-case timeouts from measured speed, and how many cases are in flight.

The probe times a short clip; every answer after it refines the estimate of seconds of work per second of
audio. A case's timeout is that estimate × its audio × the requests that may be queued ahead of it, with a
wide margin, bounded above by ``--request-timeout``. The number of cases in flight adapts the way TCP
congestion control does: start at 2, double while answers stay near the fastest seen for audio of that
length (slow start), then grow by one per window of fast answers; shrink by a quarter when answers slow
down as a queue builds at the target; halve on a timeout, a 429 or a 503. ``--workers`` is the ceiling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.model import CaseFinished, Outcome
from asr_conformance.conformance.target import TargetInfo

MARGIN = 8.0  # timeout = MARGIN × expected latency: a busy machine may be several times slower
FLOOR_S = 10.0  # never less than this: connection setup, a model's first call, a GC pause
START_WINDOW = 2
FAST = 2.0  # an answer within FAST × the fastest seen (per second of audio): room for more in flight
QUEUED = 4.0  # beyond QUEUED × the fastest seen: requests are queueing at the target, fewer in flight
SLACK_S = 0.25  # latency differences below this are jitter, not a queue
#: the window compares an answer with the fastest seen for audio of about the same length (buckets of
#: this many seconds): a target's fixed cost per request and its cost per second of audio both cancel out
BUCKET_S = 0.5
#: generation parameters whose large values make decoding expensive (beams, lengths, candidates)
EXPENSIVE_KEYS = frozenset(
    {"num_beams", "num_beam_groups", "max_new_tokens", "max_length", "min_length", "min_new_tokens", "top_k"}
)
EXPENSIVE_AT = 32


def expensive(case: CaseSpec) -> bool:
    """An implementation-defined case that may keep a faithful target busy for minutes (64 beams, 2³¹
    tokens, contrastive search with a huge penalty): sent last, alone, under ``--request-timeout``."""
    if case.kind != "implementation_defined":
        return False
    gen = (case.parameters or {}).get("generation_parameters")
    if not isinstance(gen, dict):
        return False
    for key, value in gen.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if (key in EXPENSIVE_KEYS and abs(value) >= EXPENSIVE_AT) or (key == "penalty_alpha" and value > 1):
            return True
    return False


def sent_last(case: CaseSpec, info: TargetInfo) -> bool:
    """Sent last and alone: an expensive case may take a real engine minutes. A mock's cost does not
    depend on the parameters (its transcripts are synthetic), so it takes them with the rest."""
    return expensive(case) and not info.is_mock


def audio_s(case: CaseSpec) -> float:
    return max(1.0, case.audio.duration_s if case.audio is not None else 1.0)


def timed_out(finished: CaseFinished) -> bool:
    return any((e.transport_error or "").startswith("timeout") for e in finished.exchanges)


def not_judged(finished: CaseFinished, why: str) -> CaseFinished:
    """``finished`` with its ERROR verdicts made PRECONDITION_FAILED: a timeout the case did not cause."""
    results = tuple(
        replace(r, outcome=Outcome.PRECONDITION_FAILED, failures=(), message=why)
        if r.outcome is Outcome.ERROR
        else r
        for r in finished.results
    )
    return replace(finished, results=results, repro=None, meta={**finished.meta, "not_judged": why})


class Pacer:
    """Cases in flight (a window that adapts) and the timeout each case gets."""

    def __init__(self, ceiling: int, request_timeout: float) -> None:
        self.ceiling = max(1, ceiling)
        self.request_timeout = request_timeout
        self.window = float(min(START_WINDOW, self.ceiling))
        self.threshold = float(self.ceiling)  # slow start below it, additive increase above
        self.per_audio_s: float | None = None  # seconds of work per second of audio
        self.bases: dict[tuple[int, int], float] = {}  # fastest answer per (status class, audio bucket)
        self.in_flight = 0
        self.peak = 0
        self.backoffs = 0
        self._changed = asyncio.Condition()
        self._solo = False

    def measure(self, elapsed_s: float, audio_duration_s: float) -> None:
        """Fold one answer's latency into the estimate (an average that forgets slowly)."""
        rate = elapsed_s / max(1.0, audio_duration_s)
        self.per_audio_s = rate if self.per_audio_s is None else 0.8 * self.per_audio_s + 0.2 * rate

    def expected_s(self, case: CaseSpec) -> float:
        return (self.per_audio_s or 0.0) * audio_s(case)

    def timeout_for(self, case: CaseSpec) -> float:
        """MARGIN × expected latency × the window (requests the target may be working on ahead of it)."""
        if self.per_audio_s is None:
            return self.request_timeout
        estimate = MARGIN * self.expected_s(case) * max(1.0, self.window)
        return min(self.request_timeout, max(FLOOR_S, estimate))

    def observe(self, case: CaseSpec, finished: CaseFinished) -> None:
        """Grow the window while answers stay near the fastest seen, shrink it when they queue up,
        halve it on a timeout, 429 or 503 (delay-based, the way TCP Vegas reads a queue's growth)."""
        # a 503 the case asked for (a mock fault: the loading scenario) says nothing about congestion
        statuses = [
            e.response.status
            for e in finished.exchanges
            if e.response is not None and e.request.header("x-mock-fault") is None
        ]
        if timed_out(finished) or any(s in (429, 503) for s in statuses):
            self.backoffs += 1
            self.threshold = max(1.0, self.window / 2)
            self.window = self.threshold
            return
        answers = [e.response for e in finished.exchanges if e.response is not None]
        if not answers:
            return
        seconds = audio_s(case)
        for answer in answers:
            self.measure(answer.elapsed_s / max(1, self.in_flight), seconds)
        slowest = max(answers, key=lambda a: a.elapsed_s)
        # a refusal costs no decoding: it is compared with refusals only, never with transcriptions
        latency = slowest.elapsed_s
        base = self.record_base(latency, seconds, kind=slowest.status // 100)
        # Slack in seconds as well as a ratio: a fast target's milliseconds of jitter are no queue.
        if latency > max(QUEUED * base, base + SLACK_S):
            self.threshold = max(1.0, self.window * 0.75)
            self.window = self.threshold
        elif latency <= max(FAST * base, base + SLACK_S):
            grow = 1.0 if self.window < self.threshold else 1.0 / self.window
            self.window = min(float(self.ceiling), self.window + grow)

    def record_base(self, latency_s: float, audio_duration_s: float, kind: int = 2) -> float:
        """Fold an answer into the fastest seen for its audio length and status class; returns it."""
        bucket = (kind, round(audio_duration_s / BUCKET_S))
        base = min(self.bases.get(bucket, latency_s), latency_s)
        self.bases[bucket] = base
        return base

    @contextlib.asynccontextmanager
    async def slot(self, *, solo: bool = False) -> AsyncIterator[None]:
        """Wait for room in the window (``solo``: for an empty target, and keep it empty)."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: (
                    not self._solo
                    and (self.in_flight == 0 if solo else self.in_flight < max(1, int(self.window)))
                )
            )
            self.in_flight += 1
            self._solo = solo
            self.peak = max(self.peak, self.in_flight)
        try:
            yield
        finally:
            async with self._changed:
                self.in_flight -= 1
                if solo:
                    self._solo = False
                self._changed.notify_all()

    def summary(self) -> dict[str, Any]:
        return {
            "window": round(self.window, 1),
            "peak_in_flight": self.peak,
            "backoffs": self.backoffs,
            "per_audio_s": round(self.per_audio_s or 0.0, 4),
        }


__all__ = ["Pacer", "audio_s", "expensive", "not_judged", "sent_last", "timed_out"]
