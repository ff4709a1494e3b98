"""Accumulating a comparison: per-target verdicts, pair agreement, differences, the result a report shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.compare.behaviour import BehaviourSection, section
from asr_conformance.conformance.compare.observe import DIMENSIONS, Observation, SchemaCheck, observe
from asr_conformance.conformance.model import (
    CaseFinished,
    Outcome,
)
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.conformance.transcripts import wer

DEFAULT_WER_THRESHOLD = 0.5


MOCK_WER_NOTE = "not compared: {who} synthetic (a mock); WER needs two real ASR engines"


@dataclass(frozen=True)
class Difference:
    """Targets disagreeing on one dimension of one exchange of one case."""

    case_id: str
    description: str
    exchange: int
    dimension: str  # one of DIMENSIONS, or "transcript"
    values: dict[str, str]  # target label -> what it showed
    note: str = ""


@dataclass
class PairStats:
    """Agreement between two targets over the cases both answered."""

    cases: int = 0
    agreeing_cases: int = 0
    by_dimension: Counter[str] = field(default_factory=Counter)  # dimension -> disagreeing exchanges
    wers: list[float] = field(default_factory=list)
    wer_note: str = ""

    @property
    def agreement(self) -> float | None:
        return self.agreeing_cases / self.cases if self.cases else None

    @property
    def mean_wer(self) -> float | None:
        return sum(self.wers) / len(self.wers) if self.wers else None


@dataclass
class TargetSummary:
    """One target's own verdicts over the compared cases."""

    label: str
    info: TargetInfo
    by_check: dict[str, Counter[str]] = field(default_factory=dict)  # check id -> outcome -> count

    def add(self, event: CaseFinished) -> None:
        for result in event.results:
            self.by_check.setdefault(result.check_id, Counter())[str(result.outcome)] += 1

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.by_check.values():
            total.update(counts)
        return total

    @property
    def conformance(self) -> float | None:
        """Share of judged verdicts (pass, fail, error) that passed; SKIP and 503/429 are not verdicts."""
        t = self.totals()
        judged = t[Outcome.PASS] + t[Outcome.FAIL] + t[Outcome.ERROR]
        return t[Outcome.PASS] / judged if judged else None


@dataclass
class CompareResult:
    """Everything a compare report shows."""

    labels: list[str]
    targets: dict[str, TargetSummary]
    pairs: dict[tuple[str, str], PairStats]
    differences: list[Difference]
    cases: int
    wer_threshold: float
    seed: int | None = None
    profile: str = ""
    spec_view: str = "served"
    suite_version: str = ""
    notes: list[str] = field(default_factory=list)
    behaviour: BehaviourSection | None = None  # None: no behaviour phase (profile, --checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "targets": [
                {
                    "label": label,
                    "name": self.targets[label].info.name,
                    "is_mock": is_mock(self.targets[label].info),
                    "conformance": self.targets[label].conformance,
                    "checks": {k: dict(v) for k, v in sorted(self.targets[label].by_check.items())},
                }
                for label in self.labels
            ],
            "pairs": [
                {
                    "a": a,
                    "b": b,
                    "cases": p.cases,
                    "agreeing_cases": p.agreeing_cases,
                    "agreement": p.agreement,
                    "disagreements_by_dimension": dict(p.by_dimension),
                    "mean_wer": p.mean_wer,
                    "wer_note": p.wer_note,
                }
                for (a, b), p in self.pairs.items()
            ],
            "differences": [d.__dict__ for d in self.differences],
            "cases": self.cases,
            "wer_threshold": self.wer_threshold,
            "seed": self.seed,
            "profile": self.profile,
            "spec_view": self.spec_view,
            "suite_version": self.suite_version,
            "notes": self.notes,
            "behaviour": None if self.behaviour is None else self.behaviour.to_json(),
        }


def is_mock(info: TargetInfo) -> bool:
    """Transcripts from this target are synthetic (the mock, or a recording of it)."""
    return info.is_mock


def labels_for(infos: Sequence[TargetInfo]) -> list[str]:
    """Distinct report labels: the target names, numbered where two are the same."""
    counts = Counter(i.name for i in infos)
    seen: Counter[str] = Counter()
    labels = []
    for info in infos:
        seen[info.name] += 1
        labels.append(f"{info.name} #{seen[info.name]}" if counts[info.name] > 1 else info.name)
    return labels


def common_info(infos: Sequence[TargetInfo]) -> TargetInfo:
    """The target every compared target can stand in for, so planning picks only cases all can take.

    Mock-only fault headers go out only if every target exposes the mock controls, auth scenarios only if
    every target has a token, a body-limit case only under the smallest declared limit.
    """
    limits = [i.max_body_bytes for i in infos]
    return TargetInfo(
        name="compare:" + ",".join(i.name for i in infos),
        model_url="",
        exposes_mock_controls=all(i.exposes_mock_controls for i in infos),
        has_token=all(i.has_token for i in infos),
        max_body_bytes=min(limits) if all(v is not None for v in limits) else None,  # type: ignore[type-var]
        is_mock=all(i.is_mock for i in infos),
        is_replay=any(i.is_replay for i in infos),
    )


