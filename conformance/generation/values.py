"""Field values from the spec's domains, and how they land in a request.

``spec.domains()`` sorts the values of every documented field into ``must_accept`` (positive cases),
``must_reject`` (negative cases) and ``implementation_defined`` (only no-5xx / error shape / latency).
Paths spell where a value goes: ``parameters.generation_parameters.top_k`` in the JSON body,
``header:x-use-cache`` as a request header, and ``inputs`` with symbolic values (``@missing``,
``@not-a-string:123``, ``@base64-undecodable``, ...) resolved against the case's audio at render time.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

BUCKETS = ("must_accept", "must_reject", "implementation_defined")
MISSING = object()  # a path whose value is "absent from the body"


@dataclass(frozen=True)
class FieldValue:
    """One value of one field's domain, with its provenance."""

    path: str
    value: Any
    bucket: str  # must_accept | must_reject | implementation_defined
    evidence: str = ""
    note: str = ""

    @property
    def is_header(self) -> bool:
        return self.path.startswith("header:")

    @property
    def header_name(self) -> str:
        return self.path.removeprefix("header:")

    @property
    def is_inputs(self) -> bool:
        return self.path == "inputs"

    @property
    def key(self) -> str:
        """A stable, JSON-safe spelling of the value (hypothesis samples over these)."""
        return f"{self.bucket}|{self.path}|{json.dumps(self.value, sort_keys=True, default=str)}"

    def mutation(self, field_types: dict[str, str]) -> str:
        """One-line description of the change a case makes: what was sent, then why it matters."""
        if self.is_inputs and isinstance(self.value, str) and self.value.startswith("@"):
            what = self.value[1:]
            if what.startswith("not-a-string:"):
                what = f"{json_type(json.loads(what.removeprefix('not-a-string:')))} instead of string"
            else:
                what = what.replace("-", " ")
        elif self.is_header:
            what = "absent" if self.value == "@missing" else f"{json.dumps(self.value)}"
        else:
            expected = field_types.get(self.path)
            what = f"{json_type(self.value)} {json.dumps(self.value)}"
            if (
                expected
                and json_type(self.value) != expected
                and not (expected == "number" and json_type(self.value) == "integer")
            ):
                what += f" instead of {expected}"
        return f"{self.path}: {what}" + (f" ({self.note})" if self.note else "")


def json_type(value: Any) -> str:
    """The JSON Schema type name of a Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@cache
def load_values() -> tuple[FieldValue, ...]:
    """Every domain value the spec knows, sorted by path then bucket (stable for seeding)."""
    from asr_conformance import spec

    out: list[FieldValue] = []
    for path, domain in sorted(spec.domains().items()):
        for bucket in BUCKETS:
            for dv in getattr(domain, bucket, ()) or ():
                out.append(
                    FieldValue(
                        path, dv.value, bucket, str(getattr(dv, "evidence", "")), getattr(dv, "note", "")
                    )
                )
    out += boundary_values(out)
    return tuple(v for v in out if supported(v))


#: numbers at the edges of what servers store: past int32, past int64, near the float64 maximum
BOUNDARIES: dict[str, tuple[Any, ...]] = {"integer": (2**31, 2**63), "number": (2**31, 1e300)}


def boundary_values(known: Iterable[FieldValue]) -> list[FieldValue]:
    """Implementation-defined values at the storage boundaries of each numeric field not listed yet.

    The documentation gives no upper bounds; a server may accept or refuse such values, but must not
    break on them (no 5xx).
    """
    listed = {(v.path, json.dumps(v.value)) for v in known}
    out = []
    for path, kind in sorted(field_types().items()):
        for value in BOUNDARIES.get(kind, ()):
            if (path, json.dumps(value)) not in listed:
                out.append(FieldValue(path, value, "implementation_defined", "", "storage boundary"))
    return out


@cache
def field_types() -> dict[str, str]:
    """Documented JSON type of each payload path ("integer", "number", ...; enums are left out)."""
    from asr_conformance import spec

    types = {}
    for row in spec.fields():
        base = str(row.type).removesuffix("[]")
        if base in ("integer", "number", "string", "boolean", "object"):
            types[row.path if row.table != "headers" else f"header:{row.path}"] = (
                "array" if str(row.type).endswith("[]") else base
            )
    return types


def by_bucket(values: Iterable[FieldValue], bucket: str) -> tuple[FieldValue, ...]:
    return tuple(v for v in values if v.bucket == bucket)


# ------------------------------------------------------------------------------------------- inputs

_SYMBOLS = (
    "@missing",
    "@base64-valid",
    "@base64-undecodable",
    "@base64-unpadded",
    "@base64-wrapped",
    "@base64-urlsafe",
    "@empty-string",
    "@data-url",
    "@not-audio",
)


def supported(value: FieldValue) -> bool:
    """False for symbolic ``inputs`` values this suite cannot render (they are left out, not guessed)."""
    if not value.is_inputs:
        return True
    sym = value.value
    if not isinstance(sym, str) or not sym.startswith("@"):
        return True
    return sym in _SYMBOLS or sym.startswith("@not-a-string:")


def resolve_inputs(symbol: Any, audio: bytes) -> Any:
    """The ``inputs`` value for ``symbol`` given the case's audio; :data:`MISSING` removes the key."""
    plain = base64.b64encode(audio).decode()
    if not (isinstance(symbol, str) and symbol.startswith("@")):
        return symbol
    if symbol == "@missing":
        return MISSING
    if symbol.startswith("@not-a-string:"):
        return json.loads(symbol.removeprefix("@not-a-string:"))
    table: dict[str, Any] = {
        "@base64-valid": plain,
        "@base64-undecodable": "this is %% not base64 !!",
        "@base64-unpadded": plain.rstrip("="),
        "@base64-wrapped": "\n".join(plain[i : i + 76] for i in range(0, len(plain), 76)),
        "@base64-urlsafe": base64.urlsafe_b64encode(audio).decode(),
        "@empty-string": "",
        "@data-url": f"data:application/octet-stream;base64,{plain}",
        "@not-audio": base64.b64encode(b"this is plain text, not audio\n" * 4).decode(),
    }
    return table[symbol]


