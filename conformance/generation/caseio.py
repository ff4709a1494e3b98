"""Cases as JSON (in ``CaseFinished.meta["case"]``), so a report alone is enough to replay one."""

from __future__ import annotations

import dataclasses
from dataclasses import fields
from typing import Any

from asr_conformance.conformance.cases import AudioRecipe, CaseSpec
from asr_conformance.conformance.model import CaseFinished


def case_to_json(case: CaseSpec) -> dict[str, Any]:
    """A JSON-ready dict that :func:`case_from_json` turns back into the same case."""
    # Shallow on purpose (asdict deep-copies every value: measurably slow at hundreds of cases/s).
    data = {f.name: getattr(case, f.name) for f in fields(case)}
    data["audio"] = {f.name: getattr(case.audio, f.name) for f in fields(case.audio)} if case.audio else None
    data["headers"] = [list(h) for h in case.headers]
    return data


def known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Keep only the fields ``cls`` has: a cassette from another suite version may have more or fewer."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def case_from_json(data: dict[str, Any]) -> CaseSpec:
    """Inverse of :func:`case_to_json`, tolerant of fields added or dropped between suite versions."""
    fields = known_fields(CaseSpec, data)
    audio = fields.get("audio")
    if isinstance(audio, dict):
        fields["audio"] = AudioRecipe(**known_fields(AudioRecipe, audio))
    fields["headers"] = tuple((str(k), str(v)) for k, v in fields.get("headers") or ())
    fields.setdefault("form", "raw")
    fields.setdefault("audio", None)
    return CaseSpec(**fields)


def case_from_finished(event: CaseFinished) -> CaseSpec:
    """The case a ``CaseFinished`` event was about.

    The runner puts the case itself in ``meta["case"]``; without it (an older runner) the case is rebuilt
    from the event's own fields and the ``meta`` keys the runner documents.
    """
    recorded = event.meta.get("case")
    if isinstance(recorded, dict):
        return case_from_json(recorded)
    if isinstance(recorded, CaseSpec):
        return recorded
    meta = event.meta
    audio = meta.get("recipe") or meta.get("audio")
    first = event.exchanges[0].request if event.exchanges else None
    form = meta.get("form") or (
        "json" if first and first.header("content-type") == "application/json" else "raw"
    )
    return case_from_json(
        {
            **{k: v for k, v in meta.items() if k not in {"case", "recipe"}},
            "id": event.case_id,
            "phase": event.phase,
            "kind": event.case_kind,
            "form": form,
            "audio": audio if isinstance(audio, dict) else None,
            "mutation": event.mutation,
        }
    )


__all__ = ["case_from_finished", "case_from_json", "case_to_json", "known_fields"]
