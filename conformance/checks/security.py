"""Security: ``inputs`` is base64 audio, never a file name or a URL the server dereferences.

HF's own serving code transcribes ``{"inputs": "/path/on/server.wav"}`` from its disk and fetches URL
inputs: a file-read and request-forgery hole. The planner sends a path it wrote (targets on this host)
and the URL of the suite's canary (``conformance.targets.canary``).
"""

from __future__ import annotations

from collections.abc import Iterator

from asr_conformance.conformance.checks.base import CheckContext, Skip, check
from asr_conformance.conformance.checks.reading import short, successes, where


def _transcripts(ctx: CheckContext) -> Iterator[tuple[int, str]]:
    for i, _, body in successes(ctx):
        text = body.get("text")
        if isinstance(text, str) and text.strip():
            yield i, text


@check(
    id="inputs_not_dereferenced",
    title="Input read as a file path or fetched as a URL (security defect)",
    evidence="documented",
    spec_ref="payload:inputs",
    applies=lambda ctx: ctx.case.meta.get("dereference") in ("path", "url"),
    fired_by=("inputs-dereferenced",),
)
def inputs_not_dereferenced(ctx: CheckContext) -> list[str]:
    """A file path or URL in ``inputs`` is refused: never read from disk, never fetched (no transcript)."""
    kind = ctx.case.meta["dereference"]
    what = "file path" if kind == "path" else "URL"
    problems = [
        f"{where(ctx, i)}a {what} in inputs was transcribed: {short(text)}" for i, text in _transcripts(ctx)
    ]
    if kind != "url":
        return problems
    token = ctx.case.meta.get("canary_token")
    hits = ctx.target.canary_hits(str(token)) if ctx.target.canary_hits and token else None
    if hits:
        problems.append(
            f"the target fetched the canary URL sent as inputs ({hits} request(s)): request forgery"
        )
    if problems:
        return problems
    if hits is None:
        raise Skip("no canary to ask whether the URL was fetched")
    if not ctx.target.on_this_host:
        raise Skip("no hit on the canary, but a remote target may not reach it")
    return []


CHECKS = (inputs_not_dereferenced,)
