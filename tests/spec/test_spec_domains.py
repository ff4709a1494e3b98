"""The oracle: must_accept / must_reject / implementation_defined per field, with provenance."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from asr_conformance import spec

GEN = "parameters.generation_parameters."
INPUT_SYMBOLS = re.compile(
    r"^@(missing|not-a-string:.+|base64-(valid|undecodable|unpadded|wrapped|urlsafe)|data-url|empty-string)$"
)


def _key(v: Any) -> str:
    # type-aware: True and 1 are different JSON values
    return json.dumps(v, sort_keys=True)


def _request_with(path: str, value: Any) -> dict[str, Any]:
    req: dict[str, Any] = {"inputs": "ZkxhQw=="}
    *parents, leaf = path.split(".")
    node = req
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    return req


def _values(values) -> list[Any]:
    return [d.value for d in values]


def test_every_documented_payload_field_and_the_headers_have_a_domain():
    paths = set(spec.domains())
    payload = {f.path for f in spec.fields() if f.table == "payload"}
    assert payload <= paths
    assert {"header:x-use-cache", "header:x-wait-for-model", "header:content-type"} <= paths
    assert paths - payload == {"header:x-use-cache", "header:x-wait-for-model", "header:content-type"}


def test_each_value_has_evidence_and_a_note_and_sits_in_one_domain_only():
    for path, d in spec.domains().items():
        seen: set[str] = set()
        for values in (d.must_accept, d.must_reject, d.implementation_defined):
            for dv in values:
                assert isinstance(dv.evidence, spec.Evidence) and dv.note, (path, dv)
                k = _key(dv.value)
                assert k not in seen, f"{path}: {dv.value!r} in two domains"
                seen.add(k)


PAYLOAD = [p for p in spec.domains() if not p.startswith("header:") and p != "inputs"]


@pytest.mark.parametrize("path", PAYLOAD)
def test_must_accept_values_are_valid_in_both_views(path):
    for dv in spec.domains()[path].must_accept:
        for view in spec.View:
            assert spec.validator("request", view).is_valid(_request_with(path, dv.value)), (path, dv.value)


@pytest.mark.parametrize("path", PAYLOAD)
def test_must_reject_values_are_invalid_in_both_views(path):
    for dv in spec.domains()[path].must_reject:
        assert not dv.symbolic
        for view in spec.View:
            request = _request_with(path, dv.value)
            assert not spec.validator("request", view).is_valid(request), (path, dv.value)


def _numbers(path: str) -> list[float]:
    return _values(spec.domains()[GEN + path].must_accept)


def test_small_safe_figures():
    assert _numbers("max_new_tokens") and all(1 <= v <= 64 for v in _numbers("max_new_tokens"))
    assert _numbers("num_beams") and all(1 <= v <= 4 for v in _numbers("num_beams"))
    assert _numbers("top_k") and all(1 <= v <= 50 for v in _numbers("top_k"))
    assert _numbers("top_p") and all(0 < v <= 1 for v in _numbers("top_p"))
    assert _numbers("typical_p") and all(0 < v <= 1 for v in _numbers("typical_p"))
    assert set(_numbers("temperature")) == {0}
    for cutoff in ("epsilon_cutoff", "eta_cutoff"):  # "strictly between 0 and 1"
        assert _numbers(cutoff) and all(0 < v < 1 for v in _numbers(cutoff))
    assert all(v <= 4 for v in _numbers("min_new_tokens") + _numbers("min_length"))
    assert all(v <= 64 for v in _numbers("max_length"))
    # needs code from the hub on transformers 5: nothing is safe to require
    assert _numbers("num_beam_groups") == [] and _numbers("penalty_alpha") == []


def test_early_stopping_accepts_exactly_the_enum_with_json_types():
    accept = _values(spec.domains()[GEN + "early_stopping"].must_accept)
    assert sorted(map(_key, accept)) == sorted(map(_key, ["never", True, False]))
    reject = _values(spec.domains()[GEN + "early_stopping"].must_reject)
    assert "always" in reject


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("top_p", 5),
        ("temperature", -1),
        ("epsilon_cutoff", 1.5),
        ("eta_cutoff", 5),
        ("typical_p", 7),
        ("max_new_tokens", 0),
        ("max_new_tokens", 449),
        ("num_beams", 0),
        ("num_beam_groups", 2),
        ("penalty_alpha", 0.6),
        ("top_k", 5.0),
    ],
)
def test_measured_facts_are_implementation_defined(field, value):
    d = spec.domains()[GEN + field].implementation_defined
    assert any(_key(dv.value) == _key(value) for dv in d), (field, value)


def test_return_timestamps_word_is_implementation_defined_not_rejected():
    d = spec.domains()["parameters.return_timestamps"]
    assert "word" in _values(d.implementation_defined)
    assert "word" not in _values(d.must_reject)
    assert all(not isinstance(v, bool) for v in _values(d.must_reject))


def test_inputs_domain_is_symbolic():
    d = spec.domains()["inputs"]
    for dv in (*d.must_accept, *d.must_reject, *d.implementation_defined):
        assert INPUT_SYMBOLS.match(dv.value), dv.value
    assert {"@missing", "@base64-undecodable"} <= set(_values(d.must_reject))
    assert any(v.startswith("@not-a-string:") for v in _values(d.must_reject))
    assert {"@base64-unpadded", "@base64-wrapped"} <= set(_values(d.implementation_defined))
    for dv in d.must_reject:
        if dv.value.startswith("@not-a-string:"):
            literal = json.loads(dv.value.split(":", 1)[1])
            assert not spec.validator("request").is_valid({"inputs": literal})


@pytest.mark.parametrize("header", ["header:x-use-cache", "header:x-wait-for-model"])
def test_boolean_header_domains(header):
    d = spec.domains()[header]
    assert d.must_reject == ()  # rejecting an unparseable boolean header is not documented
    name = header.split(":", 1)[1]
    for dv in d.must_accept:
        if dv.value != "@missing":
            assert spec.validator("headers").is_valid({name: dv.value})
    assert {"yes", "TRUE", "maybe"} <= set(_values(d.implementation_defined))


def test_null_loads_as_none():
    d = spec.domains()[GEN + "num_beams"]
    assert None in _values(d.implementation_defined)
