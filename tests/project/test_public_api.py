"""The packages' public names, asserted (httpx's habit): the API never grows or shrinks by accident."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC = {
    "mock_server": [
        "AudioDecodeError", "Chunk", "DecodedAudio", "Engine", "EngineError", "InferenceParams",
        "MockConfig", "MockServer", "Transcription", "VIOLATIONS", "create_app", "decode", "encode", "probe",
        "start_server",
    ],
    "conformance": [
        "CaseSpec", "CassetteRecorder", "CassetteTarget", "Exchange", "Outcome", "RunConfig", "Severity",
        "all_checks", "execute", "open_target", "open_writers", "plan", "run", "run_checks", "run_compare",
    ],
    "reference": ["EngineSettings", "WhisperEngine", "convert", "ensure_tiny_en", "front_config"],
}  # fmt: skip


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_names(package: str) -> None:
    module = importlib.import_module(f"asr_conformance.{package}")
    assert module.__all__ == sorted(PUBLIC[package])
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_importing_a_package_imports_nothing_heavy() -> None:
    """The pytest plugins import these packages in every session: they must stay cheap."""
    code = (
        "import sys, asr_conformance.mock_server, asr_conformance.conformance, asr_conformance.reference; "
        "print(sorted(m for m in ('aiohttp', 'torch', 'transformers', 'hypothesis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
