"""Hostile input to the validating proxy, bounded: whatever a client sends, the proxy answers a JSON 4xx or
relays the upstream's answer (a 502 only for an upstream it cannot reach), never a 5xx of its own making,
a relay to another host, unbounded memory, a held slot or a secret in its log. bench/soak.py
(``--server proxy``) sends the same classes by the ten thousand."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from asr_conformance.conformance.record.proxy import VIOLATIONS_HEADER, ProxyConfig, create_app

PATH = "/models/openai/whisper-large-v3"
TOKEN = "plainProxyToken-4f2a9c"  # not hf_-shaped: only knowing the request's credential masks it
HF_TOKEN = "hf_proxyHostileTokenABCDEFGHIJ"
FAITHFUL = {"x-compute-time": "0.1", "x-compute-type": "cpu", "x-compute-audio-length": "1.0"}


def upstream_app(hits: list[str]) -> web.Application:
    """Echoes what it got as an ASR answer; /deep answers JSON nested 100,000 deep; /echo-error quotes
    the request's path and Authorization back in a plain-text 400, as careless servers do."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        hits.append(request.path_qs)
        return web.json_response({"text": f"{len(body)} bytes", "path": request.path_qs}, headers=FAITHFUL)

    async def deep(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"[" * 100_000, content_type="application/json", headers=FAITHFUL)

    async def echo_error(request: web.Request) -> web.Response:
        await request.read()
        text = f"bad request to {request.path_qs} with {request.headers.get('Authorization')}"
        return web.Response(status=400, text=text, content_type="text/plain")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/deep", deep)
    app.router.add_route("*", "/echo-error/{tail:.*}", echo_error)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
async def setup(aiohttp_server: Any, tmp_path: Path) -> tuple[TestServer, Path, list[str], list[str]]:
    """The proxy (1 MiB bodies, 0.5 s to send one) in front of an echoing upstream, and a decoy server
    whose hits mean the proxy relayed elsewhere."""
    hits: list[str] = []
    decoy_hits: list[str] = []
    upstream = await aiohttp_server(upstream_app(hits))
    decoy = await aiohttp_server(upstream_app(decoy_hits))
    log = tmp_path / "proxy.jsonl"
    config = ProxyConfig(
        upstream=str(upstream.make_url("")), log_path=log, max_body_bytes=1 << 20, read_timeout_s=0.5
    )
    proxy = await aiohttp_server(create_app(config))
    proxy.decoy = decoy  # type: ignore[attr-defined]
    return proxy, log, hits, decoy_hits


async def send(server: TestServer, payload: bytes, *, stall: float = 10.0) -> bytes:
    """``payload`` as raw bytes on a fresh connection; what came back before the server closed it or
    ``stall`` seconds passed (an upload that never finishes waits that long)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    chunks: list[bytes] = []
    try:
        writer.write(payload)
        await writer.drain()
        async with asyncio.timeout(stall):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()
    return b"".join(chunks)


def http(path: str, body: bytes = b"", headers: dict[str, str | bytes] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: proxy", f"Content-Length: {len(body)}".encode()]
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def parsed(answer: bytes) -> tuple[int, dict[str, str], Any]:
    """Status, headers (lower-cased names) and JSON body of a raw answer; fails on a non-JSON body."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split(" ", 2)[1]), headers, json.loads(body)


def assert_relayed_or_refused(answer: bytes) -> int:
    """The upstream's 200 relayed (with the violations header) or the proxy's JSON 4xx."""
    status, headers, body = parsed(answer)
    if status == 200:
        assert VIOLATIONS_HEADER in headers and "text" in body, answer[:300]
    else:
        assert 400 <= status < 500 and "error" in body, answer[:300]
        assert headers["content-type"].startswith("application/json")
    return status


def payload(parameters: dict[str, Any]) -> bytes:
    return json.dumps({"inputs": "", "parameters": parameters}).encode()


def records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------------------- HTTP parser abuse


@pytest.mark.parametrize(
    "payload",
    [
        b"GARBAGE\r\n\r\n",
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".encode(),
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n".encode(),
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 70_000}\r\n\r\n".encode(),
        f"POST /{'a' * 70_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".encode(),
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n".encode(),
    ],
    ids=["garbage", "negative-length", "bad-chunk", "huge-header", "huge-path", "two-lengths", "nul"],
)
async def test_parser_abuse_gets_a_json_4xx(setup, payload: bytes) -> None:
    proxy, _, hits, _ = setup
    status, _, body = parsed(await send(proxy, payload))
    assert 400 <= status < 500 and "error" in body
    assert hits == []  # nothing the proxy could not parse reaches the upstream


