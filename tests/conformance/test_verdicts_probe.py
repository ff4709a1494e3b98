"""§1 of issue 11 through the real CLI: the probe stops runs that would judge nothing."""

from __future__ import annotations

import logging

import pytest
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer
from click.testing import CliRunner
from verdicts_servers import fastapi_422, html_501, serve

from asr_conformance.cli import main


@pytest.fixture(autouse=True)
def _quiet_mock():
    logging.getLogger("mock_server").setLevel(logging.CRITICAL)


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env={"NO_COLOR": "1", **(env or {})}, catch_exceptions=False)


def test_a_refused_token_exits_2_and_says_so():
    with MockServer(MockConfig(token="sekrit")) as server:
        result = invoke(
            "run",
            "--target",
            server.model_url(),
            "--profile",
            "quick",
            "--token-env",
            "WRONG",
            env={"WRONG": "not-the-token"},
        )
    assert result.exit_code == 2, result.output
    assert "the target refused the token" in result.output


def test_a_plain_http_server_is_not_this_api():
    with serve(html_501) as url:
        result = invoke("run", "--target", url, "--profile", "quick")
    assert result.exit_code == 2, result.output
    assert "this does not look like the HF automatic-speech-recognition API: 501 text/html" in result.output


def test_a_fastapi_server_of_another_schema_is_not_this_api():
    with serve(fastapi_422) as url:
        result = invoke("run", "--target", url, "--profile", "quick")
    assert result.exit_code == 2, result.output
    assert (
        'this does not look like the HF automatic-speech-recognition API: 422 application/json {"detail"'
        in result.output
    )
    assert "fail" not in result.output.lower().split("error:")[0]  # no verdicts before the sentence
