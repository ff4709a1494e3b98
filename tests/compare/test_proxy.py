"""The validating proxy: traffic unchanged, violations in a header and a JSON Lines log, --strict → 502."""

from __future__ import annotations

import gzip
import json

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from conformance.proxy import TARGET_ERROR, VIOLATIONS_HEADER, ProxyConfig, create_app
from mock_server.audio import encode


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
