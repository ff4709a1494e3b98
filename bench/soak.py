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
    python bench/soak.py --server reference --validation passthrough
    python bench/soak.py --server proxy           # the proxy (metered) in front of a mock
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from soak_requests import KINDS, PATH, SECRETS, SEEDS, TOKEN, build

ROOT = Path(__file__).resolve().parents[1]


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

    started = time.perf_counter()

    async def worker() -> None:
        for number in queue:
            if number and number % 1000 == 0:  # a soak of a real engine runs for many minutes
                print(f"{number} sent, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if json.loads(resp.read()).get("ready"):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server did not become ready")


def start(args: argparse.Namespace, port: int, stalls: Path, log: Path) -> list[subprocess.Popen]:
    """The metered server first; for ``proxy``, the mock upstream it fronts (unmetered) after it."""
    common = ["--token", TOKEN, "--read-timeout", str(args.read_timeout)]
    upstream: list[subprocess.Popen] = []
    if args.server == "mock":
        served = ["mock", *common]
    elif args.server == "reference":
        served = [
            "reference",
            *common,
            "--model",
            "tiny.en",
            "--device",
            "cpu",
            "--validation",
            args.validation,
        ]
    else:  # the proxy (its CLI's own read timeout, 60 s) in front of a mock in its own process
        mock_port = free_port()
        mock = [sys.executable, "-m", "asr_conformance", "mock", "--port", str(mock_port), *common]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        upstream.append(subprocess.Popen(mock, cwd=ROOT, start_new_session=True, **quiet))
        wait_ready(mock_port, upstream[0])
        served = ["proxy", "--upstream", f"http://127.0.0.1:{mock_port}", "--log", str(log)]
    proc = subprocess.Popen(
        [sys.executable, "-c", METERED, str(stalls), *served, "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    wait_ready(port, proc)
    return [proc, *upstream]


def well_formed(port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{PATH}", data=SEEDS["flac"],
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "audio/flac", "x-use-cache": "false"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as resp:
        return resp.status


def journal_leaks(port: int, server: str) -> int | None:
    """Secrets in the mock's journal (through the proxy, the upstream mock's); None for the reference."""
    if server == "reference":
        return None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/__mock/requests", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        text = resp.read().decode()
    return sum(text.count(secret) for secret in SECRETS)


def log_leaks(log: Path) -> int | None:
    """Secrets in the proxy's JSON Lines log (None: no log, not the proxy)."""
    if not log.exists():
        return None
    text = log.read_text(encoding="utf-8")
    return sum(text.count(secret) for secret in SECRETS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["mock", "reference", "proxy"], default="mock")
    parser.add_argument(
        "--validation", choices=["strict", "passthrough"], default="strict", help="the reference's mode"
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--read-timeout", type=float, default=2.0)
    parser.add_argument("--only", choices=KINDS, help="send only this class of request")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    port = free_port()
    workdir = Path(tempfile.mkdtemp())
    stalls, log = workdir / "stalls.json", workdir / "proxy.jsonl"
    procs = start(args, port, stalls, log)
    proc = procs[0]
    try:
        before = rss_kb(proc.pid, "VmRSS")
        proc.send_signal(signal.SIGUSR1)
        result = asyncio.run(soak("127.0.0.1", port, args.requests, args.seed, args.concurrency, args.only))
        alive = proc.poll() is None
        peak = rss_kb(proc.pid, "VmHWM")
        result.update(
            server=args.server + (f" ({args.validation})" if args.server == "reference" else ""),
            requests=args.requests,
            concurrency=args.concurrency,
            crashes=0 if alive else 1,
            rss_before_mb=round(before / 1024, 1),
            peak_rss_growth_mb=round((peak - before) / 1024, 1),
            rss_after_mb=round(rss_kb(proc.pid, "VmRSS") / 1024, 1),
            well_formed_after=well_formed(port),
            journal_secret_hits=journal_leaks(port, args.server),
            proxy_log_lines=len(log.read_text().splitlines()) if log.exists() else None,
            proxy_log_secret_hits=log_leaks(log),
            machine=f"{platform.node()} {os.cpu_count()} CPUs",
            date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        )
    finally:
        for each in procs:
            os.killpg(each.pid, signal.SIGTERM)
            each.wait(timeout=30)
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
