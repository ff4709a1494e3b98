"""Builds the JSON Schemas (draft-07) of both views from the tables and the errata.

The documented view is the tables exactly; the served view is the documented view with every erratum's
patches applied, in id order. Schemas use only draft-07 keywords and no ``$ref`` at all, so
hypothesis-jsonschema and Schemathesis can generate from them and they embed unchanged in OpenAPI 3.1.
"""

from __future__ import annotations

import copy
from typing import Any

from asr_conformance.spec import loader, patch
from asr_conformance.spec.model import Field, View

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMA_NAMES = ("request", "headers", "response", "error")
_TABLE_OF = {"request": "payload", "headers": "headers", "response": "body"}
_TITLES = {
    "request": "ASR request body (JSON form)",
    "headers": "ASR request headers (lower-case names, wire values)",
    "response": "ASR success response body",
    "error": "Error response body",
}
_VIEW_NOTES = {
    View.DOCUMENTED: "documented view: the tables of the upstream page exactly, no errata applied.",
    View.SERVED: "served view: the documented tables with the errata applied ({ids}).",
}


def schema_id(name: str, view: View) -> str:
    """The stable ``$id`` of a generated schema."""
    return f"urn:asr-conformance:spec:{view.value}:{name}"


def _node(f: Field) -> dict[str, Any]:
    """The schema of one table row, without its children."""
    node: dict[str, Any]
    if f.type == "enum":
        node = {"enum": list(f.enum or ())}
    elif f.type == "object":
        node = {"type": "object", "properties": {}}
    elif f.type == "object[]":
        node = {"type": "array", "items": {"type": "object", "properties": {}}}
    elif f.type.endswith("[]"):
        node = {"type": "array", "items": {"type": f.type[:-2]}}
    elif f.table == "headers" and f.type == "boolean":
        # Header values are strings on the wire: a documented boolean is spelled true/false.
        node = {"type": "string", "enum": ["true", "false"]}
        if f.default is not None:
            node["default"] = "true" if f.default else "false"
    else:
        node = {"type": f.type}
    if f.pattern:
        node["pattern"] = f.pattern
    node["description"] = f.description
    return node


def _object_from_rows(rows: list[Field]) -> dict[str, Any]:
    root: dict[str, Any] = {"type": "object", "properties": {}}
    containers: dict[str | None, dict[str, Any]] = {None: root}
    for f in rows:
        parent = containers.get(f.parent)
        if parent is None:
            raise ValueError(f"tables.toml: {f.path} comes before its parent {f.parent}")
        node = _node(f)
        parent["properties"][f.name] = node
        if f.required:
            parent.setdefault("required", []).append(f.name)
        if f.type == "object":
            containers[f.path] = node
        elif f.type == "object[]":
            containers[f.path] = node["items"]
    return root


def _documented_body(name: str) -> dict[str, Any]:
    if name == "error":
        # The page documents no error body; every recorded error shares this minimal shape (errata E13, E16).
        return {
            "type": "object",
            "properties": {"error": {"type": "string", "description": "What went wrong."}},
            "required": ["error"],
        }
    # For headers the schema is over a mapping of lower-case names (header names are case-insensitive).
    return _object_from_rows([f for f in loader.fields() if f.table == _TABLE_OF[name]])


def build(name: str, view: View) -> dict[str, Any]:
    """The schema ``name`` in ``view``, as it is written to ``spec/generated``."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; expected one of {SCHEMA_NAMES}")
    body = _documented_body(name)
    applied: list[str] = []
    if view is View.SERVED:
        for erratum in loader.errata():
            if erratum.withdrawn:
                continue
            for p in erratum.patches:
                if p.schema == name:
                    patch.apply(body, p.op, p.path, p.value, p.from_)
                    if erratum.id not in applied:
                        applied.append(erratum.id)
    u = loader.upstream()
    note = _VIEW_NOTES[view].format(ids=", ".join(applied) or "none touch this schema")
    return {
        "$schema": DRAFT_07,
        "$id": schema_id(name, view),
        "$comment": f"{note} Source: {u.repo}/{u.path} @ {u.commit} ({u.date}); generated, do not edit.",
        "title": _TITLES[name],
        "x-view": view.value,
        **copy.deepcopy(body),
    }