def _is_speech(case: CaseSpec) -> bool:
    return case.audio is not None and case.audio.kind == "speech"


class Comparison:
    """Accumulates per-case results from every target and builds the :class:`CompareResult`."""

    def __init__(
        self,
        labels: Sequence[str],
        infos: Sequence[TargetInfo],
        schema_ok: SchemaCheck,
        *,
        wer_threshold: float = DEFAULT_WER_THRESHOLD,
    ) -> None:
        self.labels = list(labels)
        self.infos = dict(zip(self.labels, infos, strict=True))
        self.schema_ok = schema_ok
        self.wer_threshold = wer_threshold
        self.targets = {label: TargetSummary(label, info) for label, info in self.infos.items()}
        self.pairs = {pair: PairStats() for pair in combinations(self.labels, 2)}
        for a, b in self.pairs:
            mocks = [x for x in (a, b) if is_mock(self.infos[x])]
            if mocks:
                who = f"{mocks[0]}'s transcripts are" if len(mocks) == 1 else "both sides' transcripts are"
                self.pairs[(a, b)].wer_note = MOCK_WER_NOTE.format(who=who)
        self.differences: list[Difference] = []
        self.cases = 0
        # each target's behaviour-phase cases: they differ between targets (a deaf one gets SKIPs after
        # the probe), so they are summarised per target, not compared case by case
        self.behaviour: dict[str, list[CaseFinished]] | None = None

    def add_behaviour(self, label: str, events: Sequence[CaseFinished]) -> None:
        """Take one target's behaviour-phase cases (its verdicts count in its summary too)."""
        for event in events:
            self.targets[label].add(event)
        self._behaviour_cases()[label].extend(events)

    def _behaviour_cases(self) -> dict[str, list[CaseFinished]]:
        if self.behaviour is None:
            self.behaviour = {x: [] for x in self.labels}
        return self.behaviour

    def add(self, case: CaseSpec, events: dict[str, CaseFinished]) -> None:
        """Take one case's result from every target."""
        self.cases += 1
        for label, event in events.items():
            self.targets[label].add(event)
        if any(e.phase == "behaviour" for e in events.values()):  # a recording's behaviour phase
            for label, event in events.items():
                self._behaviour_cases()[label].append(event)
        observed = {
            label: [observe(x, self.schema_ok) for x in event.exchanges] for label, event in events.items()
        }
        description = next(iter(events.values())).description if events else case.id
        for (a, b), stats in self.pairs.items():
            stats.cases += 1
            disagree = self._pair_differences(observed[a], observed[b])
            for dimension in disagree:
                stats.by_dimension[dimension] += 1
            if _is_speech(case) and not stats.wer_note:
                texts = self._texts(observed[a], observed[b])
                if texts is not None:
                    score = wer(*texts)
                    stats.wers.append(score)
                    if score > self.wer_threshold:
                        disagree.add("transcript")
                        self.differences.append(
                            Difference(
                                case.id,
                                description,
                                0,
                                "transcript",
                                {a: texts[0], b: texts[1]},
                                note=f"WER {score:.2f} > {self.wer_threshold:.2f}",
                            )
                        )
            if not disagree:
                stats.agreeing_cases += 1
        self._record_differences(case.id, description, observed)

    @staticmethod
    def _pair_differences(a: list[Observation], b: list[Observation]) -> set[str]:
        if len(a) != len(b):
            return {"status"}  # one target's scenario stopped early (e.g. a transport error)
        return {d for x, y in zip(a, b, strict=True) for d in DIMENSIONS if x.value(d) != y.value(d)}

    @staticmethod
    def _texts(a: list[Observation], b: list[Observation]) -> tuple[str, str] | None:
        """The two transcripts of the case's first exchange, when both targets gave one."""
        text_a, text_b = (a[0].text if a else None), (b[0].text if b else None)
        return (text_a, text_b) if text_a is not None and text_b is not None else None

    def _record_differences(
        self, case_id: str, description: str, observed: dict[str, list[Observation]]
    ) -> None:
        depth = max((len(v) for v in observed.values()), default=0)
        for index in range(depth):
            at = {label: obs[index] if index < len(obs) else None for label, obs in observed.items()}
            for dimension in DIMENSIONS:
                values = {label: _show(o.value(dimension) if o else "no exchange") for label, o in at.items()}
                if len(set(values.values())) > 1:
                    self.differences.append(Difference(case_id, description, index, dimension, values))

    def result(self, **run: Any) -> CompareResult:
        return CompareResult(
            labels=self.labels,
            targets=self.targets,
            pairs=self.pairs,
            differences=self.differences,
            cases=self.cases,
            wer_threshold=self.wer_threshold,
            behaviour=None if self.behaviour is None else section(self.behaviour),
            **run,
        )


def _show(value: str | None) -> str:
    return "—" if value is None else value
