"""The front's mutable state, shared by the model route and the controls, reachable from tests and
``MockServer`` through the app (:func:`asr_conformance.mock_server.front.front_state`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import Engine
from asr_conformance.mock_server.faults import Scenario
from asr_conformance.mock_server.journal import Journal, ResultCache
from asr_conformance.mock_server.validation import RequestValidator


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


__all__ = ["FrontState"]
