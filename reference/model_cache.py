"""A process-safe cache of converted checkpoints, so that tests and benchmarks convert tiny.en once.

Location: ``${ASR_CONFORMANCE_CACHE:-~/.cache/asr-conformance}/models/<key>``. The key is the sha256 of the
source ``model.bin`` plus :data:`CONVERTER_VERSION`, so a changed converter never reuses stale output.
Concurrent processes (pytest-xdist workers) serialise on an ``fcntl`` lock next to the entry, and each
entry is built in a temporary folder and renamed into place, so a present entry is always complete.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from asr_conformance.reference.convert_ct2 import TINY_EN_MODEL_SHA256, convert, tiny_en_source

#: bump when the converter's output changes
CONVERTER_VERSION = 1


def cache_root() -> Path:
    """The cache directory (``$ASR_CONFORMANCE_CACHE`` or ``~/.cache/asr-conformance``)."""
    configured = os.environ.get("ASR_CONFORMANCE_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "asr-conformance"


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Return ``target``, first calling ``build(tmp_dir)`` and renaming it there if it does not exist.

    Safe across processes: one builds while the others wait on the lock, then all see the finished entry.
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not target.is_dir():  # another process may have finished meanwhile
                tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
                shutil.rmtree(tmp, ignore_errors=True)
                try:
                    build(tmp)
                    tmp.rename(target)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def ensure_tiny_en() -> Path:
    """The transformers checkpoint of Whisper tiny.en, converting it on first use."""
    target = cache_root() / "models" / f"tiny.en-{TINY_EN_MODEL_SHA256[:16]}-c{CONVERTER_VERSION}"
    return build_once(target, lambda tmp: convert(tiny_en_source(), tmp))


__all__ = ["CONVERTER_VERSION", "build_once", "cache_root", "ensure_tiny_en"]
