"""Writes the generated files (schemas of both views, OpenAPI) and checks the committed ones are fresh."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from asr_conformance.spec.loader import SPEC_DIR
from asr_conformance.spec.model import View
from asr_conformance.spec.openapi_doc import build_openapi
from asr_conformance.spec.schemas import SCHEMA_NAMES, build

GENERATED_DIR = SPEC_DIR / "generated"
OPENAPI_PATH = SPEC_DIR / "openapi.json"


def schema_path(name: str, view: View) -> Path:
    return GENERATED_DIR / view.value / f"{name}.schema.json"


def dumps(doc: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file and its expected content."""
    out = {schema_path(n, v): dumps(build(n, v)) for v in View for n in SCHEMA_NAMES}
    out[OPENAPI_PATH] = dumps(build_openapi())
    return out


def write() -> list[Path]:
    """Write every output; return the files that changed."""
    changed = []
    for path, text in outputs().items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed


def check() -> str:
    """A unified diff of committed vs expected outputs; empty when everything is fresh."""
    diffs = []
    for path, text in outputs().items():
        current = path.read_text() if path.exists() else ""
        if current != text:
            rel = path.relative_to(SPEC_DIR.parent)
            diffs.extend(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"a/{rel} (committed)",
                    tofile=f"b/{rel} (generated)",
                )
            )
    return "".join(diffs)
