"""The import rules of ARCHITECTURE.md, enforced: lower layers never import higher ones.

Project-wide tests live in tests/project/, never directly in tests/: pytest puts a test file's folder on
sys.path, and tests/ holds folders named like the packages (tests/reference, ...) that would shadow them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"spec", "mock_server", "reference", "conformance", "asr_conformance"}

# package -> our packages it must never import
FORBIDDEN = {
    "spec": OURS - {"spec"},
    "mock_server": {"conformance", "reference", "asr_conformance"},
    "reference": {"conformance", "asr_conformance"},
    "conformance": {"reference", "asr_conformance"},
}


def _part(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "asr_conformance" and len(parts) > 1:
        return parts[1] if parts[1] != "cli" else "asr_conformance"
    return parts[0]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_part(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "asr_conformance":
                found.update(alias.name for alias in node.names)
            else:
                found.add(_part(node.module))
    return found & OURS


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_layers(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"{package} imports layers above it: {offenders}"


def test_no_runtime_use_of_shared_folder() -> None:
    """The project must stand alone: nothing reads the workplace's shared/ evidence folder."""
    needle = "reference-material"
    hits = [
        str(p.relative_to(ROOT))
        for pkg in ("spec", "mock_server", "reference", "conformance", "asr_conformance", "tests", "bench")
        for p in (ROOT / pkg).rglob("*.py")
        if p.name != "test_layers.py"
        and ("/work/shared" in p.read_text() or f"shared/{needle}" in p.read_text())
    ]
    assert not hits, hits
