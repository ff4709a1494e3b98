"""The in-process mock as a target: the mock server started on a free loopback port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from asr_conformance.conformance.target import Target, TargetInfo
from asr_conformance.conformance.targets.http import HttpTarget

if TYPE_CHECKING:
    from asr_conformance.mock_server.config import MockConfig


#: the model path used for the in-process mock: the router form, today's documented URL
MOCK_MODEL_PATH = "/hf-inference/models/openai/whisper-large-v3"


async def open_mock(
    *,
    token: str | None,
    headers: Sequence[tuple[str, str]],
    mock_config: MockConfig | None,
    limit: int | None,
) -> Target:
    from asr_conformance.mock_server.config import MockConfig
    from asr_conformance.mock_server.server import start_server

    config = mock_config or MockConfig()
    runner, base_url = await start_server(config)
    model_url = base_url.rstrip("/") + MOCK_MODEL_PATH
    run_token = token or getattr(config, "token", None)
    info = TargetInfo(
        name="mock:in-process",
        model_url=model_url,
        exposes_mock_controls=True,
        has_token=bool(run_token),
        max_body_bytes=limit or getattr(config, "max_body_bytes", None),
        is_mock=True,
    )
    return HttpTarget(model_url, info=info, token=run_token, headers=headers, on_close=runner.cleanup)
