"""Faults for client tests: per request (``x-mock-fault``, Prism's ``Prefer: code=N``) or per server.

A fault spec is a comma-separated list of ``status=N`` (400-599; 429, 503 and 500 get the real bodies),
``reset`` (the connection is dropped without a response), ``delay=S`` (seconds, before answering
normally), ``truncate`` (the body is cut half way, Content-Length promising all of it) and ``loading``
(the model answers as if still loading for ``fault_loading_seconds``). ``ok`` means no fault.

A scenario (``POST /__mock/scenario``, ``MockServer.set_scenario``) applies faults to the following
requests::

    {"seed": 7,                                    # optional; default: the server seed
     "sequence": ["status=503", "ok", "reset"],    # one per request, in order
     "loop": false,                                # repeat the sequence forever
     "random": [{"fault": "status=429", "probability": 0.2}]}   # after the sequence, drawn per request

A request's own fault header wins over the scenario.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

FAULT_HEADER = "x-mock-fault"
#: headers that steer the mock and never enter the journal
CONTROL_HEADERS = frozenset({FAULT_HEADER, "prefer"})
MAX_DELAY_S = 300.0


class FaultSpecError(ValueError):
    """A fault spec or scenario that cannot be understood."""


@dataclass(frozen=True)
class Fault:
    status: int | None = None
    reset: bool = False
    delay: float = 0.0
    truncate: bool = False
    loading: bool = False

    @property
    def none(self) -> bool:
        return self == NO_FAULT


NO_FAULT = Fault()


def parse_fault(spec: str) -> Fault:
    """Parse ``status=429, delay=1.5`` and friends; raises :class:`FaultSpecError`."""
    values: dict[str, Any] = {}
    for raw in spec.replace(";", ",").split(","):
        item = raw.strip().lower()
        if not item or item == "ok":
            continue
        name, _, arg = item.partition("=")
        name, arg = name.strip(), arg.strip()
        if name in ("status", "code"):
            try:
                status = int(arg)
            except ValueError:
                raise FaultSpecError(f"status needs a number, got {arg!r}") from None
            if not 400 <= status <= 599:
                raise FaultSpecError(f"status must be 400-599, got {status}")
            values["status"] = status
        elif name == "delay":
            try:
                delay = float(arg)
            except ValueError:
                raise FaultSpecError(f"delay needs seconds, got {arg!r}") from None
            if not 0 <= delay <= MAX_DELAY_S:
                raise FaultSpecError(f"delay must be 0-{MAX_DELAY_S:g} s, got {delay}")
            values["delay"] = delay
        elif name in ("reset", "truncate", "loading") and not arg:
            values[name] = True
        else:
            raise FaultSpecError(f"unknown fault {item!r} (status=N, reset, delay=S, truncate, loading, ok)")
    return Fault(**values)


def parse_prefer(value: str) -> Fault:
    """Prism's ``Prefer: code=429`` (other preferences are ignored)."""
    for part in value.replace(";", ",").split(","):
        name, _, arg = part.strip().partition("=")
        if name.strip().lower() == "code":
            return parse_fault(f"status={arg.strip()}")
    return NO_FAULT


class Scenario:
    """Server-wide faults: a sequence, then seeded random draws."""

    def __init__(self, data: dict[str, Any], default_seed: int) -> None:
        if not isinstance(data, dict):
            raise FaultSpecError("a scenario is a JSON object")
        unknown = set(data) - {"seed", "sequence", "loop", "random"}
        if unknown:
            raise FaultSpecError(f"unknown scenario keys: {', '.join(sorted(unknown))}")
        sequence = data.get("sequence", [])
        if not isinstance(sequence, list) or not all(isinstance(s, str) for s in sequence):
            raise FaultSpecError("sequence must be a list of fault specs")
        self.sequence = [parse_fault(s) for s in sequence]
        self.loop = bool(data.get("loop", False))
        self.random: list[tuple[Fault, float]] = []
        for entry in data.get("random", []):
            if not isinstance(entry, dict) or not isinstance(entry.get("fault"), str):
                raise FaultSpecError('random entries look like {"fault": "status=429", "probability": 0.2}')
            probability = entry.get("probability", 0)
            if not isinstance(probability, int | float) or not 0 <= probability <= 1:
                raise FaultSpecError("probability must be between 0 and 1")
            self.random.append((parse_fault(entry["fault"]), float(probability)))
        if sum(p for _, p in self.random) > 1 + 1e-9:
            raise FaultSpecError("random probabilities add up to more than 1")
        seed = data.get("seed", default_seed)
        if not isinstance(seed, int):
            raise FaultSpecError("seed must be an integer")
        self.rng = random.Random(seed)
        self.data = data
        self._next = 0

    def next_fault(self) -> Fault:
        if self.sequence and (self.loop or self._next < len(self.sequence)):
            fault = self.sequence[self._next % len(self.sequence)]
            self._next += 1
            return fault
        if not self.random:
            return NO_FAULT
        draw = self.rng.random()
        for fault, probability in self.random:
            if draw < probability:
                return fault
            draw -= probability
        return NO_FAULT


__all__ = [
    "CONTROL_HEADERS",
    "FAULT_HEADER",
    "NO_FAULT",
    "Fault",
    "FaultSpecError",
    "Scenario",
    "parse_fault",
    "parse_prefer",
]
