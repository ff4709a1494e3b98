"""Fixtures for the mock server tests: a test client on a fresh mock app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.front import create_app
from asr_conformance.mock_server.mock_engine import MockEngine

ClientFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def make_client(aiohttp_client: Callable[[web.Application], Awaitable[TestClient]]) -> ClientFactory:
    """``await make_client(token="t", violate=("slow",))``: a test client on a fresh mock app."""

    async def make(**settings: Any) -> TestClient:
        config = MockConfig(**settings)
        return await aiohttp_client(create_app(MockEngine(config), config))

    return make


@pytest.fixture
async def client(make_client: ClientFactory) -> TestClient:
    return await make_client()
