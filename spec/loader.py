"""Reads the hand-written sources under ``spec/source`` into the data types of
:mod:`asr_conformance.spec.model`.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from asr_conformance.spec.model import (
    Domain,
    DomainValue,
    Erratum,
    Evidence,
    Field,
    HeaderRule,
    Patch,
    Upstream,
    default_severity,
)

SPEC_DIR = Path(__file__).resolve().parent
SOURCE_DIR = SPEC_DIR / "source"
TABLES = ("payload", "headers", "body")
#: TOML has no null; the domains file spells JSON null like this.
NULL = "@null"


@cache
def _toml(name: str) -> dict[str, Any]:
    with (SOURCE_DIR / name).open("rb") as f:
        return tomllib.load(f)


@cache
def upstream() -> Upstream:
    u = _toml("tables.toml")["upstream"]
    return Upstream(repo=u["repo"], path=u["path"], commit=u["commit"], date=u["date"])


@cache
def fields() -> tuple[Field, ...]:
    rows = []
    for row in _toml("tables.toml")["field"]:
        if row["table"] not in TABLES:
            raise ValueError(f"tables.toml: unknown table {row['table']!r} for {row['path']}")
        enum = row.get("enum")
        rows.append(
            Field(
                table=row["table"],
                path=row["path"],
                type=row["type"],
                required=row["required"],
                description=row["description"],
                enum=tuple(enum) if enum is not None else None,
                default=row.get("default"),
                quote=row.get("quote"),
                pattern=row.get("pattern"),
            )
        )
    return tuple(rows)


def _value(raw: Any) -> Any:
    return None if raw == NULL else raw


def _domain_values(items: list[dict[str, Any]]) -> tuple[DomainValue, ...]:
    return tuple(DomainValue(_value(i["value"]), Evidence(i["evidence"]), i["note"]) for i in items)


@cache
def domains() -> dict[str, Domain]:
    out: dict[str, Domain] = {}
    for path, d in _toml("domains.toml")["field"].items():
        out[path] = Domain(
            must_accept=_domain_values(d.get("must_accept", [])),
            must_reject=_domain_values(d.get("must_reject", [])),
            implementation_defined=_domain_values(d.get("implementation_defined", [])),
        )
    return out


@cache
def errata() -> tuple[Erratum, ...]:
    out = []
    for e in _toml("errata.toml")["erratum"]:
        ev = Evidence(e["evidence"])
        patches = tuple(
            Patch(schema=p["schema"], op=p["op"], path=p["path"], value=p.get("value"), from_=p.get("from"))
            for p in e.get("patch", [])
        )
        out.append(
            Erratum(
                id=e["id"],
                title=e["title"],
                evidence=ev,
                severity=e.get("severity", default_severity(ev)),
                refs=tuple(e["refs"]),
                effect=e["effect"],
                applies_to=tuple(e["applies_to"]),
                patches=patches,
                withdrawn=e.get("withdrawn", False),
            )
        )
    ids = [e.id for e in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"errata.toml: duplicate erratum ids in {ids}")
    return tuple(out)


@cache
def response_headers() -> tuple[HeaderRule, ...]:
    return tuple(
        HeaderRule(
            name=h["name"].lower(),
            pattern=h["pattern"],
            evidence=Evidence(h["evidence"]),
            when=h["when"],
            note=h["note"],
            example=h.get("example"),
        )
        for h in _toml("response_headers.toml")["header"]
    )


@cache
def examples() -> dict[str, Any]:
    """Example bodies copied from recorded real exchanges, keyed by status code (as strings)."""
    return json.loads((SOURCE_DIR / "examples.json").read_text())
