"""Soak a server with distinct hostile requests (issue 13) and report what it did to it.

The server runs in its own process (``asr-conformance mock`` or ``reference``, with a token); every
request is built from a seed (header bytes, JSON depth and size, surrogates, WAV header mutations, chunk
floods, bit-flipped and truncated audio files, HTTP parser abuse, control endpoints and fault headers
without the token, secrets in paths, queries and parameters, stalled and abandoned uploads) and sent raw
over its own connection, ``--concurrency`` at a time. A prober process asks ``/healthz`` every 20 ms
(its slowest answer includes queueing behind the other requests), and the server times every
event-loop callback in wall and CPU time (on asyncio's loop, metered): the longest is the longest stall.

Reported: answers by status, 5xx, non-JSON answers, crashes (the process died or stopped answering),
peak RSS growth (VmHWM minus the RSS before the soak), the longest callback and /healthz latency,
secrets found in the journal, and whether a well-formed request still gets its 200 afterwards.

    python bench/soak.py                          # the mock, 10,000 requests
    python bench/soak.py --server reference --requests 10000   # tiny.en, strict validation
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import os
import platform
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from asr_conformance.mock_server import audio

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "hf_soakCanaryTokenABCDEFGHIJKLMN"
PATH = "/models/openai/whisper-large-v3"
SECRETS = (TOKEN, "soak-param-secret-value", "soak-query-secret-987")


def samples(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


SEEDS = {codec: audio.encode(samples(16000, 1.0), 16000, codec) for codec in ("wav", "flac", "mp3", "ogg")}


# ------------------------------------------------------------------------------------ requests


def http(path: str, body: bytes, headers: dict[str, bytes | str] | None = None, auth: bool = True) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: soak", f"Content-Length: {len(body)}".encode()]
    if auth:
        lines.append(f"Authorization: Bearer {TOKEN}".encode())
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def wav_header(rng: random.Random) -> bytes:
    tag = rng.choice([1, 1, 3, 0xFFFE, 0, 2, 0x55, rng.randrange(65536)])
    channels = rng.choice([1, 2, 0, 3, 8, 9, 1000, rng.randrange(65536)])
    rate = rng.choice([16000, 1, 0, 999, 768_001, 2**31, 2**32 - 1, rng.randrange(2**32)])
    bits = rng.choice([16, 8, 24, 32, 64, 0, 1, 12, 65, rng.randrange(65536)])
    data = rng.randbytes(rng.choice([0, 2, 100, 4000, 32000]))
    size = rng.choice([len(data), 0, 0xFFFFFFFF, len(data) * 1000, rng.randrange(2**32)])
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rng.randrange(2**32), rng.randrange(65536), bits)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVE"
        + b"fmt "
        + b"\x10\0\0\0"
        + fmt
        + b"data"
        + (struct.pack("<I", size) + data)
    )


def mutated_file(rng: random.Random) -> bytes:
    data = bytearray(SEEDS[rng.choice(list(SEEDS))])
    for _ in range(rng.choice([1, 4, 32])):
        data[rng.randrange(len(data))] = rng.randrange(256)
    if rng.random() < 0.3:
        data = data[: rng.randrange(1, len(data))]
    if rng.random() < 0.2 and data[:4] == b"fLaC":  # STREAMINFO rate: 20 bits at byte 18
        data[18:21] = rng.choice([b"\x00\x00\x10", b"\x00\x00\x00", b"\xff\xff\xf0"])
    return bytes(data)


def json_body(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    inputs = base64.b64encode(SEEDS["wav"]).decode()
    if kind == 0:
        depth = rng.choice([65, 100, 1020, 5000, 100_000])
        opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
        return ('{"inputs": "", "parameters": {"x": ' + opener * depth + "1" + closer * depth + "}}").encode()
    if kind == 1:
        return b"[" * rng.randrange(1000, 200_000)
    if kind == 2:
        escapes = "".join(
            rng.choice(["\\ud800", "\\udfff", "\\u0000", "\\uffff", "é", "\\\\"]) for _ in range(8)
        )
        return ('{"inputs": "%s", "parameters": {"x%s": "%s"}}' % (inputs, escapes, escapes)).encode()  # noqa: UP031
    if kind == 3:
        big = rng.choice(["1" + "0" * rng.randrange(20, 5000), "1e999", "NaN", "-Infinity", "5e-324"])
        key = rng.choice(["temperature", "top_p", "top_k", "num_beams", "max_new_tokens"])
        parameters = f'{{"generation_parameters": {{"{key}": {big}}}}}'
        return f'{{"inputs": "{inputs}", "parameters": {parameters}}}'.encode()
    if kind == 4:
        value = "v" * rng.choice([1000, 100_000, 1_000_000])
        return json.dumps({"inputs": inputs, "parameters": {f"k{rng.randrange(10**9)}": value}}).encode()
    return rng.randbytes(rng.randrange(1, 400))


def parser_abuse(rng: random.Random) -> bytes:
    choices = [
        b"GARBAGE " + rng.randbytes(20) + b"\r\n\r\n",
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: -{rng.randrange(9)}\r\n\r\n".encode(),
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{rng.randrange(9)}z\r\n".encode(),  # noqa: E501
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * rng.randrange(8000, 90000)}\r\n\r\n".encode(),
        f"POST /{'a' * rng.randrange(8000, 90000)} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"POST {PATH} HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: {rng.randrange(9)}\r\n\r\nab".encode(),
        f"POST {PATH} HTTP/9.{rng.randrange(9)}\r\n\r\n".encode(),
        b"POST "
        + PATH.encode()
        + b" HTTP/1.1\r\nHost: x\r\nX: "
        + rng.randbytes(30).replace(b"\n", b"")
        + b"\r\n\r\n",
    ]
    return rng.choice(choices)


def control(rng: random.Random) -> bytes:
    path = rng.choice(["/__mock/requests", "/__mock/scenario", "/__mock/reset", "/__mock/x", "/healthz"])
    method = rng.choice(["GET", "POST", "DELETE", "PUT"])
    body = rng.choice([b'{"sequence": ["status=500"], "loop": true}', b"[" * 5000, rng.randbytes(50)])
    fault = rng.choice(
        [{"x-mock-fault": "status=500"}, {"x-mock-fault": "delay=300"}, {"Prefer": "code=503"}]
    )
    if rng.random() < 0.5:
        return http(PATH, SEEDS["wav"], fault, auth=False)  # faults without the token: ignored, 401
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def secrets_request(rng: random.Random) -> bytes:
    where = rng.randrange(4)
    if where == 0:
        return http(f"{PATH}/{TOKEN}?api_key={SECRETS[2]}&access_token={TOKEN}", b"x")
    if where == 1:
        params = {"token": SECRETS[1], "x": f"Bearer {TOKEN}", "return_timestamps": TOKEN}
        return http(
            PATH,
            json.dumps({"inputs": "AAAA", "parameters": params}).encode(),
            {"Content-Type": "application/json"},
        )
    if where == 2:
        return http(
            PATH, b"x", {"X-Api-Key": SECRETS[1], "Cookie": f"s={TOKEN}", "User-Agent": f"ua {TOKEN}"}
        )
    return http(PATH, b"x", {"Authorization": f"Basic {SECRETS[1]}"}, auth=False)


KINDS = ("headers", "json", "wav", "file", "parser", "control", "secrets", "audio-json")


def build(index: int, seed: int) -> tuple[str, bytes]:
    """Request ``index``: its class and its bytes (deterministic, all distinct)."""
    rng = random.Random(seed * 1_000_003 + index)
    kind = KINDS[index % len(KINDS)]
    tag = f"x-soak: {index}"  # every request differs at least here
    if kind == "headers":
        headers = {"User-Agent": rng.randbytes(12).replace(b"\r", b"").replace(b"\n", b""),
                   "X-Amzn-Trace-Id": rng.randbytes(8).replace(b"\r", b"").replace(b"\n", b""),
                   "x-use-cache": rng.choice([b"\xff", b"maybe", b"TRUE", b""])}  # fmt: skip
        return kind, http(f"/hf-inference{PATH}?i={index}", SEEDS["wav"], headers)
    if kind == "json":
        return kind, http(f"{PATH}?i={index}", json_body(rng), {"Content-Type": "application/json"})
    if kind == "wav":
        return kind, http(f"{PATH}?i={index}", wav_header(rng), {"Content-Type": "audio/wav"})
    if kind == "file":
        return kind, http(f"{PATH}?i={index}", mutated_file(rng))
    if kind == "parser":
        return kind, parser_abuse(rng).replace(b"Host: x", f"Host: x\r\n{tag}".encode(), 1)
    if kind == "control":
        return kind, control(rng).replace(b"Host: x", f"Host: x\r\n{tag}".encode(), 1)
    if kind == "secrets":
        return kind, secrets_request(rng).replace(b"Host: soak", f"Host: soak\r\n{tag}".encode(), 1)
    bomb = rng.choice(
        [b"RIFF\0\0\0\0WAVE" + b"junk\0\0\0\0" * rng.randrange(1000, 400_000), mutated_file(rng)]
    )
    body = json.dumps({"inputs": base64.b64encode(bomb).decode()}).encode()
    return kind, http(f"{PATH}?i={index}", body, {"Content-Type": "application/json"})


# ------------------------------------------------------------------------------------- sending


async def exchange(host: str, port: int, payload: bytes, stall: float | None) -> bytes:
    """Send ``payload`` on a fresh connection; the whole answer (b"" when the server closed at once).
    ``stall``: send only the head and 4 body bytes, wait that long, then hang up (abandoned upload)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        if stall is not None:
            head, _, body = payload.partition(b"\r\n\r\n")
            writer.write(head + b"\r\n\r\n" + body[:4])
            await writer.drain()
            try:
                return await asyncio.wait_for(reader.read(), stall)
            except TimeoutError:
                return b""
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 60)
    except (ConnectionError, OSError):
        return b""
    finally:
        writer.close()


