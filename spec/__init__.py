"""The spec as data: the documented tables, their errata, field domains and the schemas generated from them.

Two views of every schema: ``documented`` (the tables exactly) and ``served`` (errata applied, the default).
Schemas are read from the committed files in ``spec/generated`` (``asr-conformance spec generate`` writes
them); everything is loaded on first use and cached.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from asr_conformance.spec import loader
from asr_conformance.spec.model import (
    Domain,
    DomainValue,
    Erratum,
    Evidence,
    Field,
    HeaderRule,
    Upstream,
    View,
    default_severity,
)
from asr_conformance.spec.schemas import SCHEMA_NAMES
from jsonschema import Draft7Validator

#: The page the tables were transcribed from (must match spec/source/tables.toml; a test checks it).
UPSTREAM = Upstream(
    repo="huggingface/hub-docs",
    path="docs/api-inference/tasks/automatic-speech-recognition.md",
    commit="cffc8ee07f84f7fb150f81e74267a9cdd1994282",
    date="2025-01-15",
)


def _view(view: View | str) -> View:
    return View(view)


@cache
def _schema(name: str, view: View) -> dict[str, Any]:
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; expected one of {SCHEMA_NAMES}")
    from asr_conformance.spec.generate import schema_path  # the generator's path layout is the single source

    return json.loads(schema_path(name, view).read_text())


def schema(name: str, view: View | str = View.SERVED) -> dict[str, Any]:
    """The JSON Schema (draft-07) ``name`` (request, headers, response, error) in ``view``; a fresh copy."""
    return copy.deepcopy(_schema(name, _view(view)))


@cache
def _validator(name: str, view: View) -> Draft7Validator:
    return Draft7Validator(_schema(name, view))


def validator(name: str, view: View | str = View.SERVED) -> Draft7Validator:
    """A cached draft-07 validator for ``schema(name, view)``; use ``iter_errors`` / ``is_valid``."""
    return _validator(name, _view(view))


def fields() -> tuple[Field, ...]:
    """Every row of the documented Payload, Headers and Body tables, in table order."""
    return loader.fields()


def domains() -> dict[str, Domain]:
    """Field path (or ``header:<name>``) -> what must be accepted, rejected, or is implementation-defined."""
    return dict(loader.domains())


def errata() -> list[Erratum]:
    """Every erratum, in id order (withdrawn ones included, flagged)."""
    return list(loader.errata())


def response_headers() -> list[HeaderRule]:
    """Rules for response headers, each with its evidence."""
    return list(loader.response_headers())


@cache
def _openapi() -> dict[str, Any]:
    from asr_conformance.spec.generate import OPENAPI_PATH

    return json.loads(OPENAPI_PATH.read_text())


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document (served view); a fresh copy."""
    return copy.deepcopy(_openapi())


__all__ = [
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
]
