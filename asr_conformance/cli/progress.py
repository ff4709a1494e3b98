"""The terminal's view of a run: a live status line on a TTY, plain lines otherwise; new failures always.

Both show the cases done of the planned total and an ETA: on a TTY in the status line, elsewhere (CI logs)
a line every :data:`PLAIN_EVERY_S` seconds and at each quarter of the plan.
"""

from __future__ import annotations

import time
from typing import Any

from asr_conformance.conformance.model import CaseFinished, Event, Outcome, RunFinished, RunStarted

PLAIN_EVERY_S = 10.0


def eta(done: int, total: int | None, elapsed_s: float) -> str:
    """ "120/383 cases, ETA 35 s" (no ETA before the first case or past the plan)."""
    if not total:
        return f"{done} cases"
    text = f"{done}/{total} cases"
    if 0 < done < total:
        left = elapsed_s / done * (total - done)
        text += f", ETA {left:.0f} s" if left < 120 else f", ETA {left / 60:.0f} min"
    return text


class Progress:
    """Progress over the event stream (``handle`` is a run listener)."""

    def __init__(self, plain: bool, *, color: bool = True) -> None:
        from rich.console import Console

        self.plain = plain
        # NO_COLOR removes colour, not the live line: ``color`` and ``plain`` are separate decisions.
        self.console = Console(no_color=not color, highlight=color, soft_wrap=True)
        self.phase = ""
        self.cases = 0
        self.planned: int | None = None
        self.failing: set[str] = set()
        self._status: Any = None
        self._t0 = time.monotonic()
        self._last_line = self._t0
        self._quarter = 0

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, CaseFinished):
            self._case(event)
        elif isinstance(event, RunFinished):
            self.close()
            self.console.print(f"{event.cases} cases in {event.duration_s:.1f} s")
            if event.incomplete:
                self.console.print(event.incomplete, markup=False)

    def _started(self, event: RunStarted) -> None:
        self.planned = event.planned
        self._t0 = self._last_line = time.monotonic()
        self.console.print(
            f"asr-conformance {event.suite_version}: {event.target}, profile {event.profile}, "
            f"seed {event.seed}, spec {event.spec_view}, {len(event.checks)} checks"
            + (f", {event.planned} cases planned" if event.planned else ""),
            markup=False,
        )
        if not self.plain:
            self._status = self.console.status("probing ...")
            self._status.start()

    def _case(self, event: CaseFinished) -> None:
        self.cases += 1
        if event.phase != self.phase:
            self.phase = event.phase
            if self.plain:
                self.console.print(f"phase {event.phase} ...")
        for result in event.results:
            if result.outcome in (Outcome.FAIL, Outcome.ERROR) and result.check_id not in self.failing:
                self.failing.add(result.check_id)
                first = result.failures[0].message if result.failures else result.message
                where = f"{result.check_id} on {event.case_id}"
                self.console.print(
                    f"  {result.outcome.upper()} [{result.severity}] {where}: {first}", markup=False
                )
        now = time.monotonic()
        done = eta(self.cases, self.planned, now - self._t0)
        line = f"{self.phase}: {done}, {len(self.failing)} failing checks"
        if self._status is not None:
            self._status.update(line)
            return
        quarter = 4 * self.cases // self.planned if self.planned else 0
        if now - self._last_line >= PLAIN_EVERY_S or quarter > self._quarter:
            self._quarter, self._last_line = quarter, now
            self.console.print(f"progress: {line}", markup=False)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


__all__ = ["Progress", "eta"]
