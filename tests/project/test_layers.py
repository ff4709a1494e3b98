"""The layer rules of ARCHITECTURE.md, enforced: import-linter contracts, no import cycle, size limits.

The contracts live in pyproject.toml (``[tool.importlinter]``). grimp, which import-linter uses, reads one
package folder; the repository maps ``asr_conformance.*`` onto several top-level folders, so the tests
assemble the installed layout (what the wheel holds) in a temporary folder first.

Project-wide tests live in tests/project/, never directly in tests/: pytest puts a test file's folder on
sys.path, and tests/ holds folders named like the packages (tests/reference, ...) that would shadow them.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: repository folder -> where the package-dir mapping puts it inside asr_conformance/
MAPPED = {name: name for name in ("spec", "mock_server", "reference", "conformance")}
SOURCE_DIRS = ("asr_conformance", *MAPPED)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


@pytest.fixture(scope="module")
def installed_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``asr_conformance/`` laid out as the wheel installs it (sources only)."""
    root = tmp_path_factory.mktemp("layout")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.json", "*.flac", "*.wav", "*.yaml")
    shutil.copytree(ROOT / "asr_conformance", root / "asr_conformance", ignore=ignore)
    for folder, name in MAPPED.items():
        shutil.copytree(ROOT / folder, root / "asr_conformance" / name, ignore=ignore)
    return root


def test_import_contracts(installed_tree: Path) -> None:
    """import-linter: layers cli → reference | conformance → mock_server → spec → core, and the rest."""
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(installed_tree)}
    proc = subprocess.run(
        [str(lint), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=installed_tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle(installed_tree: Path) -> None:
    """No cycle between modules anywhere, lazy (function-level) imports included: a lazy import hides a
    cycle at run time, not in the design."""
    code = (
        "import json, grimp\n"
        "g = grimp.build_graph('asr_conformance', cache_dir=None, exclude_type_checking_imports=True)\n"
        "print(json.dumps({m: sorted(g.find_modules_directly_imported_by(m)) for m in g.modules}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(installed_tree)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=installed_tree, env=env, capture_output=True, text=True, check=True
    ).stdout
    import json

    graph = {k: set(v) for k, v in json.loads(out).items()}
    assert len(graph) > 50, "the graph should hold every module"
    assert _cycles(graph) == []


def _python_files() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


def test_modules_are_small() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _python_files()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these along their concepts (> {MAX_MODULE_LINES} lines): {long}"


def test_functions_are_short() -> None:
    long = {}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = length
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_no_runtime_use_of_shared_folder() -> None:
    """The project must stand alone: nothing reads the workplace's shared/ evidence folder."""
    needle = "reference-material"
    hits = [
        str(p.relative_to(ROOT))
        for pkg in (*SOURCE_DIRS, "tests", "bench")
        for p in (ROOT / pkg).rglob("*.py")
        if p.name != "test_layers.py"
        and ("/work/shared" in p.read_text() or f"shared/{needle}" in p.read_text())
    ]
    assert not hits, hits
