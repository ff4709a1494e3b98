"""Open a target from its command-line spelling.

=====================  ================================================================================
spelling               target
=====================  ================================================================================
``None`` / ``mock``    the mock server started in this process, on a free loopback port
``http(s)://...``      a model URL (local server, Inference Endpoint, the HF router)
``cassette:PATH``      a recording (``asr_conformance.conformance.targets.replay.CassetteTarget``)
=====================  ================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from asr_conformance.conformance.target import Target, TargetInfo
from asr_conformance.conformance.targets.http import HttpTarget, public_url
from asr_conformance.conformance.targets.mock import open_mock

if TYPE_CHECKING:
    from asr_conformance.mock_server.config import MockConfig


class TargetError(Exception):
    """The target spelling is wrong or the target cannot be opened (a usage error: exit 2)."""


async def open_target(
    spec: str | None,
    *,
    token: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    mock_config: MockConfig | None = None,
    max_body_bytes: int | None = None,
) -> Target:
    """Open the target named by ``spec`` (see the module docstring); close it with ``await t.close()``."""
    if spec is None or spec == "mock":
        return await open_mock(token=token, headers=headers, mock_config=mock_config, limit=max_body_bytes)
    if spec.startswith("cassette:"):
        from asr_conformance.conformance.targets.replay import CassetteTarget

        return CassetteTarget(spec.removeprefix("cassette:"))
    parts = urlsplit(spec)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"target must be 'mock', an http(s):// model URL or cassette:PATH, not {spec!r}")
    url = spec.rstrip("/")
    info = TargetInfo(
        name=public_url(url),
        model_url=url,
        exposes_mock_controls=await _has_mock_controls(url, token),
        has_token=bool(token),
        max_body_bytes=max_body_bytes,
    )
    return HttpTarget(url, info=info, token=token, headers=headers)


async def _has_mock_controls(model_url: str, token: str | None = None) -> bool:
    """True when the server has the mock's control API (``/__mock/requests``): fault headers are safe.

    A mock started with ``--token`` guards its controls with it, so the token goes along (the model URL's
    own server: the token is meant for it anyway)."""
    parts = urlsplit(model_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.head(
                origin + "/__mock/requests", headers=headers, timeout=aiohttp.ClientTimeout(total=5)
            ) as resp,
        ):
            return resp.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False
