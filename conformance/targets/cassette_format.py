"""The cassette file format: VCR.py's version 1 YAML with our metadata blocks, bodies kept apart.

A cassette is ``NAME.yaml``, shaped like a VCR.py cassette (format version 1, YAML serializer), and
``NAME.bodies`` (:mod:`~asr_conformance.conformance.targets.body_store`): every request body and every
response body that is not short UTF-8 text is stored there once, by sha256, compressed; the YAML names it
(``asr_conformance.request_body`` / ``response_body``) and leaves VCR.py's ``body`` empty. Short text answers
stay in the YAML, readable in a diff; a long header value that comes again is a YAML alias (``*h1``), which
every YAML loader expands. VCR.py plays such a cassette through
:class:`~asr_conformance.conformance.targets.replay.VCRPersister` (``my_vcr.register_persister(...)``), or
from a self-contained copy that :func:`~asr_conformance.conformance.targets.replay.to_vcr` writes
(``python -m asr_conformance.conformance.targets.replay to-vcr NAME.yaml OUT.yaml``). Our additions sit where
VCR.py ignores them:

* a top-level ``metadata.asr_conformance`` block: the format (:data:`META_FORMAT`), the run header (suite
  version, spec view, seed, target, profile) and how generation ran (seeded, no example database);
* an ``asr_conformance`` block on each interaction: case id, phase, kind, description, mutation, the
  exchange's index in its case (left out when 0), the body references, and on the case's first interaction
  the case itself (``case_body``: a stored JSON body, so replay needs no regeneration) and the verdicts
  recorded at the time (check ids grouped under ``"OUTCOME SEVERITY"``, full forms under ``details``).

Formats 1 (every body inline as ``!!binary``, the case inline, a seed, suite version and spec view on every
interaction) and 2 (bodies apart, the rest as 1) are still read; a newer format is refused by name. Reading
(:mod:`~asr_conformance.conformance.targets.replay`) and writing
(:mod:`~asr_conformance.conformance.record.cassette`) both use this module and never each other.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.model import (
    Exchange,
    Request,
    Response,
)

if TYPE_CHECKING:
    from asr_conformance.conformance.targets.body_store import BodyReader, BodyWriter


#: VCR.py's cassette format version (``vcr.serialize.CASSETTE_FORMAT_VERSION``).
VCR_FORMAT_VERSION = 1


#: Version of our own metadata blocks inside the cassette (2: bodies in NAME.bodies; 3: what the run header
#: or a default already says is left out of each interaction, a speech WAV refers to its sentence's voice).
META_FORMAT = "asr-conformance-cassette/3"

#: The newest metadata format this version reads (it reads every older one).
_NEWEST_FORMAT = 3

#: A response body this short that is UTF-8 text stays in the YAML.
INLINE_TEXT_BYTES = 2048


SUFFIX = ".yaml"


#: ``transport_error`` prefix of an exchange :class:`CassetteTarget` could not answer.
MISS_PREFIX = "cassette miss"


#: Status code stored for a transport error (VCR.py needs a response); the metadata keeps the truth.
_TRANSPORT_ERROR_STATUS = 599


class CassetteError(ValueError):
    """The file is not a cassette this version can read."""


def yaml_module() -> Any:
    import yaml  # a run that records nothing never pays for the import

    return yaml


def dumper() -> Any:
    yaml = yaml_module()
    return getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def loader() -> Any:
    yaml = yaml_module()
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def vcr_headers(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name, []).append(value)
    return out


def _pairs(headers: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for name, values in (headers or {}).items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((str(name), str(value)))
    return tuple(pairs)


def _as_bytes(body: Any) -> bytes:
    """A VCR.py body (bytes, str, ``{"string": ...}`` or ``None``) as bytes."""
    if isinstance(body, dict):
        body = body.get("string")
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode()


def _join_url(base: str, path: str) -> str:
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/") if base else path


def bodies_path(cassette: Path) -> Path:
    """The bodies file that goes with a cassette."""
    return cassette.with_suffix(".bodies")


def _response_body(body: bytes, store: BodyWriter | None, ours: dict[str, Any]) -> Any:
    """Short UTF-8 text inline (as VCR.py writes it); anything else into the store, named in ``ours``."""
    if store is None:
        return body
    if len(body) <= INLINE_TEXT_BYTES:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if text.encode("utf-8") == body and "\r" not in text:
                return text
    ours["response_body"] = store.put(body)
    return ""


def interaction(
    exchange: Exchange,
    base_url: str,
    meta: dict[str, Any],
    store: BodyWriter | None = None,
    recipe: Any = None,
) -> dict[str, Any]:
    """One VCR.py interaction with our block; with ``store``, bodies go there (format 2), the request's
    rendered from ``recipe`` (the case's audio) where that gives the same bytes."""
    request = exchange.request
    response = exchange.response
    ours: dict[str, Any] = {}
    request_body: bytes | None = request.body
    if store is not None:
        ours["request_body"] = store.put(request.body, recipe)
        request_body = None
    if response is None:
        vcr_response: dict[str, Any] = {
            "status": {"code": _TRANSPORT_ERROR_STATUS, "message": "transport error"},
            "headers": {},
            "body": {"string": b""},
        }
    else:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        vcr_response = {
            "status": {"code": response.status, "message": reason},
            "headers": vcr_headers(response.headers),
            "body": {"string": _response_body(response.body, store, ours)},
        }
    block = {
        **meta,
        "request_path": request.path,
        # a stored body is named by its sha256 already
        "body_sha256": None if store is not None else request.body_sha256,
        "elapsed_s": response.elapsed_s if response is not None else None,
        "transport_error": exchange.transport_error,
        **ours,
    }
    return {
        "request": {
            "method": request.method,
            "uri": _join_url(base_url, request.path),
            "body": request_body,
            "headers": vcr_headers(request.headers),
        },
        "response": vcr_response,
        # null says nothing a missing key does not (format 3 leaves them out)
        "asr_conformance": {k: v for k, v in block.items() if v is not None},
    }


def format_version(ours: dict[str, Any], file: Path) -> int:
    """The metadata format of a cassette's ``metadata.asr_conformance`` block; newer than this version
    reads: a :class:`CassetteError` that says so."""
    name = str(ours.get("format", ""))
    try:
        version = int(name.rpartition("/")[2])
    except ValueError:
        raise CassetteError(f"{file}: unknown cassette format {name!r}") from None
    if version > _NEWEST_FORMAT:
        raise CassetteError(
            f"{file} is a cassette of format {version}, recorded by a newer asr-conformance; this version "
            f"reads formats 1 to {_NEWEST_FORMAT}: upgrade asr-conformance, or record it again"
        )
    return version


#: Case fields an interaction's block already holds (``case_id``, ``phase``, ``case_kind``, ``mutation``).
_CASE_IN_BLOCK = {"id": "case_id", "phase": "phase", "kind": "case_kind", "mutation": "mutation"}


def _case_defaults() -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(CaseSpec):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    out["headers"] = []  # as case_to_json writes the empty tuple
    return out


def compact_case(case: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """A case's JSON without the fields at their default and those ``block`` holds (format 3)."""
    defaults = _case_defaults()
    out = {}
    for name, value in case.items():
        if name in _CASE_IN_BLOCK and block.get(_CASE_IN_BLOCK[name]) == value:
            continue
        if name in defaults and defaults[name] == value:
            continue
        out[name] = value
    return out


def case_of(block: dict[str, Any], bodies: BodyReader | None) -> dict[str, Any] | None:
    """The case JSON of a case's first interaction (inline, or a stored body since format 3), with the
    fields :func:`compact_case` left out because ``block`` holds them; the reader fills the defaults."""
    case = block.get("case")
    if block.get("case_body") is not None:
        case = json.loads(_body(None, block["case_body"], bodies))
    if not isinstance(case, dict):
        return None
    restored = {name: block.get(key) for name, key in _CASE_IN_BLOCK.items() if key in block}
    return {**restored, **case}


def group_results(items: list[Any]) -> dict[str, list[Any]]:
    """Verdicts as format 3 writes them: check ids under ``"OUTCOME SEVERITY"`` (``[check_id, outcome,
    severity]`` items), the full forms (failures, a message) under ``details``."""
    out: dict[str, list[Any]] = {}
    for item in items:
        if isinstance(item, list):
            check_id, outcome, severity = item
            out.setdefault(f"{outcome} {severity}", []).append(check_id)
        else:
            out.setdefault("details", []).append(item)
    return out


def ungroup_results(data: Any) -> list[Any]:
    """Inverse of :func:`group_results`; a list (formats 1 and 2) is returned as it is."""
    if not isinstance(data, dict):
        return list(data or [])
    out: list[Any] = []
    for key, values in data.items():
        if key == "details":
            out.extend(values)
            continue
        outcome, severity = key.split(" ")
        out.extend([check_id, outcome, severity] for check_id in values)
    return out


def _body(raw: Any, sha: str | None, bodies: BodyReader | None) -> bytes:
    if sha is None:
        return _as_bytes(raw)
    if bodies is None:
        raise CassetteError(f"the cassette names body {sha[:12]}… but has no bodies file")
    return bodies.get(sha)


def exchange_of(interaction: dict[str, Any], bodies: BodyReader | None = None) -> Exchange:
    """The exchange an interaction recorded, bodies taken from ``bodies`` where the YAML names them."""
    req = interaction["request"]
    ours = interaction.get("asr_conformance") or {}
    request = Request(
        method=str(req["method"]).upper(),
        path=ours.get("request_path", req.get("uri", "")),
        headers=_pairs(req.get("headers")),
        body=_body(req.get("body"), ours.get("request_body"), bodies),
    )
    if ours.get("transport_error") is not None:
        return Exchange(request=request, response=None, transport_error=str(ours["transport_error"]))
    resp = interaction["response"]
    response = Response(
        status=int(resp["status"]["code"]),
        headers=_pairs(resp.get("headers")),
        body=_body(resp.get("body"), ours.get("response_body"), bodies),
        elapsed_s=float(ours.get("elapsed_s") or 0.0),
    )
    return Exchange(request=request, response=response)


def inline_bodies(data: dict[str, Any], bodies: BodyReader | None) -> dict[str, Any]:
    """A loaded cassette with every stored body put back inline (format 1, what VCR.py plays)."""
    out = dict(data)
    items = []
    for item in data.get("interactions") or []:
        ours = dict(item.get("asr_conformance") or {})
        exchange = exchange_of(item, bodies)
        request = {**item["request"], "body": exchange.request.body}
        response = dict(item["response"])
        if exchange.response is not None and ours.pop("response_body", None) is not None:
            response["body"] = {"string": exchange.response.body}
        ours.pop("request_body", None)
        if ours.get("case_body") is not None:
            ours["case"] = json.loads(_body(None, ours.pop("case_body"), bodies))
        items.append({**item, "request": request, "response": response, "asr_conformance": ours})
    out["interactions"] = items
    meta = dict((data.get("metadata") or {}).get("asr_conformance") or {})
    if meta:
        meta.pop("bodies", None)
        meta["format"] = "asr-conformance-cassette/1"
        out["metadata"] = {**data["metadata"], "asr_conformance": meta}
    return out


def _slug(target: str) -> str:
    """A file name for a target: ``http://127.0.0.1:8000/models/x`` → ``127.0.0.1-8000-models-x``."""
    bare = re.sub(r"^[a-z]+://", "", target)
    return re.sub(r"[^A-Za-z0-9.]+", "-", bare).strip("-.") or "target"


def cassette_path(directory: Path, target: str) -> Path:
    """Where the recorder writes the cassette of ``target`` inside ``directory``."""
    return directory / f"{_slug(target)}{SUFFIX}"
