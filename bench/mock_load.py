"""Load benchmark of the mock server (issue: requests/s and p50/p99 at concurrency 1, 16, 64).

The server runs pinned to core 0 (``taskset``), the load (wrk, one thread) to core 1. Bodies: a 5 s
16 kHz mono WAV posted raw (Content-Type audio/wav), and the same audio as JSON base64 with
``return_timestamps: true``; every request sends ``x-use-cache: false`` so each one is decoded for
real. Repetitions are interleaved (rep 1 of every cell, then rep 2, ...) and medians reported. Prism
serving ``spec/openapi.json`` is measured in the same run, on the same cores. Then memory: RSS of a
fresh mock at idle and during a run at concurrency 64, and a check that undecodable audio still gets
its 400 after the load.

``--baseline DIR`` measures the mock of another checkout (a ``git worktree``) in the same run, cell by
cell, alternating the order each repetition. ``--meter`` runs every mock under meters read per cell: the
longest event-loop iteration in CPU and wall time (an iteration runs all the callbacks that were ready:
a stall is a long one) and the longest garbage-collector pause.

    python bench/mock_load.py                     # the full run (~10 min)
    python bench/mock_load.py --duration 3 --reps 1 --memory-seconds 10 --no-prism   # a quick look
    git worktree add /tmp/old <rev> && python bench/mock_load.py --no-prism --concurrency 64 \
        --baseline /tmp/old --meter               # this checkout against <rev>, side by side
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from asr_conformance.mock_server import audio
from mock_load_tools import METER, import_tree

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).with_suffix(".lua")
MODEL_PATH = "/models/openai/whisper-large-v3"
SERVER_CORE, LOAD_CORE = "0", "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_bodies(folder: Path) -> dict[str, tuple[Path, str]]:
    rate = 16000
    t = np.arange(rate * 5) / rate
    speechlike = 0.3 * np.sin(2 * np.pi * 220 * t) * ((t % 1.0) < 0.7)  # sound with pauses
    wav = audio.encode(speechlike.astype(np.float32)[:, None], rate, "wav")
    payload = {"inputs": base64.b64encode(wav).decode(), "parameters": {"return_timestamps": True}}
    (folder / "raw.wav").write_bytes(wav)
    (folder / "body.json").write_text(json.dumps(payload))
    return {"raw": (folder / "raw.wav", "audio/wav"), "json": (folder / "body.json", "application/json")}


def wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is up
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    """End a server and everything it started (its own process group); Prism, busy with a backlog,
    may sit on SIGTERM, so it gets SIGKILL after 5 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader, or the group never looks empty
            try:
                os.killpg(proc.pid, 0)  # anyone left in the group?
            except ProcessLookupError:
                proc.wait(timeout=5)
                return
            time.sleep(0.1)
    proc.wait(timeout=5)


