"""Third-party tools consume the generated artefacts: hypothesis (via Schemathesis), Schemathesis, Prism."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from asr_conformance.spec.generate import OPENAPI_PATH
from hypothesis import HealthCheck, given, settings

from asr_conformance import spec

PRISM = "@stoplight/prism-cli@5.16.0"


def _operation(path: str = "/hf-inference/models/{owner}/{name}"):
    import schemathesis

    return schemathesis.openapi.from_path(str(OPENAPI_PATH))[path]["POST"]


def _json_cases(*mode):
    # both request forms are drawn; keep the JSON one
    return _operation().as_strategy(*mode).filter(lambda case: case.media_type == "application/json")


def test_hypothesis_generates_valid_json_requests_and_headers():
    """Schemathesis' hypothesis strategies draw from the served schemas; every draw must validate."""
    seen = {"parameters": 0, "headers": 0}

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_json_cases())
    def check(case):
        assert spec.validator("request").is_valid(case.body), case.body
        seen["parameters"] += "parameters" in case.body
        headers = {k.lower(): v for k, v in (case.headers or {}).items()}
        assert spec.validator("headers").is_valid(headers), headers
        seen["headers"] += bool(headers)

    check()
    assert seen["parameters"] and seen["headers"]  # the draws do reach the nested objects


def test_hypothesis_negative_mode_draws_invalid_requests():
    from schemathesis import GenerationMode

    invalid = 0

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_json_cases(GenerationMode.NEGATIVE))
    def check(case):
        nonlocal invalid
        invalid += not spec.validator("request").is_valid(case.body)

    check()
    assert invalid > 0


def test_schemathesis_loads_the_openapi_document():
    import schemathesis

    schema = schemathesis.openapi.from_path(str(OPENAPI_PATH))
    ops = [result.ok() for result in schema.get_all_operations()]
    assert sorted((op.method.upper(), op.path) for op in ops) == [
        ("POST", "/hf-inference/models/{owner}/{name}"),
        ("POST", "/models/{owner}/{name}"),
    ]
    for op in ops:
        statuses = set(op.definition.raw["responses"])
        assert statuses == {"200", "400", "401", "403", "404", "410", "413", "429", "500", "503"}
        media = set(op.definition.raw["requestBody"]["content"])
        assert {"application/json", "audio/*", "application/octet-stream"} <= media


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_prism_mock_serves_the_openapi_document(tmp_path):
    if shutil.which("npx") is None:
        if os.environ.get("ASR_CONFORMANCE_REQUIRE_TOOLS"):
            pytest.fail("npx is required (ASR_CONFORMANCE_REQUIRE_TOOLS is set)")
        pytest.skip("node/npx not installed")
    # npm's cache is safe to share between processes; keep it out of the repository and reuse it across runs
    cache = Path(os.environ.get("ASR_CONFORMANCE_NPM_CACHE", Path.home() / ".cache" / "asr-conformance-npm"))
    env = {**os.environ, "npm_config_cache": str(cache), "npm_config_update_notifier": "false"}
    port = _free_port()
    log = (tmp_path / "prism.log").open("w")
    proc = subprocess.Popen(
        ["npx", "--yes", PRISM, "mock", "-h", "127.0.0.1", "-p", str(port), str(OPENAPI_PATH)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/hf-inference/models/openai/whisper-tiny"
        deadline = time.monotonic() + 240
        response = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = requests.post(url, json={"inputs": "ZkxhQw=="}, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(1)
        assert response is not None, (tmp_path / "prism.log").read_text()[-2000:]
        assert response.status_code == 200
        assert spec.validator("response").is_valid(response.json())
        raw = requests.post(
            f"http://127.0.0.1:{port}/models/openai/whisper-tiny",
            data=b"fLaC\x00\x00\x00\x22",
            headers={"Content-Type": "audio/flac"},
            timeout=5,
        )
        assert raw.status_code == 200
        bad = requests.post(url, json={"parameters": {}}, timeout=5)  # inputs missing
        # Prism answers a request that breaks the schema with the document's own 400 and its error body
        assert bad.status_code == 400
        assert spec.validator("error").is_valid(bad.json())
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
        log.close()
