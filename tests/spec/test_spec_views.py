"""The two views differ exactly where the errata's patches say, and nowhere else."""

from __future__ import annotations

from typing import Any

import pytest

from asr_conformance import spec

_VIEW_KEYS = {"$id", "$comment", "x-view"}


def _diff(a: Any, b: Any, pointer: str = "") -> set[str]:
    """JSON pointers where ``a`` and ``b`` differ (not descending below a key present on one side only)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in set(a) | set(b):
            sub = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
            if key not in a or key not in b:
                out.add(sub)
            else:
                out |= _diff(a[key], b[key], sub)
        return out
    return set() if a == b else {pointer}


def _under(p: str, q: str) -> bool:
    return p == q or p.startswith(q + "/")


def _related(p: str, q: str) -> bool:
    return _under(p, q) or _under(q, p)


@pytest.mark.parametrize("name", spec.SCHEMA_NAMES)
def test_views_differ_exactly_where_the_errata_patch(name):
    documented = {k: v for k, v in spec.schema(name, "documented").items() if k not in _VIEW_KEYS}
    served = {k: v for k, v in spec.schema(name, "served").items() if k not in _VIEW_KEYS}
    differences = _diff(documented, served)
    patched = set()
    for e in spec.errata():
        for p in e.patches:
            if p.schema == name:
                patched.add(p.path)
                if p.op == "move":
                    patched.add(p.from_)
    # every difference comes from a patch, and every patch shows up as a difference
    for d in differences:
        assert any(_related(d, p) for p in patched), f"{name}: {d} differs but no erratum says so"
    for p in patched:
        assert any(_related(p, d) for d in differences), f"{name}: patch at {p} changes nothing"


def test_every_patch_names_a_schema_and_is_listed_in_applies_to():
    for e in spec.errata():
        for p in e.patches:
            assert p.schema in spec.SCHEMA_NAMES
            assert p.schema in e.applies_to, e.id


def test_served_view_tells_which_errata_shaped_it():
    comment = spec.schema("response", "served")["$comment"]
    for eid in ("E1", "E2", "E11", "E12"):
        assert eid in comment


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


@pytest.mark.parametrize("name", spec.SCHEMA_NAMES)
@pytest.mark.parametrize("view", list(spec.View))
def test_no_ref_and_no_definitions(name, view):
    for node in _walk(spec.schema(name, view)):
        assert "$ref" not in node
        assert "definitions" not in node


def test_served_fixes_the_documented_mistakes():
    v_doc, v_srv = spec.validator("response", "documented"), spec.validator("response", "served")
    plural = {"text": "a", "chunks": [{"text": "a", "timestamps": [0, 1]}]}
    singular = {"text": "a", "chunks": [{"text": "a", "timestamp": [0, 1]}]}
    assert v_doc.is_valid(plural) and not v_srv.is_valid(plural)
    assert v_srv.is_valid(singular)
    assert not v_srv.is_valid({"text": "a", "chunks": [{"text": "a", "timestamp": [0, 1, 2]}]})
    assert v_srv.is_valid({"text": "a", "chunks": [{"text": "a", "timestamp": [0, None]}]})
    assert not v_srv.is_valid({"text": "a", "chunks": [{"text": "a", "timestamp": [None, 1]}]})
    h_doc, h_srv = spec.validator("headers", "documented"), spec.validator("headers", "served")
    plain, colon = {"authorization": "Bearer abc"}, {"authorization": "Bearer: abc"}
    assert h_srv.is_valid(plain) and not h_doc.is_valid(plain)
    assert h_doc.is_valid(colon) and not h_srv.is_valid(colon)
    assert h_srv.is_valid({"x-wait-for-model": "1"}) and not h_doc.is_valid({"x-wait-for-model": "1"})
    r_srv = spec.validator("request", "served")
    assert r_srv.is_valid({"inputs": "AA", "parameters": {"generate_kwargs": {"num_beams": 2}}})
    assert not r_srv.is_valid({"inputs": "AA", "parameters": {"generate_kwargs": {"num_beams": "2"}}})
    assert spec.validator("request", "documented").is_valid(
        {"inputs": "AA", "parameters": {"generate_kwargs": {"num_beams": "2"}}}
    )

    def stopping(value):
        return {"inputs": "AA", "parameters": {"generation_parameters": {"early_stopping": value}}}

    for es in ("never", True, False):
        assert r_srv.is_valid(stopping(es))
    assert not r_srv.is_valid(stopping("true"))
