"""Unmodified real clients against a mock on a loopback port: huggingface_hub, the documented
``requests`` snippet (only the URL changed), curl; plus MockServer, the asr_mock fixture and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
from asr_conformance.mock_server import audio
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError
from mock_helpers import tone

FLAC = audio.encode(tone(3.0, 22050, 2), 22050, "flac")
TOKEN = "hf_test_token_123"


@pytest.fixture(scope="module")
def server():
    with MockServer(MockConfig(token=TOKEN)) as mock:
        yield mock


@pytest.fixture(autouse=True)
def clean(server):
    server.reset()


def test_huggingface_hub_raw_bytes(server) -> None:
    client = InferenceClient(model=server.model_url(), token=TOKEN)
    output = client.automatic_speech_recognition(FLAC)
    assert output.text and output.chunks is None
    entry = server.journal()[-1]
    assert entry["form"] == "raw" and entry["status"] == 200
    assert entry["headers"]["authorization"] == "Bearer ***"


def test_huggingface_hub_timestamps_via_extra_body(server) -> None:
    client = InferenceClient(model=server.model_url(router=True), token=TOKEN)
    output = client.automatic_speech_recognition(FLAC, extra_body={"return_timestamps": True})
    assert output.chunks
    assert "".join(c.text for c in output.chunks) == output.text
    for chunk in output.chunks:
        start, end = chunk.timestamp
        assert 0 <= start <= end <= 3.0
    entry = server.journal()[-1]
    assert entry["form"] == "json" and entry["parameters"] == {"return_timestamps": True}


def test_huggingface_hub_base_url(server) -> None:
    client = InferenceClient(base_url=server.model_url(), token=TOKEN)
    assert client.automatic_speech_recognition(FLAC).text


def test_huggingface_hub_sees_the_real_errors(server) -> None:
    with pytest.raises(HfHubHTTPError) as wrong_token:
        InferenceClient(model=server.model_url(), token="hf_wrong").automatic_speech_recognition(FLAC)
    assert wrong_token.value.response.status_code == 401
    assert "Invalid username or password." in str(wrong_token.value)
    with pytest.raises(HfHubHTTPError) as malformed:
        InferenceClient(model=server.model_url(), token=TOKEN).automatic_speech_recognition(b"not audio")
    assert malformed.value.response.status_code == 400
    assert "Malformed soundfile" in str(malformed.value)


def test_documented_requests_snippet(server, tmp_path) -> None:
    """The page's Python example, verbatim except API_URL (and a real token)."""
    (tmp_path / "sample1.flac").write_bytes(FLAC)
    API_URL = server.model_url()
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def query(filename):
        with open(filename, "rb") as f:
            data = f.read()
        response = requests.post(API_URL, headers=headers, data=data)
        return response.json()

    output = query(tmp_path / "sample1.flac")
    assert set(output) == {"text"} and output["text"]
    entry = server.journal()[-1]
    assert entry["content_type"] is None  # the snippet sends no Content-Type, and that must work


@pytest.mark.skipif(
    shutil.which("curl") is None and not os.environ.get("ASR_CONFORMANCE_REQUIRE_TOOLS"), reason="no curl"
)
def test_curl(server, tmp_path) -> None:
    sample = tmp_path / "sample1.flac"
    sample.write_bytes(FLAC)
    out = subprocess.run(
        [
            "curl", "-sS", "-X", "POST", server.model_url(),
            "-H", f"Authorization: Bearer {TOKEN}", "-H", "Content-Type: audio/flac",
            "--data-binary", f"@{sample}", "-D", str(tmp_path / "headers"),
        ],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout)["text"]
    headers = (tmp_path / "headers").read_text().lower()
    assert "x-compute-type: cpu" in headers and "x-request-id:" in headers


def test_mock_server_lifecycle_and_controls() -> None:
    with MockServer(MockConfig(model_id="org/m")) as mock:
        assert mock.model_url().endswith("/models/org/m")
        assert requests.get(f"{mock.url}/healthz", timeout=5).json()["ready"] is True
        mock.set_scenario({"sequence": ["status=429"]})
        assert requests.post(mock.model_url(), data=FLAC, timeout=5).status_code == 429
        assert requests.post(mock.model_url(), data=FLAC, timeout=5).status_code == 200
        assert [e["status"] for e in mock.journal()] == [429, 200]
        mock.reset()
        assert mock.journal() == []
        url = mock.url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)


def test_graceful_stop_lets_requests_finish() -> None:
    mock = MockServer().start()
    result: dict = {}

    def call() -> None:
        result["status"] = requests.post(
            mock.model_url(), data=FLAC, headers={"x-mock-fault": "delay=0.6"}, timeout=10
        ).status_code

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.2)
    mock.stop()
    worker.join()
    assert result["status"] == 200


def test_asr_mock_fixture(asr_mock) -> None:
    resp = requests.post(asr_mock.model_url(), data=FLAC, timeout=5)
    assert resp.status_code == 200
    assert asr_mock.journal()[-1]["status"] == 200


def test_asr_mock_fixture_is_reset_between_tests(asr_mock) -> None:
    assert asr_mock.journal() == []


@pytest.mark.asr_mock(token="fixture-token", loading_seconds=30)
def test_asr_mock_marker_settings(asr_mock) -> None:
    assert requests.post(asr_mock.model_url(), data=FLAC, timeout=5).status_code == 401
    auth = {"Authorization": "Bearer fixture-token"}
    resp = requests.post(asr_mock.model_url(), data=FLAC, headers=auth, timeout=5)
    assert resp.status_code == 503 and "estimated_time" in resp.json()


def test_cli_serves_and_stops_on_sigterm(tmp_path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"sequence": ["status=503"]}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "asr_conformance", "mock", "--port", "0", "--token", "cli-secret",
         "--model-id", "org/cli", "--scenario", str(scenario)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stderr.readline()
        assert "cli-secret" not in line
        url = line.split("serving ", 1)[1].split()[0]
        assert url.endswith("/models/org/cli")
        auth = {"Authorization": "Bearer cli-secret"}
        assert requests.post(url, data=FLAC, headers=auth, timeout=5).status_code == 503
        assert requests.post(url, data=FLAC, headers=auth, timeout=5).json()["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