def classify(answer: bytes) -> tuple[int | None, bool]:
    """Status (None: no answer) and whether the body is JSON with an ``error`` or ``text``."""
    if not answer.startswith(b"HTTP/1."):
        return None, False
    status = int(answer.split(b" ", 2)[1])
    _, _, body = answer.partition(b"\r\n\r\n")
    try:
        value = json.loads(body)
        return status, isinstance(value, dict) and bool({"error", "text", "status", "requests"} & set(value))
    except ValueError:
        return status, False


#: the prober runs in its own process: the soak's own event loop (busy building megabyte bodies) must not
#: add its stalls to the server's
PROBER = """
import socket, sys, time
port, worst, count = int(sys.argv[1]), 0.0, 0
request = b"GET /healthz HTTP/1.1\\r\\nHost: p\\r\\nConnection: close\\r\\n\\r\\n"
try:
    while True:
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(request)
            while sock.recv(65536):
                pass
        worst, count = max(worst, time.perf_counter() - started), count + 1
        time.sleep(0.02)
except KeyboardInterrupt:
    print(worst, count, flush=True)
"""


def start_prober(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PROBER, str(port)], stdout=subprocess.PIPE, text=True)


def stop_prober(prober: subprocess.Popen) -> tuple[float, int]:
    prober.send_signal(signal.SIGINT)
    out, _ = prober.communicate(timeout=60)
    worst, count = out.split()
    return float(worst), int(count)


