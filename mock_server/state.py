"""The front's mutable state, shared by the model route and the controls, reachable from tests and
``MockServer`` through the app (:func:`asr_conformance.mock_server.front.front_state`)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import Engine
from asr_conformance.mock_server.faults import Scenario
from asr_conformance.mock_server.journal import Journal, ResultCache
from asr_conformance.mock_server.validation import RequestValidator

#: requests let into their CPU work per event-loop iteration (bench/mock_load.py at c=64: 1 cost up to 8%
#: of throughput in extra reads and wake-ups, 4 lets p99 and max drift up again; 2 keeps both)
ADMITTED_PER_ITERATION = 2


class Turns:
    """Admits requests to their CPU work in arrival order, a couple per event-loop iteration.

    Without it every request whose body completed during a poll runs in the same iteration: at 64
    concurrent clients that is 25-45 ms of CPU during which no socket is read. Clients then see late
    ACKs and zero windows, and the TCP timers (probe, retransmit, persist: 200 ms and up, doubling)
    turn that into p99 at 5-10x p50 and maxima near a second. Admitting ADMITTED_PER_ITERATION per
    iteration keeps iterations near that many requests' work (about 0.6 ms each), so sockets are read
    and ACKed promptly and requests are served first come, first served. Idle or lightly loaded,
    :meth:`wait` returns at once.
    """

    def __init__(self) -> None:
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._busy = False  # requests were admitted in this iteration: newcomers wait for the next one

    async def wait(self) -> None:
        """Return when it is this request's turn (at once when nobody was admitted this iteration)."""
        loop = asyncio.get_running_loop()
        if not self._busy:
            self._busy = True
            loop.call_soon(self._admit_next)
            return
        turn = loop.create_future()
        self._waiting.append(turn)
        await turn

    def _admit_next(self) -> None:
        # runs one iteration after the last admissions, after that iteration's poll
        admitted = 0
        while self._waiting and admitted < ADMITTED_PER_ITERATION:
            turn = self._waiting.popleft()
            if not turn.done():  # a disconnected client's waiter is cancelled: skip it
                turn.set_result(None)
                admitted += 1
        if admitted:
            asyncio.get_running_loop().call_soon(self._admit_next)
        else:
            self._busy = False


@dataclass
class FrontState:
    """Mutable server state: journal, cache, scenario, requests in flight."""

    config: MockConfig
    engine: Engine
    validator: RequestValidator
    journal: Journal
    cache: ResultCache
    scenario: Scenario | None = None
    in_flight: int = 0
    turns: Turns = field(default_factory=Turns)

    def set_scenario(self, data: dict[str, Any] | None) -> None:
        """Install (or with None / ``{}`` clear) a fault scenario; raises FaultSpecError."""
        self.scenario = Scenario(data, self.config.seed) if data else None

    def reset(self) -> None:
        """Forget requests, cached results, validation results and the scenario (the engine keeps its
        state)."""
        self.journal.clear()
        self.cache.clear()
        self.validator.clear()
        self.scenario = None


__all__ = ["ADMITTED_PER_ITERATION", "FrontState", "Turns"]
