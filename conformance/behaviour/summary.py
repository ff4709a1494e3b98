"""WER per variant from the behaviour phase's cases: the figures behind the bounds, and what compare
and reports can show side by side for several targets."""

from __future__ import annotations

from collections.abc import Iterable

from asr_conformance.conformance.behaviour.phase import text
from asr_conformance.conformance.model import CaseFinished
from asr_conformance.conformance.transcripts import wer


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


__all__ = ["variant_wers"]
