"""Builds the OpenAPI 3.1 document (served view) from the generated schemas and the recorded examples.

Model ids contain "/", which one path parameter cannot carry, so a model is addressed as
``/models/{owner}/{name}`` (legacy api-inference host) and ``/hf-inference/models/{owner}/{name}`` (router).
The draft-07 schemas are embedded minus ``$schema``/``$id``: OpenAPI 3.1 uses the JSON Schema 2020-12
dialect, where every keyword they use means the same, except array-form ``items`` (the served timestamp
pair), which becomes ``prefixItems`` (see ``_to_2020_12``).
"""

from __future__ import annotations

import copy
from typing import Any

from asr_conformance.spec import loader
from asr_conformance.spec.model import View
from asr_conformance.spec.schemas import SCHEMA_NAMES, build

STATUSES = ("200", "400", "401", "403", "404", "410", "413", "429", "500", "503")
_DESCRIPTIONS = {
    "200": "Transcription.",
    "400": "Bad request: undecodable audio, invalid parameters, or a pipeline ValueError.",
    "401": "Missing or invalid token (router).",
    "403": "Token lacks the permission to call Inference Providers.",
    "404": "Model not served by this provider (plain text).",
    "410": "Legacy host retired (plain text).",
    "413": "Payload too large (limit undocumented; servers choose it).",
    "429": "Rate limit reached.",
    "500": "Unexpected inference error.",
    "503": "Model loading (legacy; carries estimated_time).",
}
_COMPONENT = {
    "request": "ASRRequest",
    "headers": "ASRRequestHeaders",
    "response": "ASRResponse",
    "error": "Error",
}
_SEGMENT = {"type": "string", "pattern": "^[^/]+$"}
_RAW_TYPES = ("audio/*", "application/octet-stream")


def _to_2020_12(node: Any) -> Any:
    """Rewrite the one draft-07-only form used (array-form ``items``) into 2020-12 ``prefixItems``."""
    if isinstance(node, dict):
        out = {k: _to_2020_12(v) for k, v in node.items()}
        if isinstance(out.get("items"), list):
            out["prefixItems"] = out.pop("items")
        return out
    if isinstance(node, list):
        return [_to_2020_12(v) for v in node]
    return node


def _component(name: str) -> dict[str, Any]:
    s = build(name, View.SERVED)
    for key in ("$schema", "$id"):
        s.pop(key)
    return _to_2020_12(s)


def _examples(status: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, ex in enumerate(loader.examples()[status]):
        key = ex["fixture"] or f"reported-{status}-{i}"
        out[key] = {"summary": ex["summary"], "value": copy.deepcopy(ex["body"])}
    return out


def _response(status: str, headers: dict[str, Any]) -> dict[str, Any]:
    examples = _examples(status)
    resp: dict[str, Any] = {"description": _DESCRIPTIONS[status]}
    if status in ("404", "410"):
        media = {"schema": {"type": "string"}}
        if examples:
            media["examples"] = examples
        resp["content"] = {"text/plain": media}
        return resp
    ref = "#/components/schemas/" + (_COMPONENT["response"] if status == "200" else _COMPONENT["error"])
    media = {"schema": {"$ref": ref}}
    if examples:
        media["examples"] = examples
    resp["content"] = {"application/json": media}
    if status == "200":
        resp["headers"] = headers
    return resp


def _response_headers() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rule in loader.response_headers():
        if rule.when == "error" or rule.name == "content-type":
            continue
        out[rule.name] = {
            "description": f"[{rule.evidence.value}] {rule.note}",
            "required": False,
            "schema": {"type": "string", "pattern": rule.pattern},
        }
        if rule.example is not None:
            out[rule.name]["example"] = rule.example
    return out


def _header_parameters(headers_schema: dict[str, Any]) -> list[dict[str, Any]]:
    params = []
    for name, prop in sorted(headers_schema["properties"].items()):
        prop = copy.deepcopy(prop)
        param: dict[str, Any] = {
            "name": name,
            "in": "header",
            "required": False,
            "description": prop.pop("description"),
            "schema": prop,
        }
        if prop.pop("deprecated", False):
            param["deprecated"] = True
        params.append(param)
    return params


def _operation(op_id: str, summary: str, headers_schema: dict[str, Any]) -> dict[str, Any]:
    resp_headers = _response_headers()
    raw = {t: {"schema": {"type": "string", "format": "binary"}} for t in _RAW_TYPES}
    return {
        "operationId": op_id,
        "summary": summary,
        "description": (
            "Two request forms: raw audio bytes (audio/*, application/octet-stream, or no Content-Type at "
            "all, erratum E7) without parameters, or JSON with base64 `inputs` and optional `parameters`."
        ),
        "tags": ["automatic-speech-recognition"],
        "parameters": [
            {"name": "owner", "in": "path", "required": True, "schema": dict(_SEGMENT)},
            {"name": "name", "in": "path", "required": True, "schema": dict(_SEGMENT)},
            *_header_parameters(headers_schema),
        ],
        "requestBody": {
            "required": True,
            "content": {
                **raw,
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/" + _COMPONENT["request"]},
                    "examples": {
                        "parameters": {
                            "summary": "base64 audio with parameters",
                            "value": {
                                "inputs": "ZkxhQwAAACIQABAAAAGOABkSA+gA8AABIqDe",
                                "parameters": {
                                    "return_timestamps": True,
                                    "generation_parameters": {"max_new_tokens": 32, "num_beams": 1},
                                },
                            },
                        }
                    },
                },
            },
        },
        "responses": {s: _response(s, resp_headers) for s in STATUSES},
        "security": [{"bearer": []}, {}],
    }


def build_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document, served view."""
    u = loader.upstream()
    headers_schema = _component("headers")
    errata_ids = ", ".join(e.id for e in loader.errata() if not e.withdrawn)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hugging Face Inference API: automatic-speech-recognition (served view)",
            "version": u.date,
            "description": (
                f"Generated by asr-conformance from the tables of {u.url} with errata {errata_ids} applied. "
                "Schemas are draft-07 documents embedded in the 3.1 (JSON Schema 2020-12) dialect."
            ),
            "x-view": View.SERVED.value,
        },
        "servers": [
            {"url": "https://router.huggingface.co", "description": "current router (hf-inference)"},
            {"url": "https://api-inference.huggingface.co", "description": "legacy host (410 since 2025-12)"},
            {
                "url": "http://{host}:{port}",
                "description": "a local implementation (mock or reference server)",
                "variables": {"host": {"default": "127.0.0.1"}, "port": {"default": "8000"}},
            },
        ],
        "paths": {
            "/hf-inference/models/{owner}/{name}": {
                "post": _operation("transcribe", "Transcribe audio (router form)", headers_schema)
            },
            "/models/{owner}/{name}": {
                "post": _operation("transcribeLegacy", "Transcribe audio (legacy host form)", headers_schema)
            },
        },
        "components": {
            "schemas": {_COMPONENT[n]: _component(n) for n in SCHEMA_NAMES},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