async def soak(
    host: str, port: int, count: int, seed: int, concurrency: int, only: str | None = None
) -> dict:
    statuses: collections.Counter[str] = collections.Counter()
    not_json: collections.Counter[str] = collections.Counter()
    five_xx: list[str] = []
    queue = iter(range(count))
    prober = start_prober(port)

    async def worker() -> None:
        for number in queue:
            # --only KIND: the same requests that class gets in a mixed soak
            index = number * len(KINDS) + KINDS.index(only) if only else number
            kind, payload = build(index, seed)
            stall = (index % 7) * 0.5 if index % 50 == 49 else None
            answer = await exchange(host, port, payload, stall)
            status, is_json = classify(answer)
            statuses[f"{kind}:{status}"] += 1
            if status is not None and status >= 500:
                five_xx.append(f"{index} {kind} {answer[:200]!r}")
            if status is not None and not is_json:
                not_json[f"{kind}:{status}"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    worst, probes = stop_prober(prober)
    return {
        "seconds": round(elapsed, 1),
        "statuses": dict(sorted(statuses.items())),
        "5xx": five_xx,
        "not_json": dict(not_json),
        "longest_healthz_s": round(worst, 3),
        "healthz_probes": probes,
    }


# ---------------------------------------------------------------------------------------- main


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


#: runs the CLI with a meter on every event-loop callback: the longest one is the longest stall. It times
#: asyncio's handles, so the server runs on asyncio's loop here (uvloop's handles are C)
METERED = """
import asyncio, atexit, json, runpy, signal, sys, time
import asr_conformance.mock_server.server as server
def new_loop():  # pure-Python tasks: a step's callback then names its task, and the task its frames
    loop = asyncio.new_event_loop()
    loop.set_task_factory(lambda loop, coro, **kw: asyncio.tasks._PyTask(coro, loop=loop, **kw))
    return loop
server.new_event_loop = new_loop
asyncio.run = lambda main, **kw: asyncio.Runner(loop_factory=new_loop).run(main)
worst, cpu, out = [0.0, ""], [0.0, ""], sys.argv.pop(1)
original = asyncio.events.Handle._run
def where(handle, frame):
    if frame is not None:  # the request the step worked for names the culprit
        for name in ("request", "message"):
            value = frame.f_locals.get(name)
            if value is not None and hasattr(value, "path"):
                length = value.headers.get("Content-Length")
                return f"{frame.f_code.co_qualname}: {value.method} {value.path[:120]} ({length} bytes)"
        return f"{repr(handle)[:60]} in {frame.f_code.co_qualname}"
    return repr(handle)[:300]
def timed(self):
    task = getattr(self._callback, "__self__", None)
    coro = getattr(task, "_coro", None)
    frame = getattr(coro, "cr_frame", None)
    started, started_cpu = time.perf_counter(), time.thread_time()
    original(self)
    took, took_cpu = time.perf_counter() - started, time.thread_time() - started_cpu
    if took > worst[0]:
        worst[0], worst[1] = took, where(self, frame)
    if took_cpu > cpu[0]:
        cpu[0], cpu[1] = took_cpu, where(self, frame)
asyncio.events.Handle._run = timed
def reset(*_):  # SIGUSR1 when the soak begins: start-up work is not a stall
    worst[:], cpu[:] = [0.0, ""], [0.0, ""]
signal.signal(signal.SIGUSR1, reset)
atexit.register(lambda: open(out, "w").write(json.dumps([*worst, *cpu])))
sys.argv[0] = "asr-conformance"
runpy.run_module("asr_conformance", run_name="__main__")
"""


def start(server: str, port: int, read_timeout: float, stalls: Path) -> subprocess.Popen:
    common = ["--port", str(port), "--token", TOKEN, "--read-timeout", str(read_timeout)]
    extra = ["--model", "tiny.en", "--device", "cpu"] if server == "reference" else []
    proc = subprocess.Popen(
        [sys.executable, "-c", METERED, str(stalls), server, *common, *extra],
        cwd=ROOT, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if json.loads(resp.read()).get("ready"):
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server did not become ready")


def well_formed(port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{PATH}", data=SEEDS["flac"],
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "audio/flac", "x-use-cache": "false"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as resp:
        return resp.status


def journal_leaks(port: int, server: str) -> int | None:
    if server != "mock":
        return None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/__mock/requests", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        text = resp.read().decode()
    return sum(text.count(secret) for secret in SECRETS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["mock", "reference"], default="mock")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--read-timeout", type=float, default=2.0)
    parser.add_argument("--only", choices=KINDS, help="send only this class of request")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stalls = Path(tempfile.mkdtemp()) / "stalls.json"
    proc = start(args.server, port, args.read_timeout, stalls)
    try:
        before = rss_kb(proc.pid, "VmRSS")
        proc.send_signal(signal.SIGUSR1)
        result = asyncio.run(soak("127.0.0.1", port, args.requests, args.seed, args.concurrency, args.only))
        alive = proc.poll() is None
        peak = rss_kb(proc.pid, "VmHWM")
        result.update(
            server=args.server,
            requests=args.requests,
            concurrency=args.concurrency,
            crashes=0 if alive else 1,
            rss_before_mb=round(before / 1024, 1),
            peak_rss_growth_mb=round((peak - before) / 1024, 1),
            rss_after_mb=round(rss_kb(proc.pid, "VmRSS") / 1024, 1),
            well_formed_after=well_formed(port),
            journal_secret_hits=journal_leaks(port, args.server),
            machine=f"{platform.node()} {os.cpu_count()} CPUs",
            date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    if stalls.exists():
        longest, where, longest_cpu, where_cpu = json.loads(stalls.read_text())
        result.update(
            longest_loop_callback_s=round(longest, 3),
            longest_loop_callback=where,
            longest_loop_callback_cpu_s=round(longest_cpu, 3),  # without time the OS gave others
            longest_loop_callback_cpu=where_cpu,
        )
    summary = {k: v for k, v in result.items() if k != "statuses"}
    summary["5xx"] = len(result["5xx"])
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