def start_mock(port: int, pythonpath: Path | None = None, meter: Path | None = None) -> subprocess.Popen:
    """``asr-conformance mock`` on core 0, from this checkout or the one ``pythonpath`` imports."""
    run = ["-c", METER, str(meter)] if meter else ["-m", "asr_conformance"]
    cmd = ["taskset", "-c", SERVER_CORE, sys.executable, *run, "mock", "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(pythonpath)} if pythonpath else None
    proc = subprocess.Popen(
        [*cmd, "--max-concurrency", "4096"],
        cwd=pythonpath or ROOT,  # the working directory comes first on sys.path: not this checkout's root
        env=env,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def start_prism(port: int) -> subprocess.Popen:
    cmd = ["taskset", "-c", SERVER_CORE, "npx", "-y", "@stoplight/prism-cli@5", "mock", "spec/openapi.json"]
    proc = subprocess.Popen(
        [*cmd, "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # npx starts node as a grandchild: stop() ends the whole group
    )
    wait_http(f"http://127.0.0.1:{port}{MODEL_PATH}")
    return proc


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of ``root`` and all its descendants (Prism runs under npx)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
        )
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == pid)
    return total


def wrk(url: str, body: Path, content_type: str, connections: int, seconds: int, server: int) -> dict:
    """One wrk run; also the server's CPU seconds per request, a figure that other load on the machine
    distorts much less than requests/s."""
    env = {**os.environ, "BODY": str(body), "CT": content_type}
    cmd = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    cpu_before = tree_cpu_seconds(server)
    out = subprocess.run([*cmd, "-s", str(LUA), url], env=env, capture_output=True, text=True, check=True)
    cpu = tree_cpu_seconds(server) - cpu_before
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["cpu_us_per_request"] = cpu / result["requests"] * 1e6 if result["requests"] else None
    return result


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def post(url: str, data: bytes, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def start_targets(
    args: argparse.Namespace, tmp: Path
) -> dict[str, tuple[subprocess.Popen, str, Path | None]]:
    """name -> (process, model URL, meter file or None): this checkout's mock, each baseline's, Prism."""
    targets: dict[str, tuple[subprocess.Popen, str, Path | None]] = {}
    checkouts: list[tuple[str, Path | None]] = [("mock", None)]
    for i, checkout in enumerate(args.baseline):
        rev = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        label = f"{checkout.name}@{rev.stdout.strip() or '?'}"  # worktrees of one commit differ by name
        tree = import_tree(checkout.resolve(), tmp / f"tree{i}")
        where = subprocess.run(
            [sys.executable, "-c", "import asr_conformance.mock_server as m; print(m.__file__)"],
            cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        if not Path(where.stdout.strip()).resolve().is_relative_to(checkout.resolve()):
            sys.exit(f"--baseline {checkout}: the mock would still load {where.stdout.strip()}")
        checkouts.append((label, tree))
    for i, (name, pythonpath) in enumerate(checkouts):
        port = free_port()
        meter = tmp / f"meter{i}.json" if args.meter else None
        targets[name] = (start_mock(port, pythonpath, meter), f"http://127.0.0.1:{port}{MODEL_PATH}", meter)
    if args.prism:
        pport = free_port()
        targets["prism"] = (start_prism(pport), f"http://127.0.0.1:{pport}{MODEL_PATH}", None)
    return targets


def metered_wrk(
    target: tuple[subprocess.Popen, str, Path | None], body: Path, ctype: str, c: int, s: int
) -> dict:
    """:func:`wrk`, with the target's loop and GC meters read for the cell when it has them."""
    proc, url, meter = target
    if meter is None:
        return wrk(url, body, ctype, c, s, proc.pid)
    meter.unlink(missing_ok=True)
    os.kill(proc.pid, signal.SIGUSR1)
    result = wrk(url, body, ctype, c, s, proc.pid)
    os.kill(proc.pid, signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while not meter.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.05)  # the dump is a few bytes: written by now
    return {**result, **json.loads(meter.read_text())}


def matrix(args: argparse.Namespace, bodies: dict[str, tuple[Path, str]], tmp: Path) -> dict:
    targets = start_targets(args, tmp)
    cells: dict[str, list[dict]] = {}
    try:
        for body, ctype in bodies.values():  # warm-up, not recorded
            for proc, url, _ in targets.values():
                wrk(url, body, ctype, 16, 1, proc.pid)
        for rep in range(args.reps):
            for form, (body, ctype) in bodies.items():
                for c in args.concurrency:
                    names = list(targets) if rep % 2 == 0 else list(reversed(targets))  # no order bias
                    for name in names:
                        time.sleep(1)  # let the previous cell's backlog drain (Prism lags)
                        result = metered_wrk(targets[name], body, ctype, c, args.duration)
                        cells.setdefault(f"{name}|{form}|{c}", []).append(result)
                        print(f"rep {rep + 1} {name:22} {form:4} c={c:<3} {line(result)}", flush=True)
    finally:
        for proc, _, _ in targets.values():
            stop(proc)
    return {key: summarise(runs) for key, runs in cells.items()}


def line(r: dict) -> str:
    meter = ""
    if "iter_cpu_ms" in r:
        meter = (
            f" | longest iteration cpu {r['iter_cpu_ms']:.1f} ms wall {r['iter_wall_ms']:.1f} ms,"
            f" gc {r['gc_cpu_ms']:.1f} ms cpu ({r['gc_count']}), {r['iterations'] / r['requests']:.1f} it/req"
        )
    return (
        f"{r['rps']:7.0f} req/s p50 {r['p50_us'] / 1000:6.1f} p99 {r['p99_us'] / 1000:6.1f} "
        f"max {r['max_us'] / 1000:6.1f} ms (p99 {r['p99_us'] / r['p50_us']:.1f}x, "
        f"max {r['max_us'] / r['p50_us']:.1f}x p50) "
        f"non-2xx {r['non2xx']} cpu/req {r['cpu_us_per_request'] or 0:4.0f} us{meter}"
    )


def summarise(runs: list[dict]) -> dict:
    """Medians over the repetitions (worst maximum and longest iteration too)."""
    summary = {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
        "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
        "max_ms": statistics.median(r["max_us"] for r in runs) / 1000,
        "worst_max_ms": max(r["max_us"] for r in runs) / 1000,
        "p99_over_p50": statistics.median(r["p99_us"] / r["p50_us"] for r in runs),
        "max_over_p50": statistics.median(r["max_us"] / r["p50_us"] for r in runs),
        "cpu_us_per_request": statistics.median(r["cpu_us_per_request"] or 0 for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "errors": sum(
            r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"] for r in runs
        ),
    }
    if all("iter_cpu_ms" in r for r in runs):
        for key in ("iter_cpu_ms", "iter_wall_ms", "gc_max_ms", "gc_cpu_ms"):
            summary[f"longest_{key}"] = max(r[key] for r in runs)
    return summary


def memory(args: argparse.Namespace, bodies: dict[str, tuple[Path, str]]) -> dict:
    port = free_port()
    proc = start_mock(port)
    url = f"http://127.0.0.1:{port}{MODEL_PATH}"
    try:
        time.sleep(1)
        idle = rss_mb(proc.pid)
        body, ctype = bodies["raw"]
        wrk(url, body, ctype, 64, 5, proc.pid)  # warm-up: buffers, pools
        warm = rss_mb(proc.pid)
        samples = []
        load = subprocess.Popen(
            [
                "taskset",
                "-c",
                LOAD_CORE,
                "wrk",
                "-t1",
                "-c64",
                f"-d{args.memory_seconds}s",
                "-s",
                str(LUA),
                url,
            ],
            env={**os.environ, "BODY": str(body), "CT": ctype},
            stdout=subprocess.DEVNULL,
        )
        while load.poll() is None:
            samples.append(rss_mb(proc.pid))
            time.sleep(1)
        end = rss_mb(proc.pid)
        status, answer = post(url, b"definitely not audio", "application/octet-stream")
        return {
            "idle_mb": idle,
            "after_warmup_mb": warm,
            "peak_mb": max(samples, default=end),
            "end_mb": end,
            "growth_during_run_mb": end - warm,
            "bad_audio_status": status,
            "bad_audio_body": answer.decode(errors="replace"),
        }
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--memory-seconds", type=int, default=60, help="0: no memory phase")
    parser.add_argument("--no-prism", dest="prism", action="store_false")
    parser.add_argument("--baseline", type=Path, nargs="*", default=[], help="other checkouts to compare")
    parser.add_argument("--meter", action="store_true", help="longest loop iteration and GC pause per cell")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    for tool in ("wrk", "taskset") + (("npx",) if args.prism else ()):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install wrk util-linux nodejs npm)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs 2 cores: one for the server, one for the load")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        bodies = make_bodies(Path(tmp))
        results = {"cells": matrix(args, bodies, Path(tmp))}
        if args.memory_seconds:
            results["memory"] = memory(args, bodies)
    results["machine"] = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "duration_s": args.duration,
        "reps": args.reps,
    }
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
