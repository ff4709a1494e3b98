"""The behaviour section of a comparison: known speech sent to every target, WER per variant.

Every target gets the behaviour phase of a run (:func:`behaviour_phase`: the recogniser probe, then the
known-speech corpus in each variant). Per target the section keeps the WER of each variant against the
known text (:func:`variant_wers`); between targets it names the variants where they *diverge*: one
target is much worse on the variant than on its own clean speech (beyond the invariance check's
allowance) while another is not. Relative to each target's own clean WER, so a weaker model is not
singled out for being weaker everywhere. A target the probe finds deaf (the mock, a synthetic server)
is "not judged", with the probe's reason, never counted as a divergence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asr_conformance.conformance.checks.behaviour import INVARIANCE_ALLOWANCE, NARROWBAND_ALLOWANCE
from asr_conformance.conformance.engine.behaviour_phase import Limits, behaviour_phase, variant_wers
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.model import CaseFinished

if TYPE_CHECKING:
    from asr_conformance.conformance.checks.base import Check
    from asr_conformance.conformance.engine.config import RunConfig
    from asr_conformance.conformance.target import Target

CLEAN = "clean"


@dataclass
class TargetBehaviour:
    """One target's WER per variant, and what each is held against."""

    label: str
    wers: dict[str, float | None] = field(default_factory=dict)  # variant -> mean WER (None: no text)
    baselines: dict[str, float] = field(default_factory=dict)  # variant -> own clean WER, same clips
    allowances: dict[str, float] = field(default_factory=dict)  # variant -> allowed increase
    not_judged: str = ""  # why there are no figures (the probe's reason), "" when judged

    def increase(self, variant: str) -> float | None:
        """How much worse than its own clean speech the variant is; None when not comparable."""
        value, base = self.wers.get(variant), self.baselines.get(variant)
        return None if value is None or base is None else value - base

    def degraded(self, variant: str) -> bool | None:
        """True when the variant is worse than clean by more than the invariance allowance."""
        if self.not_judged or variant not in self.wers:
            return None
        if self.wers[variant] is None:
            return True  # speech that got no transcript at all
        rise = self.increase(variant)
        return None if rise is None else rise > self.allowances[variant]

    def show(self, variant: str) -> str:
        if self.not_judged:
            return "not judged"
        if variant not in self.wers:
            return "—"
        value, rise = self.wers[variant], self.increase(variant)
        if value is None:
            return "no transcript"
        if variant == CLEAN or rise is None:
            return f"{value:.3f}"
        return f"{value:.3f} ({rise:+.2f})"


@dataclass(frozen=True)
class Divergence:
    """A variant on which some targets lose much more against their own clean speech than others."""

    variant: str
    values: dict[str, str]  # target label -> its figure, as shown
    note: str


@dataclass
class BehaviourSection:
    """Per target WER per variant, and the variants on which the targets diverge."""

    targets: dict[str, TargetBehaviour]
    divergences: list[Divergence]

    @property
    def variants(self) -> list[str]:
        """Every variant any target was judged on, in the order the phase sends them."""
        seen: dict[str, None] = {}
        for t in self.targets.values():
            seen.update(dict.fromkeys(t.wers))
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "targets": {
                label: {
                    "judged": not t.not_judged,
                    "not_judged": t.not_judged,
                    "wer": t.wers,
                    "clean_wer": t.baselines,
                    "allowed_increase": t.allowances,
                }
                for label, t in self.targets.items()
            },
            "divergences": [d.__dict__ for d in self.divergences],
        }


def summarise(label: str, cases: Iterable[CaseFinished]) -> TargetBehaviour:
    """One target's figures from its behaviour-phase cases (live or replayed)."""
    cases = [c for c in cases if c.phase == "behaviour"]
    summary = TargetBehaviour(label)
    skips = [(c.meta.get("behaviour") or {}).get("skip") for c in cases]
    if not cases:
        summary.not_judged = "no behaviour case was sent (request budget spent)"
        return summary
    if any(skips):
        summary.not_judged = next(s for s in skips if s)
        return summary
    summary.wers = variant_wers(cases)
    clean = summary.wers.get(CLEAN)
    for case in cases:
        known = case.meta.get("behaviour") or {}
        if "clean_wer" in known:  # an invariance case: held against the clean WER of its own clips
            narrow = known.get("rate", 16000) <= 8000
            summary.baselines[known["variant"]] = known["clean_wer"]
            summary.allowances[known["variant"]] = NARROWBAND_ALLOWANCE if narrow else INVARIANCE_ALLOWANCE
    for variant in summary.wers:
        if variant not in summary.baselines and variant != CLEAN and clean is not None:
            summary.baselines[variant] = clean  # layouts: the same sentences, joined
            summary.allowances[variant] = INVARIANCE_ALLOWANCE
    return summary


def section(per_target: dict[str, Sequence[CaseFinished]]) -> BehaviourSection:
    """The section for every target's behaviour cases (labels in report order)."""
    targets = {label: summarise(label, cases) for label, cases in per_target.items()}
    result = BehaviourSection(targets, [])
    heard = [t for t in targets.values() if not t.not_judged]
    for variant in result.variants:
        if variant == CLEAN:
            continue
        verdicts = {t.label: t.degraded(variant) for t in heard}
        worse = sorted(label for label, v in verdicts.items() if v)
        steady = sorted(label for label, v in verdicts.items() if v is False)
        if worse and steady:
            allowed = max(targets[label].allowances.get(variant, INVARIANCE_ALLOWANCE) for label in worse)
            note = (
                f"{', '.join(worse)} much worse than on clean speech (beyond +{allowed:g}); "
                f"{', '.join(steady)} not"
            )
            result.divergences.append(
                Divergence(variant, {label: targets[label].show(variant) for label in targets}, note)
            )
    return result


async def send_corpus(
    targets: Sequence[Target],
    config: RunConfig,
    budgets: Sequence[Budget],
    checks: Sequence[Check],
    limits: Limits | None = None,
) -> list[list[CaseFinished]]:
    """The behaviour phase against every target at once; each target's cases, in target order."""
    return list(
        await asyncio.gather(
            *(
                behaviour_phase(target, config, budget, checks=checks, limits=limits)
                for target, budget in zip(targets, budgets, strict=True)
            )
        )
    )


__all__ = ["BehaviourSection", "Divergence", "TargetBehaviour", "section", "send_corpus", "summarise"]
