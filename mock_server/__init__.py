"""A faithful, deterministic emulation of the HF Inference API automatic-speech-recognition task.

The public names below are re-exported lazily (PEP 562), so importing the package costs nothing until a
name is used: the pytest plugins and the CLI stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "AudioDecodeError": "asr_conformance.mock_server.audio",
    "Chunk": "asr_conformance.mock_server.engine",
    "DecodedAudio": "asr_conformance.mock_server.engine",
    "Engine": "asr_conformance.mock_server.engine",
    "EngineError": "asr_conformance.mock_server.engine",
    "InferenceParams": "asr_conformance.mock_server.engine",
    "MockConfig": "asr_conformance.mock_server.config",
    "MockServer": "asr_conformance.mock_server.server",
    "Transcription": "asr_conformance.mock_server.engine",
    "VIOLATIONS": "asr_conformance.mock_server.violations",
    "create_app": "asr_conformance.mock_server.front",
    "decode": "asr_conformance.mock_server.audio",
    "encode": "asr_conformance.mock_server.audio",
    "probe": "asr_conformance.mock_server.audio",
    "start_server": "asr_conformance.mock_server.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
