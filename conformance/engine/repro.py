"""How to reproduce a case by hand: a curl command per request, the seed, and the replay id.

The body goes to a file (``--data-binary @case-ID.ext``) instead of the command line; authorization
is spelled as an environment variable (``$HF_TOKEN``) or ``***``, never as the token.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.generation.render import body_filename
from asr_conformance.conformance.model import Repro, Request

SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


def _mask(name: str, value: str, token_env: str | None) -> str:
    if name.lower() == "authorization" and value == "":
        return ""
    if name.lower() in SECRET_HEADERS:
        return f"Bearer ${token_env}" if token_env else "***"
    return value


def curl_command(
    url: str,
    request: Request,
    body_file: str,
    *,
    token_env: str | None = None,
    has_token: bool = False,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> str:
    """One curl command line for ``request``; secrets masked, body read from ``body_file``."""
    parts = ["curl", "-sS", "-X", request.method, shlex.quote(url + request.path)]
    names = {k.lower() for k, _ in request.headers}
    headers = list(request.headers)
    headers += [(k, v) for k, v in extra_headers if k.lower() not in names]
    if has_token and "authorization" not in names:
        headers.append(("Authorization", "set-by-transport"))
    for name, value in headers:
        shown = _mask(name, value, token_env)
        if name.lower() == "authorization" and value == "":
            continue  # deliberately sent without authorization
        # Double quotes for masked auth so that $VAR expands; everything else single-quoted.
        header = f"{name}: {shown}"
        parts += ["-H", f'"{header}"' if "$" in shown else shlex.quote(header)]
    if request.body:
        parts += ["--data-binary", shlex.quote(f"@{body_file}")]
    return " ".join(parts)


def make_repro(
    case: CaseSpec,
    requests: list[Request],
    *,
    url: str,
    seed: int | None,
    replay_id: str,
    token_env: str | None = None,
    has_token: bool = False,
    extra_headers: tuple[tuple[str, str], ...] = (),
    body_dir: Path | None = None,
) -> Repro:
    """The :class:`Repro` of a case: a curl line per request (one body file per distinct body), the
    body files under ``body_dir`` (absolute) when given."""
    names = _body_names(case, requests)
    if body_dir is not None:
        names = {body: str(body_dir / name) for body, name in names.items()}
    lines = [
        curl_command(
            url,
            req,
            names.get(req.body, ""),
            token_env=token_env,
            has_token=has_token,
            extra_headers=extra_headers,
        )
        for req in requests
    ]
    return Repro(curl="\n".join(lines), seed=seed, replay_id=replay_id, body_file=body_filename(case))


def _body_names(case: CaseSpec, requests: list[Request]) -> dict[bytes, str]:
    """File name per distinct non-empty body: ``case-ID.ext``, then ``case-ID-2.ext``, ..."""
    base = body_filename(case)
    stem, _, ext = base.rpartition(".")
    names: dict[bytes, str] = {}
    for req in requests:
        if req.body and req.body not in names:
            names[req.body] = base if not names else f"{stem}-{len(names) + 1}.{ext}"
    return names


def write_bodies(case: CaseSpec, requests: list[Request], directory: Path) -> list[Path]:
    """Write the body files a repro refers to (same naming as :func:`make_repro`)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for body, name in _body_names(case, requests).items():
        path = directory / name
        path.write_bytes(body)
        written.append(path)
    return written


__all__ = ["curl_command", "make_repro", "write_bodies"]
