"""Helpers of bench/mock_load.py: the meters a mock can run under, and importing another checkout's code
(``--baseline``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

#: run as ``python -c METER OUT mock ...``: the CLI with meters; SIGUSR1 arms and clears them, SIGUSR2
#: writes ``{"iter_cpu_ms", "iter_wall_ms", "iterations", "gc_max_ms", "gc_cpu_ms", "gc_count"}`` (longest
#: iteration and GC pause, wall and CPU time) to OUT and disarms.
#: An iteration is timed by a callback that re-queues itself (one run per loop pass), armed only during
#: a cell so that an idle server does not spin.
METER = """
import asyncio, gc, json, runpy, signal, sys, time
import asr_conformance.mock_server.server as server
out, armed, st = sys.argv.pop(1), [False], {}
def clear(*_):
    st.update(iter_cpu_ms=0.0, iter_wall_ms=0.0, iterations=0, gc_max_ms=0.0, gc_cpu_ms=0.0, gc_count=0)
def tick(loop, last):
    now = (time.perf_counter(), time.thread_time())
    if last is not None:
        st["iter_wall_ms"] = max(st["iter_wall_ms"], (now[0] - last[0]) * 1e3)
        st["iter_cpu_ms"] = max(st["iter_cpu_ms"], (now[1] - last[1]) * 1e3)
        st["iterations"] += 1
    if armed[0]:
        loop.call_soon(tick, loop, now)
def arm(*_):
    clear(); armed[0] = True
    loop.call_soon_threadsafe(tick, loop, None)
def dump(*_):
    armed[0] = False
    with open(out, "w") as f:
        json.dump(st, f)
gc_started = [0.0, 0.0]
def on_gc(phase, info):
    if phase == "start":
        gc_started[:] = time.perf_counter(), time.thread_time()
    else:
        st["gc_max_ms"] = max(st["gc_max_ms"], (time.perf_counter() - gc_started[0]) * 1e3)
        st["gc_cpu_ms"] = max(st["gc_cpu_ms"], (time.thread_time() - gc_started[1]) * 1e3)
        st["gc_count"] += 1
gc.callbacks.append(on_gc)
clear()
made = server.new_event_loop
def new_loop():
    global loop
    loop = made()
    return loop
server.new_event_loop = new_loop
signal.signal(signal.SIGUSR1, arm)
signal.signal(signal.SIGUSR2, dump)
sys.argv[0] = "asr-conformance"
runpy.run_module("asr_conformance", run_name="__main__")
"""


def import_tree(checkout: Path, into: Path) -> Path:
    """A folder that, first on PYTHONPATH, makes ``import asr_conformance`` load ``checkout``'s code
    (its pyproject's package-dir mapping, as symlinks) instead of this checkout's editable install."""
    mapping = tomllib.loads((checkout / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    top = into / "asr_conformance"
    top.mkdir(parents=True)
    for entry in (checkout / mapping["asr_conformance"]).iterdir():
        (top / entry.name).symlink_to(entry)
    for package, folder in mapping.items():
        if package != "asr_conformance":
            (top / package.split(".", 1)[1]).symlink_to(checkout / folder)
    return into


__all__ = ["METER", "import_tree"]
