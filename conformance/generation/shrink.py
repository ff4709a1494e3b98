"""Shrinking a failing case on its recipe and values, keeping the same kind of failure.

Hypothesis draws the cases; shrinking happens here, over the case's own structure, because a case's
verdict needs a round trip to the target (async, concurrent) that hypothesis' synchronous shrinker
cannot drive. Candidates are tried simplest first; one is kept only when it still shows the same
failure (same ``Failure.dedup_key``), so a shrunk example never drifts onto another bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from asr_conformance.conformance.cases import AudioRecipe, CaseSpec
from asr_conformance.conformance.generation.audio import duration_tolerance, valid_recipe

SIMPLEST = AudioRecipe("wav", 16000, 1, "s16", 1.0, "tone", 0)


def _recipe_steps(r: AudioRecipe) -> Iterator[AudioRecipe]:
    """Recipes one step simpler than ``r`` (each changes one field towards :data:`SIMPLEST`)."""
    yield replace(r, codec="wav", sample_format="s16")
    yield replace(r, sample_rate=16000)
    yield replace(r, channels=1)
    yield replace(r, sample_format="s16")
    if r.duration_s > 1.0:
        yield replace(r, duration_s=1.0)
        yield replace(r, duration_s=round(max(1.0, r.duration_s / 2), 2))
    if r.kind not in ("tone", "silence"):
        yield replace(r, kind="tone", text="")
    yield replace(r, seed=0)


def _parameter_steps(case: CaseSpec) -> Iterator[CaseSpec]:
    """Cases with one unrelated parameter or header removed (the mutated path always stays)."""
    params = case.parameters or {}
    keep = (case.mutated_path or "").removeprefix("parameters.").split(".")[0]
    for key in sorted(params):
        if key == keep and key != "generation_parameters":
            continue
        if key == "generation_parameters" and isinstance(params[key], dict):
            inner_keep = (case.mutated_path or "").removeprefix("parameters.generation_parameters.")
            for inner in sorted(params[key]):
                if inner == inner_keep:
                    continue
                rest = {k: v for k, v in params[key].items() if k != inner}
                new = {**params, key: rest} if rest else {k: v for k, v in params.items() if k != key}
                yield replace(case, parameters=new or None)
            continue
        new = {k: v for k, v in params.items() if k != key}
        yield replace(case, parameters=new or None)
    mutated_header = (case.mutated_path or "").removeprefix("header:")
    for name, _ in case.headers:
        if name != mutated_header:
            yield replace(case, headers=tuple(h for h in case.headers if h[0] != name))


def candidates(case: CaseSpec) -> Iterator[CaseSpec]:
    """Simpler variants of ``case``, simplest-first, each differing from it in one respect."""
    yield from _parameter_steps(case)
    if case.audio is not None:
        seen = {case.audio}
        for r in _recipe_steps(case.audio):
            if r in seen or not valid_recipe(r):
                continue
            seen.add(r)
            timing = {}
            if case.expected_duration_s is not None:
                timing = {
                    "expected_duration_s": r.duration_s,
                    "duration_tolerance_s": duration_tolerance(r.codec),
                }
            yield replace(case, audio=r, meta={**case.meta, "recipe": r.describe()}, **timing)


__all__ = ["SIMPLEST", "candidates"]
