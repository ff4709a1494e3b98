"""Project defaults for ``asr-conformance run``, read from the nearest configuration file.

Looked for from ``start`` (the working directory by default) upwards; the first directory that has one wins:

1. ``asr-conformance.toml`` (top-level keys), else
2. ``pyproject.toml`` with a ``[tool.asr-conformance]`` table (a pyproject.toml without it is passed over).

Keys are the ``run`` options' long names; ``report-dir`` and ``report_dir`` both work. Relative paths in
the path-valued keys (:data:`PATH_KEYS`) are resolved against the file's directory, so a setting means the
same thing from any working directory. Command-line flags override these defaults (the CLI merges them).
A token never belongs in a file that is committed: ``token`` is refused, use ``token-env`` instead.

Every key is validated like its flag (:data:`KEYS`): an unknown key, a wrong type or a value out of range is a
:class:`SettingsError` naming the file and the key, which the CLI turns into exit status 2.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE = "asr-conformance.toml"
PYPROJECT_TABLE = "asr-conformance"
PATH_KEYS = frozenset({"report_dir", "expectations", "record"})
_FORBIDDEN = {
    "token": "a token must not sit in a committed file; set token_env to the name of an environment variable",
}


@dataclass(frozen=True)
class Key:
    """What one setting accepts: its type, and the choices or the lowest value its flag accepts."""

    kind: type
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    help: str = ""


#: setting (snake_case) -> what it accepts; the same as the ``run`` flag of that name (``spec`` is ``--spec``)
KEYS: dict[str, Key] = {
    "target": Key(str, help="model URL, 'mock' or cassette:PATH"),
    "token_env": Key(str, help="environment variable holding the bearer token"),
    "headers": Key(list, help="extra headers, each 'Name: value'"),
    "profile": Key(str, ("quick", "default", "thorough")),
    "seed": Key(int),
    "max_examples": Key(int, minimum=0),
    "spec": Key(str, ("served", "documented"), help="spec view to judge by"),
    "report_dir": Key(Path),
    "fail_on": Key(str, ("error", "warning")),
    "workers": Key(int, minimum=1),
    "request_timeout": Key(float, minimum=0.1),
    "ready_timeout": Key(float, minimum=0.1, help="seconds to wait for a target that is loading its model"),
    "checks": Key(list, help="check ids (a list, or one comma-separated string)"),
    "exclude_checks": Key(list),
    "include_legacy": Key(bool),
    "model_must_match": Key(bool, help="an unknown model id must get 404 (a multi-model server)"),
    "max_requests": Key(int, minimum=1),
    "max_body_bytes": Key(int, minimum=1),
    "record": Key(Path),
    "record_mode": Key(str, ("all", "once", "new_episodes", "none")),
    "expectations": Key(Path),
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


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list of strings", Path: "a path (string)"}[kind]  # fmt: skip


def _check_value(source: Path, raw_key: str, key: Key, value: Any) -> Any:
    """``value`` as the flag would take it; a :class:`SettingsError` naming the key otherwise."""
    where = f"{source}: {raw_key}"
    if key.kind is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise SettingsError(f"{where} must be {_type_name(list)}, not {value!r}")
        return value
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, int | float) and not isinstance(value, bool),
    }.get(key.kind, isinstance(value, str))
    if not ok:
        raise SettingsError(f"{where} must be {_type_name(key.kind)}, not {value!r}")
    if key.choices and value not in key.choices:
        raise SettingsError(f"{where}: {value!r} is not one of {', '.join(key.choices)}")
    if key.minimum is not None and value < key.minimum:
        raise SettingsError(f"{where}: {value!r} is below the minimum {key.minimum:g}")
    if key.kind is str and not value:
        raise SettingsError(f"{where} must not be empty")
    return float(value) if key.kind is float else value


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
        if key not in KEYS:
            known = ", ".join(k.replace("_", "-") for k in KEYS)
            raise SettingsError(f"{source}: unknown key {raw_key!r} (known: {known})")
        value = _check_value(source, raw_key, KEYS[key], value)
        if key in PATH_KEYS and isinstance(value, str):
            value = str((source.parent / value).resolve())
        out[key] = value
    return out


def keep_hypothesis_storage_private() -> None:
    """Point hypothesis' storage (its constants and Unicode caches) at a folder of this process, removed at
    exit, so that a run writes no ``.hypothesis/`` into the working directory. A storage directory the user
    set with ``HYPOTHESIS_STORAGE_DIRECTORY`` is kept. The folder is created only if hypothesis writes."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    folder = Path(tempfile.gettempdir()) / f"asr-conformance-{os.getpid()}-{os.urandom(4).hex()}"
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(folder / "hypothesis")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


__all__ = [
    "CONFIG_FILE",
    "KEYS",
    "PATH_KEYS",
    "Key",
    "SettingsError",
    "find_config",
    "keep_hypothesis_storage_private",
    "load_defaults",
]