# ---------------------------------------------------------------------------------- header bytes


@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": b"caf\xe9 \xff\xfe"},
        {"X-Amzn-Trace-Id": b"Root=\xff\x80", "Content-Type": b"audio/\xffwav"},
        {"Authorization": b"Bearer \xe9\xe9"},
    ],
    ids=["latin-1-user-agent", "bytes-in-x-and-content-type", "latin-1-token"],
)
async def test_undecodable_header_bytes_are_relayed_and_logged(setup, headers) -> None:
    proxy, log, hits, _ = setup
    assert assert_relayed_or_refused(await send(proxy, http(PATH, b"RIFF", headers))) == 200
    assert hits == [PATH]
    assert [r["status"] for r in records(log)] == [200]


# ------------------------------------------------------------------------------ JSON depth, size


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"inputs": "", "parameters": {"x": ' + b"[" * 100_000,
        b'{"inputs": "", "parameters": {"x": ' + b"[" * 1020 + b"]" * 1020 + b"}}",
        b'{"inputs": "", "parameters": {"x": ' + b'{"a":' * 990 + b"1" + b"}" * 990 + b"}}",
        b'{"inputs": "", "parameters": {"temperature": 1' + b"0" * 5000 + b"}}",
        b'{"inputs": "", "parameters": {"x": "\\ud800", "\\udfff": "\\udc80"}}',
    ],
    ids=["brackets", "object-then-brackets", "arrays-1020", "objects-990", "5000-digits", "surrogates"],
)
async def test_deep_huge_or_unencodable_json_is_relayed_with_a_log_record(setup, body: bytes) -> None:
    proxy, log, hits, _ = setup
    answer = await send(proxy, http(PATH, body, {"Content-Type": "application/json"}))
    assert assert_relayed_or_refused(answer) == 200
    assert len(hits) == 1 and len(records(log)) == 1


async def test_a_deep_json_answer_from_upstream_is_relayed(setup) -> None:
    proxy, log, _, _ = setup
    status, headers, _ = parsed_head(await send(proxy, http("/deep", b"RIFF")))
    assert status == 200 and headers[VIOLATIONS_HEADER].startswith("1;")
    assert records(log)[0]["status"] == 200


