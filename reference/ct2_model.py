"""Reader for CTranslate2's ``model.bin`` (binary format version 6), written from its spec serializer.

Layout (little-endian): ``u32 version``, ``str spec_name``, ``u32 revision``, ``u32 n_vars``; per variable
``str name``, ``u8 ndim``, ``u32 dims[ndim]``, ``u8 dtype``, ``u32 nbytes``, raw bytes; then ``u32 n_aliases``
and (``str alias``, ``str target``) pairs. A ``str`` is ``u16 length`` (including a trailing NUL) and UTF-8.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: CTranslate2 dtype codes -> numpy dtypes (bf16 is read as raw uint16 and widened below)
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: np.dtype("<u2"),
}
_BF16 = 5


class CT2FormatError(ValueError):
    """The file is not a CTranslate2 model this reader understands."""


@dataclass(frozen=True)
class CT2Model:
    """The variables of a CTranslate2 model, with aliases resolved."""

    spec_name: str
    revision: int
    variables: dict[str, np.ndarray]

    def get(self, name: str) -> np.ndarray:
        try:
            return self.variables[name]
        except KeyError:
            raise CT2FormatError(f"model.bin has no variable {name!r}") from None


def _u(fh: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise CT2FormatError("model.bin is truncated")
    return struct.unpack(fmt, data)[0]


def _str(fh: BinaryIO) -> str:
    length = _u(fh, "<H")
    raw = fh.read(length)
    if len(raw) != length:
        raise CT2FormatError("model.bin is truncated")
    return raw.rstrip(b"\0").decode("utf-8")


def _bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << 16).view(np.float32)


def read_ct2_model(path: Path) -> CT2Model:
    """Read every variable of ``path`` (a ``model.bin``) into numpy arrays."""
    with path.open("rb") as fh:
        version = _u(fh, "<I")
        if version != 6:
            raise CT2FormatError(f"unsupported model.bin version {version} (this reader knows 6)")
        spec_name = _str(fh)
        revision = _u(fh, "<I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(_u(fh, "<I")):
            name = _str(fh)
            ndim = _u(fh, "<B")
            dims = tuple(_u(fh, "<I") for _ in range(ndim))
            code = _u(fh, "<B")
            nbytes = _u(fh, "<I")
            if code not in _DTYPES:
                raise CT2FormatError(f"unknown dtype code {code} for {name}")
            raw = fh.read(nbytes)
            if len(raw) != nbytes:
                raise CT2FormatError("model.bin is truncated")
            array = np.frombuffer(raw, dtype=_DTYPES[code]).reshape(dims)
            variables[name] = _bf16_to_f32(array) if code == _BF16 else array
        for _ in range(_u(fh, "<I")):
            alias, target = _str(fh), _str(fh)
            variables[alias] = variables[target]
    return CT2Model(spec_name=spec_name, revision=revision, variables=variables)


__all__ = ["CT2FormatError", "CT2Model", "read_ct2_model"]
