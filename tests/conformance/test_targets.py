"""Opening targets: what the suite learns about a URL before the first case."""

from __future__ import annotations

from asr_conformance.conformance.targets.factory import open_target
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import start_server


async def test_a_token_guarded_mock_shows_its_controls_to_the_token_only() -> None:
    """The mock guards /__mock with its token: with it the suite may send fault headers, without it not."""
    runner, base = await start_server(MockConfig(token="sekrit-token"))
    url = base.rstrip("/") + "/models/openai/whisper-large-v3"
    try:
        seen = {}
        for token in ("sekrit-token", None):
            target = await open_target(url, token=token)
            seen[token] = target.info.exposes_mock_controls
            await target.close()
    finally:
        await runner.cleanup()
    assert seen == {"sekrit-token": True, None: False}