def parsed_head(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return int(status_line.split(" ", 2)[1]), headers, body


async def test_parsed_bodies_are_not_kept_after_the_exchange(setup) -> None:
    proxy, _, _, _ = setup
    await send(proxy, http(PATH, b'{"inputs": ""}', {"Content-Type": "application/json"}))  # warm up
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(8):  # distinct ~900 kB JSON bodies: a body-keyed cache would keep each one
            body = json.dumps({"inputs": "", "parameters": {f"k{i}": "v" * 900_000}}).encode()
            answer = await send(proxy, http(PATH, body, {"Content-Type": "application/json"}))
            assert assert_relayed_or_refused(answer) == 200
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 2_000_000, f"{kept} bytes kept after 8 bodies of 900 kB"


# ------------------------------------------------------------------------------ huge and slow bodies


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_a_json_413(setup, chunked: bool) -> None:
    proxy, _, hits, _ = setup
    body = b"\0" * (2 << 20)
    if chunked:
        head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        payload = head.encode() + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    else:
        payload = http(PATH, body)
    status, _, answer = parsed(await send(proxy, payload))
    assert status == 413 and "error" in answer
    assert hits == []


async def test_stalled_uploads_time_out_and_hold_nothing(setup) -> None:
    proxy, log, hits, _ = setup
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabcd".encode()
    started = time.perf_counter()
    stalled = [asyncio.create_task(send(proxy, head, stall=8)) for _ in range(64)]
    await asyncio.sleep(0.1)
    good = await send(proxy, http(PATH, b"RIFF"))  # answered while 64 uploads hang
    assert assert_relayed_or_refused(good) == 200 and time.perf_counter() - started < 0.5
    answers = await asyncio.gather(*stalled)
    # each got its 408 after read_timeout_s (0.5 s), and its connection closed after the lingering read
    assert time.perf_counter() - started < 5
    for answer in answers:
        status, _, body = parsed(answer)
        assert status == 408 and "error" in body
    assert hits == [PATH]  # no partial body was relayed
    assert len(records(log)) == 1


# ----------------------------------------------------------------------------- relaying elsewhere


async def test_the_proxy_relays_only_to_its_upstream(setup) -> None:
    proxy, _, hits, decoy_hits = setup
    decoy = f"{proxy.decoy.host}:{proxy.decoy.port}"
    payloads = [
        f"POST http://{decoy}/x HTTP/1.1\r\nHost: {decoy}\r\nContent-Length: 0\r\n\r\n",  # absolute form
        f"POST @{decoy}/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",  # upstream + target = userinfo
        f"POST //{decoy}/x HTTP/1.1\r\nHost: {decoy}\r\nContent-Length: 0\r\n\r\n",
        f"POST /x HTTP/1.1\r\nHost: {decoy}\r\nX-Forwarded-Host: {decoy}\r\nContent-Length: 0\r\n\r\n",
        f"CONNECT {decoy} HTTP/1.1\r\nHost: {decoy}\r\n\r\n",
        f"GET \\\\{decoy}/x HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET http://{decoy}@127.0.0.1/x HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for payload in payloads:
        answer = await send(proxy, payload.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n").encode())
        status = assert_relayed_or_refused(answer)
        assert status != 200 or parsed(answer)[2]["path"].startswith("/"), answer[:300]
    assert decoy_hits == []
    assert all(hit.startswith("/") for hit in hits)


# --------------------------------------------------------------------------------------- secrets


async def test_secrets_never_reach_the_log(setup, caplog: pytest.LogCaptureFixture) -> None:
    proxy, log, _, _ = setup
    caplog.set_level(logging.DEBUG)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    json_type = {"Content-Type": "application/json", **auth}
    requests = [
        http(f"{PATH}/{TOKEN}?api_key=qwerty123&access_token=zxcv9876", b"RIFF", auth),
        http(f"/echo-error/{TOKEN}?sig=s1gnature", b"RIFF", auth),  # echoed in the upstream's error text
        http(
            PATH, json.dumps({"inputs": "", "parameters": {"return_timestamps": TOKEN}}).encode(), json_type
        ),
        http(PATH, json.dumps({"inputs": "", "parameters": {"token": "pl4in-secret"}}).encode(), json_type),
        http(PATH, json.dumps({"inputs": "", "parameters": {"x": f"key {HF_TOKEN}"}}).encode(), json_type),
        http(PATH, b"RIFF", {"X-Api-Key": "k3y-value", "Cookie": "s=c00kie", "User-Agent": HF_TOKEN}),
        # a request line aiohttp cannot parse has no headers to learn a credential from: shapes only
        f"GARBAGE /x?api_key=qwerty123 {HF_TOKEN}\r\n\r\n".encode(),
        f"POST {PATH}?api_key=qwerty123 HTTP/1.1\r\nHost: x\r\nX-Leak: {HF_TOKEN}\x00\r\n\r\n".encode(),
    ]
    for payload in requests:
        await send(proxy, payload)
    logged = log.read_text(encoding="utf-8")
    assert len(records(log)) == 6
    # the upstream's access log is not the proxy's (and `asr-conformance proxy` runs without one)
    proxy_logs = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    for secret in (TOKEN, HF_TOKEN, "qwerty123", "zxcv9876", "s1gnature", "pl4in-secret", "k3y-value"):
        assert secret not in logged, (secret, logged)
        assert secret not in proxy_logs, secret


async def test_an_unreachable_upstream_is_a_502_without_secrets(aiohttp_server, tmp_path: Path) -> None:
    log = tmp_path / "proxy.jsonl"
    config = ProxyConfig(upstream=f"http://user:pa55word@127.0.0.1:{_free_port()}", log_path=log)
    proxy = await aiohttp_server(create_app(config))
    answer = await send(
        proxy, http(f"{PATH}?api_key=qwerty123", b"RIFF", {"Authorization": f"Bearer {TOKEN}"})
    )
    status, _, body = parsed(answer)
    assert status == 502 and "unreachable" in body["error"]
    for secret in ("pa55word", "qwerty123", TOKEN):
        assert secret not in answer.decode("latin-1") and secret not in log.read_text()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
