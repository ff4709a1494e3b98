"""Session fixtures for the reference tests: the converted tiny.en checkpoint and the speech corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # corpus.py, also used by bench/reference_cpu.py

from corpus import Clip, build_corpus


@pytest.fixture(scope="session")
def tiny_en() -> Path:
    from asr_conformance.reference.model_cache import ensure_tiny_en

    return ensure_tiny_en()


@pytest.fixture(scope="session")
def corpus() -> list[Clip]:
    return build_corpus()
