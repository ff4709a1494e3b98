"""Comparing transcripts: normalisation and word error rate (jiwer), shared by compare and the behavioural
checks. A leaf module: it imports nothing of ours."""

from __future__ import annotations

import re

_PUNCT = re.compile(r"[^\w\s']")


def normalise_transcript(text: str) -> str:
    """Lower-case, no punctuation, single spaces: WER should weigh words, not formatting."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` after normalisation (jiwer)."""
    import jiwer  # imported on first use: most runs compare no transcripts

    ref, hyp = normalise_transcript(reference), normalise_transcript(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.wer(ref, hyp))
