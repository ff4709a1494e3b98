"""pytest plugin: the ``asr_mock`` fixture, a real mock server on a free loopback port.

::

    def test_my_client(asr_mock):
        text = my_client.transcribe(asr_mock.model_url(), "sample.flac")
        assert asr_mock.journal()[-1]["status"] == 200

    @pytest.mark.asr_mock(token="secret", loading_seconds=2)
    def test_my_client_waits(asr_mock): ...

Without the marker, one server per test session (per xdist worker) is shared and reset before each
test (journal, cache and scenario cleared). With ``@pytest.mark.asr_mock(**MockConfig fields)`` the test
gets its own server with those settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from asr_conformance.mock_server.server import MockServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "asr_mock(**settings): MockConfig fields for this test's own asr_mock server"
    )


@pytest.fixture(scope="session")
def asr_mock_session() -> Iterator[MockServer]:
    """The shared default mock server of this session (reset by ``asr_mock`` before each test)."""
    from asr_conformance.mock_server.server import MockServer

    with MockServer() as server:
        yield server


@pytest.fixture
def asr_mock(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """A running mock: ``.url``, ``.model_url()``, ``.journal()``, ``.set_scenario()``, ``.reset()``."""
    marker = request.node.get_closest_marker("asr_mock")
    if marker is not None and marker.kwargs:
        from asr_conformance.mock_server.config import MockConfig
        from asr_conformance.mock_server.server import MockServer

        with MockServer(MockConfig(**marker.kwargs)) as server:
            yield server
        return
    shared: MockServer = request.getfixturevalue("asr_mock_session")
    shared.reset()
    yield shared
