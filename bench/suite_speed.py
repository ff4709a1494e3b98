"""How fast the conformance suite runs, and what Schemathesis does with the same mock and budget.

For the ``quick`` and ``default`` profiles: wall time and cases/s with the mock in this process, and
over HTTP against the mock in its own process (``asr-conformance mock``, pinned to the last core while
this process keeps the others, when there are two or more). Then Schemathesis runs ``spec/openapi.json``
against that same HTTP mock with as many cases as the ``default`` run, and the mock's journal tells how
many of its requests carried a body and how many reached a 200.

    .venv/bin/python bench/suite_speed.py [--reps N] [--seed N] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from asr_conformance.conformance.engine.config import RunConfig
from asr_conformance.conformance.engine.runner import run
from asr_conformance.conformance.model import CaseFinished, Event, RunFinished

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODEL_PATH = "/hf-inference/models/openai/whisper-large-v3"
BODY_LIMIT = 16 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mock(port: int) -> subprocess.Popen[bytes]:
    cpus = os.cpu_count() or 1
    cmd = [str(BIN / "asr-conformance"), "mock", "--port", str(port), "--max-body-bytes", str(BODY_LIMIT)]
    if cpus >= 2 and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpus - 1), *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the mock did not start")


def journal(port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__mock/requests", timeout=30) as resp:
        return json.load(resp)["requests"]


def clear_journal(port: int) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/__mock/requests", method="DELETE")
    urllib.request.urlopen(req, timeout=10).close()


async def suite(config: RunConfig) -> dict:
    cases = 0
    finished: RunFinished | None = None

    def on_event(event: Event) -> None:
        nonlocal cases, finished
        if isinstance(event, CaseFinished):
            cases += 1
        elif isinstance(event, RunFinished):
            finished = event

    t0 = time.perf_counter()
    await run(config, on_event)
    wall = time.perf_counter() - t0
    assert finished is not None
    return {
        "cases": cases,
        "wall_s": round(wall, 2),
        "cases_per_s": round(cases / wall, 1),
        "failed": finished.outcomes["fail"] + finished.outcomes["error"],
    }


def schemathesis(port: int, cases: int, seed: int) -> dict:
    schema = json.loads((ROOT / "spec" / "openapi.json").read_text())
    operations = sum(len(methods) for methods in schema["paths"].values())
    clear_journal(port)
    cmd = [
        str(BIN / "schemathesis"),
        "run",
        str(ROOT / "spec" / "openapi.json"),
        "--url",
        f"http://127.0.0.1:{port}",
        "--max-examples",
        str(math.ceil(cases / operations)),
        "--seed",
        str(seed),
        "--phases",
        "fuzzing",
        "--no-color",
        "--continue-on-failure",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/tmp")
    wall = time.perf_counter() - t0
    seen = journal(port)
    return {
        "requests": len(seen),
        "wall_s": round(wall, 2),
        "cases_per_s": round(len(seen) / wall, 1),
        "with_body": sum(1 for e in seen if e.get("body_bytes")),
        "status_200": sum(1 for e in seen if e.get("status") == 200),
        "statuses": dict(sorted(_count(seen).items())),
        "exit_code": proc.returncode,
    }


def _count(entries: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in entries:
        key = str(e.get("status"))
        out[key] = out.get(key, 0) + 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    cpus = os.cpu_count() or 1
    if cpus >= 2:
        os.sched_setaffinity(0, set(range(cpus - 1)))  # the HTTP mock gets the last core to itself

    port = free_port()
    mock = start_mock(port)
    url = f"http://127.0.0.1:{port}{MODEL_PATH}"
    results: dict = {
        "machine": f"{cpus} vCPU {platform.machine()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
        "runs": {},
    }
    try:
        for profile in ("quick", "default"):
            for where, target in (("in-process", None), ("http", url)):
                reps = [
                    asyncio.run(
                        suite(
                            RunConfig(
                                target=target,
                                profile=profile,
                                seed=args.seed,
                                max_body_bytes=BODY_LIMIT if target else None,
                            )
                        )
                    )
                    for _ in range(args.reps)
                ]
                best = {k: round(statistics.median(r[k] for r in reps), 1) for k in ("wall_s", "cases_per_s")}
                row = {**reps[0], **best}
                results["runs"][f"{profile}/{where}"] = row
                print(
                    f"{profile:8} {where:10} {row['cases']:5} cases  {row['wall_s']:6.1f} s  "
                    f"{row['cases_per_s']:6.1f} cases/s  failed={row['failed']}",
                    flush=True,
                )
        same = results["runs"]["default/http"]["cases"]
        st = schemathesis(port, same, args.seed)
        results["schemathesis"] = st
        print(
            f"schemathesis {st['requests']} requests  {st['wall_s']:.1f} s  {st['cases_per_s']:.1f} cases/s  "
            f"with body {st['with_body']}  200s {st['status_200']}  statuses {st['statuses']}"
        )
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    results["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    print(f"load average: {results['load_average_at_start']} -> {results['load_average_at_end']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
