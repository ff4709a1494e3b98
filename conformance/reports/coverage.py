"""Spec coverage: which documented table rows a run's cases actually exercised.

A row counts as exercised when a sent request carried it (a key of the JSON payload, a request header, the
audio itself as ``inputs``), when a case mutated it (``mutated_path``), or, for the response ``body``
table, when a success response contained it. Positive and negative uses are counted apart, since
"accepted when valid" and "rejected when invalid" are different evidence.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from asr_conformance.conformance.model import CaseFinished, Outcome

TABLES = ("payload", "headers", "body")


def normalise(table: str, path: str) -> str:
    """One spelling per row: no array markers, no ``header:`` prefix, header names lower-case."""
    path = path.replace("[]", "").replace("[*]", "").replace(".items", "")
    if table == "headers":
        return path.removeprefix("header:").lower()
    return path.removeprefix("payload:").removeprefix("body:")


def _walk(value: Any, prefix: str, out: set[str]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.add(path)
            _walk(sub, path, out)
    elif isinstance(value, list):
        for item in value:
            _walk(item, prefix, out)


def json_paths(value: Any) -> set[str]:
    """Every key path in a JSON value (lists are transparent): {"a": [{"b": 1}]} -> {"a", "a.b"}."""
    out: set[str] = set()
    _walk(value, "", out)
    return out


@dataclass(frozen=True)
class RowCoverage:
    """One documented row and how the run exercised it."""

    table: str
    path: str
    type: str
    required: bool
    positive: int  # cases meant to succeed that carried it (or responses that contained it)
    negative: int  # cases meant to be rejected that carried or mutated it

    @property
    def exercised(self) -> bool:
        return bool(self.positive or self.negative)


@dataclass
class CoverageCollector:
    """Counts (table, path) uses while the events stream by; joined with ``spec.fields()`` at the end."""

    positive: Counter[tuple[str, str]] = field(default_factory=Counter)
    negative: Counter[tuple[str, str]] = field(default_factory=Counter)

    def observe(self, case: CaseFinished) -> None:
        if case.results and all(
            r.outcome in (Outcome.SKIP, Outcome.PRECONDITION_FAILED) for r in case.results
        ):
            return  # nothing was judged: the case did not exercise anything
        seen: set[tuple[str, str]] = set()
        for exchange in case.exchanges:
            req = exchange.request
            for name, _ in req.headers:
                seen.add(("headers", name.lower()))
            is_json = (req.header("content-type") or "").startswith("application/json")
            payload = None
            if is_json or req.body[:1] == b"{":
                with contextlib.suppress(ValueError):
                    payload = json.loads(req.body)
            if payload is not None:
                seen.update(("payload", p) for p in json_paths(payload))
            elif req.body and not is_json:
                seen.add(("payload", "inputs"))  # raw form: the body is the audio input
            resp = exchange.response
            if resp is not None and 200 <= resp.status < 300:
                with contextlib.suppress(ValueError):
                    seen.update(("body", p) for p in json_paths(json.loads(resp.body)))
        case_json = case.meta.get("case") or {}  # the runner's serialised CaseSpec
        protocol = case.meta.get("protocol") or case_json.get("protocol") or ""
        if str(protocol).startswith("auth"):
            seen.add(("headers", "authorization"))  # added by the transport, so never in the exchange
        mutated = case.meta.get("mutated_path") or case_json.get("mutated_path")
        if mutated:
            table = "headers" if str(mutated).startswith("header:") else "payload"
            seen.add((table, normalise(table, str(mutated))))
        counter = self.negative if case.case_kind in ("negative", "malformed_audio") else self.positive
        counter.update(seen)

    def rows(self) -> list[RowCoverage] | None:
        """Every documented row with its use counts; ``None`` when the spec package is unavailable."""
        try:
            from asr_conformance.spec import errata, fields
        except ImportError:
            return None
        renamed = _renames(errata())
        rows = []
        for row in fields():
            table = str(row.table)
            keys = [(table, normalise(table, str(row.path)))]
            keys += [(table, new) for new in renamed.get(keys[0], ())]
            rows.append(
                RowCoverage(
                    table=table,
                    path=str(row.path),
                    type=str(row.type or ""),
                    required=bool(row.required),
                    positive=sum(self.positive[k] for k in keys),
                    negative=sum(self.negative[k] for k in keys),
                )
            )
        return rows


_SCHEMA_TABLE = {"request": "payload", "response": "body"}


def _pointer_path(pointer: str) -> str:
    """A JSON-Schema pointer as a table path: /properties/chunks/items/properties/text -> chunks.text."""
    return ".".join(p for p in pointer.strip("/").split("/") if p not in ("properties", "items"))


def _renames(errata: Iterable[Any]) -> dict[tuple[str, str], list[str]]:
    """Documented row -> the names the served view gives it (errata that move a property, e.g. E1).

    A faithful server sends the served name, which exercises the documented row all the same.
    """
    out: dict[tuple[str, str], list[str]] = {}
    for erratum in errata:
        if getattr(erratum, "withdrawn", False):
            continue
        for patch in getattr(erratum, "patches", ()):
            table = _SCHEMA_TABLE.get(patch.schema)
            if patch.op == "move" and table and patch.from_:
                old = (table, _pointer_path(patch.from_))
                out.setdefault(old, []).append(_pointer_path(patch.path))
    return out


def summarise(rows: list[RowCoverage]) -> dict[str, tuple[int, int]]:
    """table -> (exercised rows, documented rows), in the spec's table order."""
    out: dict[str, tuple[int, int]] = {}
    for row in rows:
        done, total = out.get(row.table, (0, 0))
        out[row.table] = (done + row.exercised, total + 1)
    return out


__all__ = ["TABLES", "CoverageCollector", "RowCoverage", "json_paths", "normalise", "summarise"]
