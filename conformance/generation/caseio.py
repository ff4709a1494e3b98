"""Cases as JSON (in ``CaseFinished.meta["case"]``), so a report alone is enough to replay one."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from asr_conformance.conformance.cases import AudioRecipe, CaseSpec


def case_to_json(case: CaseSpec) -> dict[str, Any]:
    """A JSON-ready dict that :func:`case_from_json` turns back into the same case."""
    # Shallow on purpose (asdict deep-copies every value: measurably slow at hundreds of cases/s).
    data = {f.name: getattr(case, f.name) for f in fields(case)}
    data["audio"] = {f.name: getattr(case.audio, f.name) for f in fields(case.audio)} if case.audio else None
    data["headers"] = [list(h) for h in case.headers]
    return data


def case_from_json(data: dict[str, Any]) -> CaseSpec:
    kwargs = dict(data)
    kwargs["audio"] = AudioRecipe(**kwargs["audio"]) if kwargs.get("audio") else None
    kwargs["headers"] = tuple((k, v) for k, v in kwargs.get("headers", ()))
    return CaseSpec(**kwargs)


__all__ = ["case_from_json", "case_to_json"]
