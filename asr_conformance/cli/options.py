"""Option parsing shared by the commands that talk to targets (run, replay, compare)."""

from __future__ import annotations

import os

import click


def parse_headers(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``-H 'Name: value'`` options as (name, value) pairs; a usage error names the bad one."""
    out = []
    for raw in values:
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"{raw!r} is not 'Name: value'", param_hint="-H")
        out.append((name.strip(), value.strip()))
    return tuple(out)


def token_from_env(token_env: str | None) -> str | None:
    """The token in the environment variable ``--token-env`` names (tokens never go on a command line)."""
    if not token_env:
        return None
    token = os.environ.get(token_env)
    if not token:
        raise click.UsageError(f"--token-env {token_env}: that environment variable is empty or unset")
    return token


__all__ = ["parse_headers", "token_from_env"]
