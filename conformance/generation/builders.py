"""Build cases from recipes and domain values: positive, negative (exactly one change), and the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from asr_conformance.conformance.cases import AudioRecipe, CaseSpec
from asr_conformance.conformance.generation.audio import duration_tolerance, render
from asr_conformance.conformance.generation.decoders import readers
from asr_conformance.conformance.generation.render import READABLE_DAMAGE, malformed_body
from asr_conformance.conformance.generation.values import (
    FieldValue,
    field_types,
    inputs_differs,
    is_object_shaped,
    parameters_from,
)
from asr_conformance.conformance.model import RequestForm


def _meta(recipe: AudioRecipe | None, values: Sequence[FieldValue], **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"values": [v.key for v in values], "paths": sorted({v.path for v in values})}
    if recipe is not None:
        meta["recipe"] = recipe.describe()
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def _timing(recipe: AudioRecipe | None) -> dict[str, Any]:
    if recipe is None:
        return {}
    return {
        "expected_duration_s": recipe.duration_s,
        "duration_tolerance_s": duration_tolerance(recipe.codec),
    }


def positive(
    case_id: str,
    phase: str,
    recipe: AudioRecipe,
    form: RequestForm,
    values: Sequence[FieldValue] = (),
    *,
    content_type: str = "auto",
) -> CaseSpec:
    """A request every conforming server must answer 200: decodable audio, only ``must_accept`` values.

    ``content_type``: ``auto`` (the codec's type), ``@missing`` (none at all) or a literal value.
    """
    params = parameters_from(values)
    symbol = next((v.value for v in values if v.is_inputs), None)
    if params is not None or symbol is not None:
        form = "json"  # parameters (and ``inputs`` spellings) exist only in the JSON form
    headers, extra = _headers(values)
    extra["inputs"] = symbol
    if content_type != "auto":
        extra["content_type"] = content_type
    return CaseSpec(
        id=case_id,
        phase=phase,
        kind="positive",
        form=form,
        audio=recipe,
        parameters=params if form == "json" else None,
        headers=headers,
        meta=_meta(recipe, values, **extra),
        **_timing(recipe),
    )


def changed(
    case_id: str,
    phase: str,
    recipe: AudioRecipe,
    change: FieldValue,
    base: Sequence[FieldValue] = (),
) -> CaseSpec | None:
    """A valid case with exactly one value replaced: negative for ``must_reject``, else implementation-
    defined.

    ``None`` when the change cannot be shown with this audio (e.g. unpadded base64 of audio that has no
    padding): such a case would not change anything.
    """
    # Keep base values that neither contain nor sit inside the changed path: exactly one change.
    base = [b for b in base if not _nested(b.path, change.path) and not b.is_inputs]
    values = [*base, change]
    symbol = change.value if change.is_inputs else None
    if isinstance(symbol, str) and symbol.startswith("@") and not inputs_differs(symbol, render(recipe)):
        return None
    params = parameters_from(values)
    form: RequestForm = "raw" if change.is_header and params is None else "json"
    headers, content_type = _headers(values)
    kind = "negative" if change.bucket == "must_reject" else "implementation_defined"
    mutation = change.mutation(field_types())
    if kind == "implementation_defined":
        mutation = f"{mutation} [implementation-defined]"
    shaped = is_object_shaped(params)
    return CaseSpec(
        id=case_id,
        phase=phase,
        kind=kind,  # type: ignore[arg-type]
        form=form,
        audio=recipe,
        parameters=params if shaped else None,
        headers=headers,
        mutation=mutation,
        mutated_path=change.path,
        raw_json=None if shaped else {"inputs": symbol or "@base64-valid", "parameters": params},
        meta=_meta(recipe, values, inputs=symbol, evidence=change.evidence or None, **content_type),
        **_timing(recipe),
    )


def _nested(a: str, b: str) -> bool:
    """True when one dotted path is the other or sits inside it."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _headers(values: Sequence[FieldValue]) -> tuple[tuple[tuple[str, str], ...], dict[str, Any]]:
    """Request headers for header values; ``Content-Type`` goes to ``meta`` (the renderer owns it)."""
    headers: list[tuple[str, str]] = []
    content_type: dict[str, Any] = {}
    for v in values:
        if not v.is_header:
            continue
        if v.header_name.lower() == "content-type":
            content_type["content_type"] = str(v.value)
        elif v.value != "@missing":
            headers.append((v.header_name, str(v.value)))
    return tuple(headers), content_type


def malformed(
    case_id: str, phase: str, recipe: AudioRecipe, kind: str, form: RequestForm, seed: int
) -> CaseSpec:
    """A damaged body: every server must 4xx it when no mainstream decoder reads it.

    :data:`~asr_conformance.conformance.generation.render.MALFORMED_KINDS` are refused by FFmpeg and
    libsndfile (checked when the body is built); damage one of them still reads (a file cut short) is
    implementation-defined: a server that transcribes the frames present is not wrong.
    """
    what = f"audio: {kind.replace('_', ' ')}"
    read_by: tuple[str, ...] = ()
    if kind in READABLE_DAMAGE:
        read_by = readers(malformed_body(kind, render(recipe), seed))
    return CaseSpec(
        id=case_id,
        phase=phase,
        kind="implementation_defined" if read_by else "malformed_audio",
        form=form,
        audio=recipe,
        malformed=kind,
        mutation=f"{what} (read by {', '.join(read_by)}) [implementation-defined]" if read_by else what,
        mutated_path="inputs",
        meta=_meta(recipe, (), seed=seed, read_by=list(read_by) or None),
    )


def protocol(
    case_id: str, phase: str, recipe: AudioRecipe, scenario: str, form: RequestForm = "raw"
) -> CaseSpec:
    """A multi-request scenario (see ``asr_conformance.conformance.cases``)."""
    return CaseSpec(
        id=case_id,
        phase=phase,
        kind="protocol",
        form=form,
        audio=recipe,
        protocol=scenario,
        meta=_meta(recipe, ()),
        **_timing(recipe),
    )


def with_id(case: CaseSpec, case_id: str) -> CaseSpec:
    return replace(case, id=case_id)


__all__ = ["changed", "malformed", "positive", "protocol", "with_id"]
