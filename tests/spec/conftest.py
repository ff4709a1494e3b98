"""Shared helpers for the spec tests: the recorded-exchange fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

RECORDED_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"


def load_recorded() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(RECORDED_DIR.glob("*.json"))]


@pytest.fixture(scope="session")
def recorded_dir() -> Path:
    return RECORDED_DIR


@pytest.fixture(scope="session")
def recorded() -> list[dict[str, Any]]:
    return load_recorded()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize any test taking ``exchange`` over every recorded fixture (ids = fixture names)."""
    if "exchange" in metafunc.fixturenames:
        exchanges = load_recorded()
        metafunc.parametrize("exchange", exchanges, ids=[e["name"] for e in exchanges])
