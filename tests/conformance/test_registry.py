"""The registry, walked: every check is complete, traceable to the spec, and fired by a mock switch."""

from __future__ import annotations

import re

import pytest
from asr_conformance.conformance.checks import RETIRED, all_checks, get, select
from asr_conformance.conformance.checks.registry import is_legacy
from asr_conformance.mock_server.engine_violations import ENGINE_VIOLATIONS
from asr_conformance.mock_server.violations import VIOLATIONS

from asr_conformance import spec

CHECKS = all_checks()
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def spec_refs() -> set[str]:
    return {f"{f.table}:{f.path}" for f in spec.fields()} | {e.id for e in spec.errata()}


def test_ids_are_unique_snake_case_and_never_retired() -> None:
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not SNAKE.match(i)] == []
    assert set(ids) & RETIRED == set()


@pytest.mark.parametrize("chk", CHECKS, ids=lambda c: c.id)
def test_check_is_complete(chk) -> None:
    assert chk.title and chk.title[0].isupper()
    assert chk.doc and "\n" not in chk.doc and chk.doc.endswith(".")
    assert chk.evidence in {str(e) for e in spec.Evidence}
    assert chk.spec_ref in spec_refs(), f"{chk.spec_ref!r} is neither a table row nor an erratum id"
    assert chk.fired_by, "no --violate switch makes it fire"
    unknown = [s for s in chk.fired_by if s not in VIOLATIONS and s not in ENGINE_VIOLATIONS]
    assert unknown == [], f"switches the mock does not have: {unknown}"


def test_every_switch_fires_a_check() -> None:
    fired = {s for c in CHECKS for s in c.fired_by}
    assert sorted({*VIOLATIONS, *ENGINE_VIOLATIONS} - fired) == []


def test_legacy_checks_run_only_on_request() -> None:
    legacy = {c.id for c in CHECKS if is_legacy(c)}
    assert legacy, "E6 makes the cache and wait-for-model semantics legacy"
    assert legacy.isdisjoint(c.id for c in select())
    assert legacy <= {c.id for c in select(include_legacy=True)}
    assert [c.id for c in select(ids=["cache_bypass_honoured"])] == ["cache_bypass_honoured"]


def test_select_by_id_and_exclude() -> None:
    assert [c.id for c in select(ids=["error_body_shape", "not_a_server_error"])] == [
        "error_body_shape",
        "not_a_server_error",
    ]
    assert "not_a_server_error" not in {c.id for c in select(exclude=["not_a_server_error"])}


@pytest.mark.parametrize(
    "call", [lambda: get("nope"), lambda: select(ids=["nope"]), lambda: select(exclude=["x"])]
)
def test_unknown_ids_are_refused(call) -> None:
    with pytest.raises(KeyError, match="unknown check"):
        call()


def test_schemathesis_names_kept_where_the_meaning_is_the_same() -> None:
    ids = {c.id for c in CHECKS}
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "ignored_auth",
    } <= ids


def test_docs_list_every_check() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "checks.md").read_text()
    assert [c.id for c in CHECKS if f"| `{c.id}` |" not in doc] == []
