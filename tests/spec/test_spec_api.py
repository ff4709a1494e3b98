"""The public surface of the ``spec`` package."""

from __future__ import annotations

import tomllib

import pytest
from asr_conformance.spec.loader import SOURCE_DIR
from jsonschema import Draft7Validator

from asr_conformance import spec

EXPECTED_PUBLIC = {
    "SCHEMA_NAMES",
    "UPSTREAM",
    "Domain",
    "DomainValue",
    "Erratum",
    "Evidence",
    "Field",
    "HeaderRule",
    "View",
    "default_severity",
    "domains",
    "errata",
    "fields",
    "openapi",
    "response_headers",
    "schema",
    "validator",
}


def test_public_names_are_exactly_the_contract_and_sorted():
    assert set(spec.__all__) == EXPECTED_PUBLIC
    # isort-style order (constants, classes, functions), which ruff's RUF022 enforces
    assert spec.__all__ == sorted(spec.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in spec.__all__:
        assert hasattr(spec, name)


def test_upstream_constant_matches_the_transcription():
    with (SOURCE_DIR / "tables.toml").open("rb") as f:
        u = tomllib.load(f)["upstream"]
    assert (spec.UPSTREAM.repo, spec.UPSTREAM.path, spec.UPSTREAM.commit, spec.UPSTREAM.date) == (
        u["repo"],
        u["path"],
        u["commit"],
        u["date"],
    )
    assert spec.UPSTREAM.url == u["url"]


@pytest.mark.parametrize(
    ("evidence", "severity"),
    [
        ("documented", "error"),
        ("official-schema", "error"),
        ("client-contract", "error"),
        ("observed", "warning"),
        ("legacy", None),
    ],
)
def test_default_severity_follows_the_evidence_tag(evidence, severity):
    assert spec.default_severity(evidence) == severity
    assert spec.default_severity(spec.Evidence(evidence)) == severity


def test_unknown_evidence_is_refused():
    with pytest.raises(ValueError):
        spec.default_severity("hearsay")


@pytest.mark.parametrize("name", spec.SCHEMA_NAMES)
@pytest.mark.parametrize("view", list(spec.View))
def test_schema_and_validator_for_every_name_and_view(name, view):
    s = spec.schema(name, view)
    Draft7Validator.check_schema(s)
    assert s["x-view"] == view.value
    assert s["$comment"].startswith(f"{view.value} view")
    assert spec.validator(name, view.value) is spec.validator(name, view)


def test_served_is_the_default_view():
    assert spec.schema("response") == spec.schema("response", "served")


def test_schema_returns_a_fresh_copy():
    s = spec.schema("request")
    s["properties"].clear()
    assert spec.schema("request")["properties"]


def test_unknown_schema_name_and_view_are_refused():
    with pytest.raises(ValueError):
        spec.schema("chunks")
    with pytest.raises(ValueError):
        spec.schema("request", "imagined")


def test_validators_tell_valid_from_invalid():
    good = {"text": "hello", "chunks": [{"text": "hello", "timestamp": [0.0, 0.5]}]}
    assert spec.validator("response").is_valid(good)
    assert not spec.validator("response").is_valid({"chunks": []})
    assert spec.validator("error").is_valid({"error": ["a", "b"]})
    assert not spec.validator("error", "documented").is_valid({"error": ["a", "b"]})
    assert spec.validator("request").is_valid({"inputs": "AAAA"})
    assert not spec.validator("request").is_valid({"parameters": {}})


def test_openapi_is_the_served_view_document():
    doc = spec.openapi()
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["x-view"] == "served"


def test_response_header_rules_match_their_examples():
    rules = spec.response_headers()
    assert {r.name for r in rules} >= {
        "x-compute-time",
        "x-compute-type",
        "x-request-id",
        "x-sha",
        "x-compute-audio-length",
        "content-type",
    }
    for r in rules:
        if r.example is not None:
            assert r.matches(r.example), r
    by_name = {r.name: r for r in rules}
    assert by_name["x-compute-audio-length"].severity == "warning"
    assert not by_name["x-compute-time"].matches("fast")
    assert by_name["x-compute-type"].matches("cpu+optimized")
    assert not by_name["x-compute-type"].matches("tpu")
    ct = [r for r in rules if r.name == "content-type"]
    assert all(r.evidence is spec.Evidence.CLIENT_CONTRACT for r in ct)
    assert ct[0].matches("application/json; charset=utf-8")
    assert not ct[0].matches("text/plain")
    assert by_name["x-sha"].applies(200) and not by_name["x-sha"].applies(503)
    assert by_name["x-request-id"].applies(503)
