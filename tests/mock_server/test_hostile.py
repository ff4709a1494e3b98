"""Hostile input, bounded: whatever a client sends, the mock answers a JSON 4xx (or its 200), never a 5xx,
a stall, unbounded memory, an open control or a leaked secret. Each class of issue 13 has a test here;
bench/soak.py sends the same classes by the ten thousand."""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Iterator

import pytest
import requests
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.front import front_state
from asr_conformance.mock_server.server import MockServer
from mock_helpers import PATH, b64, wav

TOKEN = "hf_hostileTOKENabcdefghijklmnop"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def raw_wav(
    *, tag: int = 1, channels: int = 1, rate: int = 16000, bits: int = 16, data: bytes = b""
) -> bytes:
    """A WAV whose header says whatever the test wants."""
    data = data or b"\x00\x01" * 800
    fmt = struct.pack("<HHIIHH", tag, channels, rate, 0, 0, bits)
    return (
        b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
        + b"fmt " + struct.pack("<I", 16) + fmt
        + b"data" + struct.pack("<I", len(data)) + data
    )  # fmt: skip


def send_raw(url: str, payload: bytes, *, read: bool = True, timeout: float = 5.0) -> bytes:
    """Send bytes as they are on a fresh connection; the raw answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(payload)
        if not read:
            return b""
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def http(path: str, body: bytes, headers: dict[str, bytes | str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: x", f"Content-Length: {len(body)}".encode()]
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def open_mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(read_timeout=1.0, max_concurrency=4)) as mock:
        yield mock


@pytest.fixture(scope="module")
def token_mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(token=TOKEN)) as mock:
        yield mock


def in_flight(mock: MockServer) -> int:
    return mock._call(lambda: mock._state().in_flight)


# --------------------------------------------------------------------------------- header bytes


@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": b"caf\xe9 \xff\xfe"},  # Latin-1, not UTF-8
        {"X-Amzn-Trace-Id": b"Root=\xff\x80"},  # echoed in x-request-id on the router form
        {"Content-Type": b"audio/\xffwav"},
        {"x-use-cache": b"\xff"},
        {"X-Control": b"a\x00b\x7f"},  # control characters: aiohttp's parser refuses the request
    ],
)
def test_undecodable_header_bytes_get_an_answer_and_a_journal_entry(open_mock: MockServer, headers) -> None:
    open_mock.clear_journal()
    answer = send_raw(open_mock.url, http("/hf-inference" + PATH, wav(0.3), headers))
    assert status_of(answer) in (200, 400), answer[:300]
    if status_of(answer) == 400 and b"X-Control" in http("/", b"", headers):
        return  # refused by the HTTP parser: no request reached the front, nothing to journal
    assert b"application/json" in answer.split(b"\r\n\r\n")[0].lower()
    assert len(open_mock.journal()) == 1


def test_lone_surrogate_in_a_parameter_value_and_key(open_mock: MockServer) -> None:
    open_mock.clear_journal()
    inputs = b64(wav(0.3))
    body = ('{"inputs": "' + inputs + '", "parameters": {"x": "\\ud800", "\\udfff": 1}}').encode()
    resp = requests.post(open_mock.model_url(), data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    (entry,) = open_mock.journal()
    assert entry["status"] == 200


# ---------------------------------------------------------------------------------- JSON depth


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"inputs": "", "parameters": {"x": ' + b"[" * 1020 + b"]" * 1020 + b"}}",
        b'{"inputs": "", "parameters": {"x": ' + b'{"a":' * 900 + b"1" + b"}" * 900 + b"}}",
        b'{"inputs": "", "parameters": {"x": 1' + b"0" * 5000 + b"}}",  # beyond int parsing limits
    ],
    ids=["brackets", "arrays-1020", "objects-900", "5000-digits"],
)
def test_deep_or_huge_json_is_a_400(open_mock: MockServer, body: bytes) -> None:
    resp = requests.post(open_mock.model_url(), data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text[:200]
    assert "error" in resp.json()


def test_deep_scenario_is_a_400(open_mock: MockServer) -> None:
    resp = requests.post(open_mock.url + "/__mock/scenario", data=b"[" * 50_000)
    assert resp.status_code == 400 and "error" in resp.json()


# ------------------------------------------------------------------------------ audio headers


@pytest.mark.parametrize(
    "fields",
    [
        {"rate": 2**31}, {"rate": 2**32 - 1}, {"rate": 1}, {"channels": 9}, {"channels": 1000},
        {"channels": 0}, {"bits": 0}, {"bits": 65}, {"tag": 0x55},
    ],
    ids=str,
)  # fmt: skip
def test_absurd_wav_headers_are_malformed_soundfile(open_mock: MockServer, fields) -> None:
    data = b"\x00" * 4000 if fields.get("channels") == 1000 else b""
    resp = requests.post(open_mock.model_url(), data=raw_wav(data=data, **fields))
    assert resp.status_code == 400, resp.text
    assert resp.json() == {"error": "Malformed soundfile"}


def test_wav_of_empty_chunks_is_refused_quickly(open_mock: MockServer) -> None:
    body = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + b"junk\x00\x00\x00\x00" * 400_000  # 3.2 MB
    started = time.perf_counter()
    resp = requests.post(open_mock.model_url(), data=body)
    assert resp.status_code == 400
    assert time.perf_counter() - started < 2.0


def test_long_low_rate_audio_is_refused_before_resampling(open_mock: MockServer) -> None:
    # 700 s at 1 kHz: 16x as many samples once resampled; the length is judged on the source frames
    resp = requests.post(open_mock.model_url(), data=raw_wav(rate=1000, data=b"\x00\x01" * 700_000))
    assert resp.status_code == 413
    assert resp.json()["error"].startswith("Audio too long")


# ---------------------------------------------------------------------------- HTTP parser abuse


@pytest.mark.parametrize(
    "payload",
    [
        b"GARBAGE\r\n\r\n",
        b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
        b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST "
        + PATH.encode()
        + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ],
    ids=["garbage", "negative-length", "bad-chunk", "huge-header", "huge-path", "two-lengths"],
)
def test_parser_abuse_gets_a_json_4xx(open_mock: MockServer, payload: bytes) -> None:
    answer = send_raw(open_mock.url, payload)
    assert answer == b"" or 400 <= status_of(answer) < 500, answer[:200]
    if answer:  # aiohttp's own answer, shaped like the API's
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"application/json" in head.lower() and "error" in json.loads(body)
    assert requests.post(open_mock.model_url(), data=wav(0.3)).status_code == 200


# ------------------------------------------------------------------------ slow and abandoned


def test_stalled_uploads_hold_no_slot_and_time_out(open_mock: MockServer) -> None:
    host, port = open_mock.url.removeprefix("http://").split(":")
    stalled = []
    for _ in range(6):  # more than max_concurrency=4
        sock = socket.create_connection((host, int(port)))
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabcd".encode())
        stalled.append(sock)
    try:
        assert requests.post(open_mock.model_url(), data=wav(0.3), timeout=5).status_code == 200
        stalled[0].settimeout(5)
        answer = stalled[0].recv(65536)
        assert status_of(answer) == 408 and b'"error"' in answer
    finally:
        for sock in stalled:
            sock.close()


def test_a_disconnected_clients_fault_delay_is_cancelled(open_mock: MockServer) -> None:
    for _ in range(3):
        send_raw(open_mock.url, http(PATH, wav(0.3), {"x-mock-fault": "delay=60"}), read=False)
    deadline = time.monotonic() + 5
    while in_flight(open_mock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert in_flight(open_mock) == 0


# -------------------------------------------------------------------------------- controls


def test_controls_and_fault_headers_need_the_token(token_mock: MockServer) -> None:
    url = token_mock.url
    for method, path in [("GET", "/__mock/requests"), ("DELETE", "/__mock/requests"),
                         ("POST", "/__mock/scenario"), ("POST", "/__mock/reset")]:  # fmt: skip
        resp = requests.request(method, url + path, data=b'{"sequence": ["status=500"]}')
        assert resp.status_code == 401, (method, path)
        assert resp.json() == {"error": "Invalid username or password."}
    for fault in ({"x-mock-fault": "status=500"}, {"Prefer": "code=500"}, {"x-mock-fault": "delay=30"}):
        started = time.perf_counter()
        resp = requests.post(token_mock.model_url(), data=wav(0.3), headers=fault, timeout=10)
        assert resp.status_code == 401 and time.perf_counter() - started < 5
    resp = requests.post(token_mock.model_url(), data=wav(0.3), headers={**AUTH, "Prefer": "code=429"})
    assert resp.status_code == 429
    assert requests.get(url + "/__mock/requests", headers=AUTH).status_code == 200


# --------------------------------------------------------------------------------- secrets


def test_secrets_never_reach_the_journal(token_mock: MockServer) -> None:
    token_mock.reset()
    other = "hf_someOtherToken1234567890"
    bodies = [
        {"inputs": b64(wav(0.3)), "parameters": {"token": "plain-secret-value", "x": f"Bearer {TOKEN}"}},
        {"inputs": b64(wav(0.3)), "parameters": {"return_timestamps": TOKEN}},  # echoed in the 400 text
        {"inputs": b64(wav(0.3)), "parameters": {"note": f"key {other}"}},
    ]
    for body in bodies:
        requests.post(token_mock.model_url(), json=body, headers=AUTH)
    requests.post(token_mock.model_url() + f"/{TOKEN}?api_key=qwerty123&access_token=zxcv9876", data=b"x")
    requests.post(token_mock.model_url(), data=b"x", headers={"X-Api-Key": "k3y-value", "Cookie": "s=c00kie"})
    text = requests.get(token_mock.url + "/__mock/requests", headers=AUTH).text
    for secret in (TOKEN, other, "plain-secret-value", "qwerty123", "zxcv9876", "k3y-value", "c00kie"):
        assert secret not in text, secret
    assert len(json.loads(text)["requests"]) == 5


async def test_journal_and_validator_cache_are_bounded_in_bytes(make_client) -> None:
    client = await make_client(journal_size=100_000)
    state = front_state(client.app)
    big = "v" * 1_000_000
    for i in range(20):
        body = {"inputs": b64(wav(0.1)), "parameters": {f"k{i}": big}}
        assert (await client.post(PATH, json=body)).status == 200
    assert state.journal.bytes < 20 * 20_000
    assert all(len(key) <= 4096 for key in state.validator._cache)
    assert (await client.post("/__mock/reset")).status == 200
    assert not state.validator._cache


def test_no_answer_is_a_5xx_for_a_sample_of_hostile_bodies(open_mock: MockServer) -> None:
    bodies = [b"", b"{", b"\xff" * 100, b"RIFF", b"RIFF\x00\x00\x00\x00WAVE", b"fLaC" + b"\x00" * 50,
              b'{"inputs": 5}', b'{"inputs": "%%%"}', b'{"inputs": "' + b"A" * 10_000 + b'"}',
              b"OggS" + b"\x00" * 100, b"ID3" + b"\xff" * 200]  # fmt: skip
    for body in bodies:
        for content_type in ("application/json", "audio/wav", ""):
            resp = requests.post(open_mock.model_url(), data=body, headers={"Content-Type": content_type})
            assert resp.status_code < 500, (body[:20], content_type, resp.text)
            assert "error" in resp.json()


def test_logs_are_scrubbed(token_mock: MockServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    bad = f"POST {PATH}?api_key={TOKEN} HTTP/1.1\r\nHost: x\r\nX-Leak: {TOKEN}\x00\r\n\r\n".encode()
    send_raw(token_mock.url, bad)
    send_raw(token_mock.url, f"GARBAGE {TOKEN}\r\n\r\n".encode())
    deadline = time.monotonic() + 2
    while not caplog.records and time.monotonic() < deadline:
        time.sleep(0.05)
    assert caplog.records  # aiohttp logged the bad requests...
    assert TOKEN not in caplog.text  # ...without the token
