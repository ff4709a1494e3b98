"""Cases as JSON (in ``CaseFinished.meta["case"]``), so a report alone is enough to replay one."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from conformance.cases import AudioRecipe, CaseSpec


def case_to_json(case: CaseSpec) -> dict[str, Any]:
    """A JSON-ready dict that :func:`case_from_json` turns back into the same case."""
    data = asdict(case)
    data["headers"] = [list(h) for h in case.headers]
    return data


def case_from_json(data: dict[str, Any]) -> CaseSpec:
    fields = dict(data)
    fields["audio"] = AudioRecipe(**fields["audio"]) if fields.get("audio") else None
    fields["headers"] = tuple((k, v) for k, v in fields.get("headers", ()))
    return CaseSpec(**fields)


__all__ = ["case_from_json", "case_to_json"]
