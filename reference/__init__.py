"""A real Whisper (transformers + torch) behind the mock's HTTP front: what a real implementation returns.

The public names below are re-exported lazily (PEP 562), so importing the package costs nothing until a
name is used: the pytest plugins and the CLI stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "EngineSettings": "asr_conformance.reference.whisper_engine",
    "WhisperEngine": "asr_conformance.reference.whisper_engine",
    "convert": "asr_conformance.reference.convert_ct2",
    "ensure_tiny_en": "asr_conformance.reference.model_cache",
    "front_config": "asr_conformance.reference.whisper_engine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
