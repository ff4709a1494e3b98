"""The terminal's view of a run: a live status line on a TTY, plain lines otherwise; new failures always.

Both show the cases done of the planned total and an ETA: on a TTY in the status line, elsewhere (CI logs)
a line every :data:`PLAIN_EVERY_S` seconds and at each quarter of the plan. The behaviour phase is timed
apart: each of its cases is several requests of known speech (up to a minute of audio), so its pace says
nothing about the other cases', nor theirs about its.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from asr_conformance.conformance.model import CaseFinished, Event, Outcome, RunFinished, RunStarted

PLAIN_EVERY_S = 10.0


def eta(done: int, total: int | None, elapsed_s: float) -> str:
    """ "120/383 cases, ETA 35 s" (no ETA before the first case or past the plan)."""
    left = elapsed_s / done * (total - done) if total and 0 < done < total else None
    return _eta_text(done, total, left)


def _eta_text(done: int, total: int | None, left_s: float | None) -> str:
    if not total:
        return f"{done} cases"
    text = f"{done}/{total} cases"
    if left_s is not None and done < total:
        text += f", ETA {left_s:.0f} s" if left_s < 120 else f", ETA {left_s / 60:.0f} min"
    return text


class Progress:
    """Progress over the event stream (``handle`` is a run listener)."""

    def __init__(
        self, plain: bool, *, color: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        from rich.console import Console

        self.plain, self.clock = plain, clock
        # NO_COLOR removes colour, not the live line: ``color`` and ``plain`` are separate decisions.
        self.console = Console(no_color=not color, highlight=color, soft_wrap=True)
        self.phase = ""
        self.cases = 0
        self.planned: int | None = None
        self.failing: set[str] = set()
        self._status: Any = None
        self._t0 = clock()
        self._last_line = self._last_case = self._t0
        self._quarter = 0
        # the behaviour phase: cases planned (if the target hears) and done, seconds spent on them
        self.behaviour_planned = self.behaviour_done = 0
        self.behaviour_s = 0.0

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
        self.behaviour_planned = event.planned_behaviour
        self._t0 = self._last_line = self._last_case = self.clock()
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
        now = self.clock()
        if event.phase == "behaviour":
            self.behaviour_done += 1
            self.behaviour_s += now - self._last_case
        elif event.phase != "probe" and self.behaviour_planned > self.behaviour_done:
            # the phase is over with fewer cases than a hearing target gets (deaf, or budget spent)
            if self.planned is not None:
                self.planned -= self.behaviour_planned - self.behaviour_done
            self.behaviour_planned = self.behaviour_done
        self._last_case = now
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
        line = self.status(now)
        if self._status is not None:
            self._status.update(line)
            return
        quarter = 4 * self.cases // self.planned if self.planned else 0
        if now - self._last_line >= PLAIN_EVERY_S or quarter > self._quarter:
            self._quarter, self._last_line = quarter, now
            self.console.print(f"progress: {line}", markup=False)

    def status(self, now: float) -> str:
        """ "behaviour: known speech 3/18, 4/320 cases, ETA 2 min, 0 failing checks" """
        known = ""
        if self.phase == "behaviour" and self.behaviour_planned:
            known = f"known speech {self.behaviour_done}/{self.behaviour_planned}, "
        done = _eta_text(self.cases, self.planned, self.left_s(now))
        return f"{self.phase}: {known}{done}, {len(self.failing)} failing checks"

    def left_s(self, now: float) -> float | None:
        """Seconds left: the behaviour cases still due at the behaviour phase's own pace, the rest at
        the pace of the other cases; None while a pace is still unknown."""
        if not self.planned:
            return None
        behaviour_left = max(0, self.behaviour_planned - self.behaviour_done)  # 0 planned: not counted apart
        others_done = self.cases - self.behaviour_done
        others_left = self.planned - self.cases - behaviour_left
        left = 0.0
        if behaviour_left > 0:
            if not self.behaviour_done:
                return None
            left += self.behaviour_s / self.behaviour_done * behaviour_left
        if others_left > 0:
            if not others_done:
                return None
            left += (now - self._t0 - self.behaviour_s) / others_done * others_left
        return left

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


__all__ = ["Progress", "eta"]
