"""The errata: ids, evidence, severity, references, and the ones the issue asks for."""

from __future__ import annotations

import re

from asr_conformance import spec


def test_ids_are_e1_to_en_in_order_and_unique():
    ids = [e.id for e in spec.errata()]
    assert ids == [f"E{i}" for i in range(1, len(ids) + 1)]


def test_each_erratum_is_complete_and_its_severity_follows_its_evidence():
    for e in spec.errata():
        assert e.title and e.effect and e.refs and e.applies_to, e.id
        assert e.severity == spec.default_severity(e.evidence), e.id


def test_refs_are_urls_or_recorded_exchanges_that_exist(recorded_dir):
    recorded = {p.stem for p in recorded_dir.glob("*.json")}
    for e in spec.errata():
        for ref in e.refs:
            assert ref.startswith("https://") or ref in recorded, f"{e.id}: {ref}"


REQUIRED = {
    "chunk key": r"`timestamp`.*`timestamps`",
    "bearer typo": r"Bearer",
    "early_stopping": r"early_stopping",
    "required fields": r"[Rr]equired",
    "generate_kwargs": r"generate_kwargs",
    "headers table dropped": r"Headers table was dropped",
    "content-type": r"Content-Type",
    "long form": r"chunk_length_s=30",
    "audio length header": r"x-compute-audio-length.*1 of the 5",
    "fal-ai chunks": r"fal-ai.*chunks",
    "null end": r"`null`.*23231",
    "minLength on array": r"minLength.*maxLength",
    "error list": r"list of strings",
}


def test_the_errata_the_issue_lists_are_all_there():
    titles = [e.title for e in spec.errata()]
    for what, pattern in REQUIRED.items():
        assert any(re.search(pattern, t) for t in titles), what


def test_evidence_tags_of_key_errata():
    by_title = {e.title: e for e in spec.errata()}
    audio_length = next(e for t, e in by_title.items() if "x-compute-audio-length" in t)
    assert audio_length.evidence is spec.Evidence.OBSERVED
    long_form = next(e for t, e in by_title.items() if "chunk_length_s" in t)
    assert long_form.evidence is spec.Evidence.OBSERVED
    dropped = next(e for t, e in by_title.items() if "dropped" in t)
    assert dropped.severity is None  # legacy: only on request
