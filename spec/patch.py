"""The JSON Patch subset (RFC 6902: add, replace, remove, move, copy) that errata use on schemas."""

from __future__ import annotations

import copy
from typing import Any


def _tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    *head, last = _tokens(pointer)
    node = doc
    for t in head:
        node = node[int(t)] if isinstance(node, list) else node[t]
    return node, last


def get(doc: Any, pointer: str) -> Any:
    parent, last = _parent(doc, pointer)
    return parent[int(last)] if isinstance(parent, list) else parent[last]


def _remove(doc: Any, pointer: str) -> Any:
    parent, last = _parent(doc, pointer)
    return parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)


def _add(doc: Any, pointer: str, value: Any, *, must_exist: bool) -> None:
    parent, last = _parent(doc, pointer)
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
        return
    if must_exist and last not in parent:
        raise KeyError(f"replace: {pointer} does not exist")
    if not must_exist and last in parent:
        # RFC 6902 lets `add` overwrite; errata must say `replace` so that intent is explicit.
        raise KeyError(f"add: {pointer} already exists (use replace)")
    parent[last] = value


def apply(doc: Any, op: str, path: str, value: Any = None, from_: str | None = None) -> None:
    """Apply one operation to ``doc`` in place."""
    if op == "add":
        _add(doc, path, copy.deepcopy(value), must_exist=False)
    elif op == "replace":
        _add(doc, path, copy.deepcopy(value), must_exist=True)
    elif op == "remove":
        _remove(doc, path)
    elif op == "move":
        if from_ is None:
            raise ValueError("move needs from")
        _add(doc, path, _remove(doc, from_), must_exist=False)
    elif op == "copy":
        if from_ is None:
            raise ValueError("copy needs from")
        _add(doc, path, copy.deepcopy(get(doc, from_)), must_exist=False)
    else:
        raise ValueError(f"unsupported patch op {op!r}")
