"""The cassette file format: VCR.py's version 1 YAML with our metadata blocks.

The file is a VCR.py cassette, format version 1, YAML serializer, so VCR.py itself can load it and play it
to any HTTP client. Bodies are always written as bytes, which YAML stores as ``!!binary`` base64: the exact
bytes come back, whatever the codec or encoding. Our additions sit where VCR.py ignores them:

* a top-level ``metadata.asr_conformance`` block: the run header (suite version, spec view, seed, target,
  profile) and how generation ran (seeded, no hypothesis example database);
* an ``asr_conformance`` block on each interaction: case id, exchange index, the case itself (so replay
  needs no regeneration), the check ids that judged it, seed, suite version, spec view, and on the case's
  first interaction the verdicts recorded at the time.

Reading (:mod:`~asr_conformance.conformance.targets.replay`) and writing
(:mod:`~asr_conformance.conformance.record.cassette`) both use this module and never each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr_conformance.conformance.model import (
    Exchange,
    Request,
    Response,
)

if TYPE_CHECKING:
    pass



#: VCR.py's cassette format version (``vcr.serialize.CASSETTE_FORMAT_VERSION``).
VCR_FORMAT_VERSION = 1


#: Version of our own metadata blocks inside the cassette.
META_FORMAT = "asr-conformance-cassette/1"


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


def interaction(exchange: Exchange, base_url: str, meta: dict[str, Any]) -> dict[str, Any]:
    request = exchange.request
    response = exchange.response
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
            "body": {"string": response.body},
        }
    return {
        "request": {
            "method": request.method,
            "uri": _join_url(base_url, request.path),
            "body": request.body,
            "headers": vcr_headers(request.headers),
        },
        "response": vcr_response,
        "asr_conformance": {
            **meta,
            "request_path": request.path,
            "body_sha256": request.body_sha256,
            "elapsed_s": response.elapsed_s if response is not None else None,
            "transport_error": exchange.transport_error,
        },
    }


def exchange_of(interaction: dict[str, Any]) -> Exchange:
    req = interaction["request"]
    ours = interaction.get("asr_conformance") or {}
    request = Request(
        method=str(req["method"]).upper(),
        path=ours.get("request_path", req.get("uri", "")),
        headers=_pairs(req.get("headers")),
        body=_as_bytes(req.get("body")),
    )
    if ours.get("transport_error") is not None:
        return Exchange(request=request, response=None, transport_error=str(ours["transport_error"]))
    resp = interaction["response"]
    response = Response(
        status=int(resp["status"]["code"]),
        headers=_pairs(resp.get("headers")),
        body=_as_bytes(resp.get("body")),
        elapsed_s=float(ours.get("elapsed_s") or 0.0),
    )
    return Exchange(request=request, response=response)


def _slug(target: str) -> str:
    """A file name for a target: ``http://127.0.0.1:8000/models/x`` → ``127.0.0.1-8000-models-x``."""
    bare = re.sub(r"^[a-z]+://", "", target)
    return re.sub(r"[^A-Za-z0-9.]+", "-", bare).strip("-.") or "target"


def cassette_path(directory: Path, target: str) -> Path:
    """Where the recorder writes the cassette of ``target`` inside ``directory``."""
    return directory / f"{_slug(target)}{SUFFIX}"
