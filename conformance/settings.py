"""Project defaults for ``asr-conformance run``, read from the nearest configuration file.

Looked for from ``start`` (the working directory by default) upwards; the first directory that has one wins:

1. ``asr-conformance.toml`` (top-level keys), else
2. ``pyproject.toml`` with a ``[tool.asr-conformance]`` table (a pyproject.toml without it is passed over).

Keys are the ``run`` options' long names; ``report-dir`` and ``report_dir`` both work. Relative paths in
the path-valued keys (:data:`PATH_KEYS`) are resolved against the file's directory, so a setting means the
same thing from any working directory. Command-line flags override these defaults (the CLI merges them).
A token never belongs in a file that is committed: ``token`` is refused, use ``token-env`` instead.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

CONFIG_FILE = "asr-conformance.toml"
PYPROJECT_TABLE = "asr-conformance"
PATH_KEYS = frozenset({"report_dir", "expectations", "record"})
_FORBIDDEN = {
    "token": "a token must not sit in a committed file; set token_env to the name of an environment variable",
}


class SettingsError(ValueError):
    """The configuration file exists but cannot be used; the message names the file and the key."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from exc


def find_config(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The nearest configuration file and its raw settings table, or ``None``."""
    here = Path(start or Path.cwd()).resolve()
    if here.is_file():
        here = here.parent
    for directory in (here, *here.parents):
        dedicated = directory / CONFIG_FILE
        if dedicated.is_file():
            return dedicated, _read_toml(dedicated)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            table = _read_toml(pyproject).get("tool", {}).get(PYPROJECT_TABLE)
            if table is not None:
                if not isinstance(table, dict):
                    raise SettingsError(f"{pyproject}: [tool.{PYPROJECT_TABLE}] must be a table")
                return pyproject, table
    return None


def _check_value(source: Path, key: str, value: Any) -> None:
    scalar = (str, int, float, bool)
    ok = isinstance(value, scalar) or (isinstance(value, list) and all(isinstance(v, scalar) for v in value))
    if not ok:
        raise SettingsError(f"{source}: {key} must be a string, number, boolean or a list of them")


def load_defaults(start: Path | None = None) -> dict[str, Any]:
    """Settings from the nearest configuration file, keys in snake_case; ``{}`` when there is none."""
    found = find_config(start)
    if found is None:
        return {}
    source, table = found
    out: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key in _FORBIDDEN:
            raise SettingsError(f"{source}: {raw_key}: {_FORBIDDEN[key]}")
        _check_value(source, raw_key, value)
        if key in PATH_KEYS and isinstance(value, str):
            value = str((source.parent / value).resolve())
        out[key] = value
    return out


__all__ = ["CONFIG_FILE", "PATH_KEYS", "SettingsError", "find_config", "load_defaults"]
