"""The validating proxy: traffic unchanged, violations in a header and a JSON Lines log, --strict → 502."""

from __future__ import annotations

import base64
import gzip
import json
import re
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import numpy as np
import pytest
import requests
from aiohttp import web
from asr_conformance.conformance.record.proxy import TARGET_ERROR, VIOLATIONS_HEADER, ProxyConfig, create_app
from asr_conformance.mock_server.audio import encode
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer


def wav_tone(seconds: float = 1.0) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    return encode((0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000, "wav")


#: the headers every recorded hf-inference success carries (so the faithful answers here have no warnings)
FAITHFUL = {
    "x-compute-time": "0.537",
    "x-compute-type": "cpu",
    "x-request-id": "ZuVw2xb2XfHGi8xT7tM1R",
    "x-sha": "5a6e0c4b1f8d2e7a9c3b6d0f4e8a2c7b1d5f9e3a",
    "x-compute-audio-length": "1.0",
}


def upstream_app() -> web.Application:
    """A small ASR-shaped server: gzip success, a plain-text 200 (violation), echo of what it received."""

    async def gzipped(request: web.Request) -> web.Response:
        await request.read()
        body = gzip.compress(b'{"text":"hello"}')
        return web.Response(
            body=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip", **FAITHFUL},
        )

    async def mislabelled(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text='{"text":"hello"}', content_type="text/plain", headers=FAITHFUL)

    async def not_json(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="hello", content_type="text/plain", headers=FAITHFUL)

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen = {
            "len": len(body),
            "ct": request.headers.get("Content-Type"),
            "auth": request.headers.get("Authorization"),
            "path": request.path_qs,
        }
        return web.json_response({"text": "x", "seen": seen}, headers=FAITHFUL)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/gzip", gzipped)
    app.router.add_post("/mislabelled", mislabelled)
    app.router.add_post("/not-json", not_json)
    app.router.add_post("/echo/{tail:.*}", echo)
    return app


@pytest.fixture
async def upstream(aiohttp_server):
    return await aiohttp_server(upstream_app())


async def start_proxy(aiohttp_server, upstream_url: str, tmp_path, **kw):
    log = tmp_path / "proxy.jsonl"
    server = await aiohttp_server(create_app(ProxyConfig(upstream=upstream_url, log_path=log, **kw)))
    return server, log


async def test_bytes_and_headers_pass_unchanged(aiohttp_server, upstream, tmp_path):
    proxy, log = await start_proxy(aiohttp_server, str(upstream.make_url("")), tmp_path)
    audio = wav_tone()
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        async with s.post(proxy.make_url("/gzip"), data=audio, headers={"Content-Type": "audio/wav"}) as r:
            raw = await r.read()
            assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(raw) == b'{"text":"hello"}'  # compressed bytes as the upstream sent them
            assert r.headers["x-compute-type"] == "cpu"
            assert r.headers[VIOLATIONS_HEADER] == "0"
        headers = {"Content-Type": "audio/wav", "Authorization": "Bearer abc"}
        async with s.post(proxy.make_url("/echo/models/a/b?x=1"), data=audio, headers=headers) as r:
            seen = (await r.json())["seen"]
    assert seen == {
        "len": len(audio),
        "ct": "audio/wav",
        "auth": "Bearer abc",
        "path": "/echo/models/a/b?x=1",
    }
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["status"] for r in records] == [200, 200]
    assert "abc" not in log.read_text()


async def test_violation_reported_then_blocked_in_strict_mode(aiohttp_server, upstream, tmp_path):
    proxy, log = await start_proxy(aiohttp_server, str(upstream.make_url("")), tmp_path)
    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.make_url("/mislabelled"), data=wav_tone()) as r:
            assert r.status == 200 and await r.text() == '{"text":"hello"}'  # report-only: unchanged
            assert r.headers["Content-Type"].startswith("text/plain")
            assert r.headers[VIOLATIONS_HEADER] == "1; content_type_conformance"
        async with s.post(proxy.make_url("/not-json"), data=wav_tone()) as r:
            assert r.status == 200 and await r.text() == "hello"
            assert r.headers[VIOLATIONS_HEADER] == f"1; {TARGET_ERROR}"
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert [v["check_id"] for v in first["violations"]] == ["content_type_conformance"]
    assert "invalid JSON" in second["violations"][0]["message"]

    strict, _ = await start_proxy(aiohttp_server, str(upstream.make_url("")), tmp_path / "s", strict=True)
    async with aiohttp.ClientSession() as s, s.post(strict.make_url("/mislabelled"), data=wav_tone()) as r:
        assert r.status == 502
        body = await r.json()
    assert body["upstream_status"] == 200
    assert [v["check_id"] for v in body["violations"]] == ["content_type_conformance"]