def inputs_differs(symbol: str, audio: bytes) -> bool:
    """False when a symbol renders to plain base64 for this audio (e.g. unpadded when no padding exists)."""
    resolved = resolve_inputs(symbol, audio)
    return symbol == "@base64-valid" or resolved != base64.b64encode(audio).decode()


# ------------------------------------------------------------------------------------------ payload


def set_path(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``obj`` with ``path`` (dotted) set to ``value`` (or removed for :data:`MISSING`)."""
    head, _, rest = path.partition(".")
    out = dict(obj)
    if not rest:
        if value is MISSING:
            out.pop(head, None)
        else:
            out[head] = value
        return out
    inner = out.get(head)
    out[head] = set_path(inner if isinstance(inner, dict) else {}, rest, value)
    return out


def parameters_from(values: Iterable[FieldValue]) -> Any:
    """The ``parameters`` value carrying the body values (header and ``inputs`` values excluded).

    ``None`` when no value goes into ``parameters``; usually a dict, but a negative case may make it (or
    ``generation_parameters``) any JSON value.
    """
    params: Any = None
    for v in sorted(values, key=lambda v: v.path.count(".")):  # outer objects before their fields
        if v.is_header or v.is_inputs or not (v.path == "parameters" or v.path.startswith("parameters.")):
            continue
        if v.path == "parameters":
            params = (
                {**params, **v.value} if isinstance(v.value, dict) and isinstance(params, dict) else v.value
            )
            continue
        base = params if isinstance(params, dict) else {}
        params = set_path(base, v.path.removeprefix("parameters."), v.value)
    return params


def is_object_shaped(params: Any) -> bool:
    """True when ``parameters`` and its ``generation_parameters`` are objects (or absent)."""
    if params is None:
        return True
    if not isinstance(params, dict):
        return False
    gen = params.get("generation_parameters")
    return gen is None or isinstance(gen, dict)


# ------------------------------------------------------------------------------ serialisation check


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def survives_serialisation(value: FieldValue, accepted: Iterable[FieldValue]) -> bool:
    """False when JSON serialisation turns a rejected value into an acceptable one (or cannot carry it).

    Examples: ``NaN`` (not JSON), ``5.0`` for an integer field (JSON has one number type; JSON Schema's
    ``integer`` accepts it), or a value that round-trips equal to a ``must_accept`` value.
    """
    if value.is_header or (value.is_inputs and isinstance(value.value, str) and value.value.startswith("@")):
        return True
    try:
        back = json.loads(json.dumps(value.value, allow_nan=False))
    except (TypeError, ValueError):
        return False
    if not _json_equal(back, value.value):
        return False
    integral = isinstance(back, float) and math.isfinite(back) and back.is_integer()
    if integral and field_types().get(value.path) == "integer":
        return False
    return not any(_json_equal(back, a.value) for a in accepted if a.path == value.path)


__all__ = [
    "BUCKETS",
    "MISSING",
    "FieldValue",
    "boundary_values",
    "by_bucket",
    "field_types",
    "inputs_differs",
    "is_object_shaped",
    "json_type",
    "load_values",
    "parameters_from",
    "resolve_inputs",
    "set_path",
    "supported",
    "survives_serialisation",
]