async def test_invalid_json_request_is_reported_as_the_clients_violation(aiohttp_server, upstream, tmp_path):
    proxy, log = await start_proxy(aiohttp_server, str(upstream.make_url("")), tmp_path)
    payload = {"inputs": "AAAA", "parameters": {"return_timestamps": "yes"}}
    async with aiohttp.ClientSession() as s, s.post(proxy.make_url("/echo/m"), json=payload) as r:
        assert r.status == 200
        assert "request:schema" in r.headers[VIOLATIONS_HEADER]
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert any("return_timestamps" in v["message"] for v in record["request_violations"])


async def test_unreachable_upstream_is_a_clear_502(aiohttp_server, unused_tcp_port_factory, tmp_path):
    proxy, log = await start_proxy(aiohttp_server, f"http://127.0.0.1:{unused_tcp_port_factory()}", tmp_path)
    async with aiohttp.ClientSession() as s, s.post(proxy.make_url("/m"), data=b"x") as r:
        assert r.status == 502
        assert "unreachable" in (await r.json())["error"]
    assert json.loads(log.read_text())["proxy_error"]


# ------------------------------------------------------------------------- in front of the mock server


TIMESTAMP_CHECKS = {
    "timestamps_numeric",
    "timestamps_within_audio",
    "timestamps_ordered",
    "timestamp_end_present",
}


def start_proxy_cli(upstream: str, log, *extra: str) -> tuple[subprocess.Popen, str]:
    """`asr-conformance proxy` on a free port; returns the process and its URL (from its first line)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "asr_conformance", "proxy", "--upstream", upstream, "--port", "0",
         "--log", str(log), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"proxy did not start: {line!r} {proc.stderr.read()}")
    return proc, match.group(1)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out, err


def timestamps_request() -> dict:
    return {"inputs": base64.b64encode(wav_tone(2.0)).decode(), "parameters": {"return_timestamps": True}}


def test_cli_proxy_in_front_of_faithful_and_violating_mocks(tmp_path):
    with MockServer() as faithful, MockServer(MockConfig(violate=("plural-chunk-key",))) as broken:
        good, good_url = start_proxy_cli(faithful.url, tmp_path / "good.jsonl")
        bad, bad_url = start_proxy_cli(broken.url, tmp_path / "bad.jsonl")
        strict, strict_url = start_proxy_cli(broken.url, tmp_path / "strict.jsonl", "--strict")
        try:
            path = "/models/openai/whisper-large-v3"
            direct = requests.post(broken.model_url(), json=timestamps_request(), timeout=30)
            through = {
                name: requests.post(url + path, json=timestamps_request(), timeout=30)
                for name, url in (("good", good_url), ("bad", bad_url), ("strict", strict_url))
            }
            raw = requests.post(
                good_url + path, data=wav_tone(), headers={"Content-Type": "audio/wav"}, timeout=30
            )
        finally:
            outputs = [stop(p) for p in (good, bad, strict)]
    assert through["good"].status_code == 200 and through["good"].headers[VIOLATIONS_HEADER] == "0"
    assert raw.status_code == 200 and raw.headers[VIOLATIONS_HEADER] == "0"
    # report-only: the violating answer passes unchanged, with the violation named in the header
    assert through["bad"].status_code == 200 and through["bad"].content == direct.content
    assert "timestamps" in through["bad"].json()["chunks"][0]
    ids = through["bad"].headers[VIOLATIONS_HEADER].split("; ")[1].split(", ")
    assert ids[0] == "response_schema_conformance"
    assert set(ids) <= {"response_schema_conformance", *TIMESTAMP_CHECKS}  # chunks without `timestamp`
    # strict: 502 with the violations as JSON
    assert through["strict"].status_code == 502
    body = through["strict"].json()
    assert (
        body["upstream_status"] == 200 and body["violations"][0]["check_id"] == "response_schema_conformance"
    )
    assert "timestamp" in body["violations"][0]["message"]
    logged = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert [r["status"] for r in logged] == [200]
    assert logged[0]["violations"][0]["check_id"] == "response_schema_conformance"
    assert all("proxy stopped" in out for out, _ in outputs)


def test_cli_proxy_rejects_a_bad_upstream():
    done = subprocess.run(
        [sys.executable, "-m", "asr_conformance", "proxy", "--upstream", "ftp://x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--upstream must be an http(s):// URL" in done.stderr


def test_cli_proxy_read_timeout_answers_a_stalled_upload_408(tmp_path):
    with MockServer() as upstream:
        proc, url = start_proxy_cli(upstream.url, tmp_path / "log.jsonl", "--read-timeout", "0.5")
        try:
            host, port = url.removeprefix("http://").rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.sendall(
                    b"POST /models/openai/whisper-large-v3 HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: audio/wav\r\nContent-Length: 1000\r\n\r\nRIFF"
                )
                started = time.monotonic()
                answer = conn.recv(65536)
                waited = time.monotonic() - started
        finally:
            stop(proc)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert b'"error"' in answer
    assert waited < 5  # the default (60 s) would have kept it waiting
