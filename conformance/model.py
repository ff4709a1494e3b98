"""The suite's data model: what is sent, what came back, what a check concluded, and the event stream.

Everything here is plain data (frozen dataclasses, JSON-serialisable through ``to_json``) so that the
runner, the report writers, the cassette recorder, compare and replay all speak the same language::

    Case ──render──▶ Request ──transport──▶ Exchange(request, response | transport error)
                                                  │
                                         checks ──┴──▶ CheckResult(outcome, failures)

    Event stream: RunStarted, CaseFinished (one per case, with its check results), RunFinished.

Secrets never enter these objects: the transport adds authentication after a ``Request`` is built and
records the request *as built*, so cases, reports, cassettes and the hypothesis database stay clean.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal


class Outcome(enum.StrEnum):
    """How one check ended on one case (Bowtie/Schemathesis vocabulary)."""

    PASS = "pass"
    FAIL = "fail"  # the target deviates from the API
    ERROR = "error"  # the target broke: reset, timeout, invalid JSON where JSON was due
    SKIP = "skip"  # not exercised: the target cannot be made to show this behaviour
    PRECONDITION_FAILED = "precondition_failed"  # 503 / 429: not the target's fault, not a verdict


class Severity(enum.StrEnum):
    """How much a failed check weighs; follows from the evidence tag of the constraint it tests."""

    ERROR = "error"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        return {Severity.ERROR: 2, Severity.WARNING: 1}[self]


RequestForm = Literal["raw", "json"]
CaseKind = Literal["positive", "negative", "implementation_defined", "malformed_audio", "protocol"]


@dataclass(frozen=True)
class Request:
    """An HTTP request exactly as the suite built it (no secrets: auth is added by the transport)."""

    method: str
    path: str  # relative to the target's base URL, "" for the model URL itself
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": [list(h) for h in self.headers],
            "body_b64": base64.b64encode(self.body).decode(),
            "body_sha256": self.body_sha256,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Request:
        return cls(
            method=data["method"],
            path=data["path"],
            headers=tuple((k, v) for k, v in data["headers"]),
            body=base64.b64decode(data["body_b64"]),
        )


@dataclass(frozen=True)
class Response:
    """An HTTP response as received."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed_s: float

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": [list(h) for h in self.headers],
            "body_b64": base64.b64encode(self.body).decode(),
            "elapsed_s": self.elapsed_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Response:
        return cls(
            status=data["status"],
            headers=tuple((k, v) for k, v in data["headers"]),
            body=base64.b64decode(data["body_b64"]),
            elapsed_s=data["elapsed_s"],
        )


@dataclass(frozen=True)
class Exchange:
    """One request and what came back: a response, or a transport error (reset, timeout, ...)."""

    request: Request
    response: Response | None
    transport_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.request.to_json(),
            "response": self.response.to_json() if self.response else None,
            "transport_error": self.transport_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Exchange:
        return cls(
            request=Request.from_json(data["request"]),
            response=Response.from_json(data["response"]) if data["response"] else None,
            transport_error=data.get("transport_error"),
        )


@dataclass(frozen=True)
class Failure:
    """One observed deviation. Shrinking keeps to the same ``dedup_key`` so it stays on the same bug."""

    check_id: str
    title: str
    message: str
    severity: Severity
    case_id: str
    evidence: str = ""  # the evidence tag of the constraint ("documented", "observed", ...)
    spec_ref: str = ""  # table row ("payload:parameters.return_timestamps") or erratum id ("E3")

    @property
    def dedup_key(self) -> tuple[str, str]:
        return (self.check_id, self.title)

    def __lt__(self, other: Failure) -> bool:  # most severe first, then stable by check id
        return (-self.severity.rank, self.check_id) < (-other.severity.rank, other.check_id)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "severity": str(self.severity)}


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check on one case."""

    check_id: str
    case_id: str
    outcome: Outcome
    severity: Severity
    failures: tuple[Failure, ...] = ()
    message: str = ""  # why SKIP / ERROR / PRECONDITION_FAILED

    def to_json(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "case_id": self.case_id,
            "outcome": str(self.outcome),
            "severity": str(self.severity),
            "failures": [f.to_json() for f in self.failures],
            "message": self.message,
        }


@dataclass(frozen=True)
class Repro:
    """How to reproduce a case by hand: curl (secrets masked), seed, replay id."""

    curl: str
    seed: int | None
    replay_id: str
    body_file: str = ""  # suggested file name for --data-binary @FILE


# ---------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class RunStarted:
    """Header of a run: what was tested, against what, with which suite and spec."""

    run_id: str
    suite_version: str
    spec_view: str
    upstream_commit: str
    target: str  # URL with no credentials, "mock:in-process", or "cassette:PATH"
    profile: str
    seed: int | None
    started_at: str  # ISO 8601 UTC
    checks: tuple[str, ...] = ()
    kind: Literal["run_started"] = "run_started"
    planned: int | None = None  # cases the run expects to send (for progress and ETA); None: unknown
    fail_on: str = "error"  # the lowest severity that fails the run (JUnit reports warnings by it)
    # of ``planned``, the behaviour phase's cases if the target hears (a deaf one gets fewer): they take
    # far longer than the others, so progress times them apart
    planned_behaviour: int = 0


@dataclass(frozen=True)
class CaseFinished:
    """One case: what was generated, the exchange(s) it caused, and every check's verdict on it."""

    case_id: str
    phase: str  # probe | examples | coverage | fuzz
    case_kind: str
    description: str  # human-readable, e.g. "raw flac 22050 Hz stereo 2.3 s speech"
    mutation: str | None
    exchanges: tuple[Exchange, ...]
    results: tuple[CheckResult, ...]
    repro: Repro | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # recipe, params, expected duration, ...
    kind: Literal["case_finished"] = "case_finished"


@dataclass(frozen=True)
class RunFinished:
    """Footer of a run: counts per outcome, and the exit code the CLI will return."""

    run_id: str
    finished_at: str
    duration_s: float
    cases: int
    outcomes: dict[str, int]  # outcome -> count of check results
    failed_checks: tuple[str, ...]
    exit_code: int
    kind: Literal["run_finished"] = "run_finished"
    # Defaults keep events written before these fields readable (a run that stopped early never said so).
    planned: int | None = None  # cases the run planned (probe and fixed cases, fuzz cases)
    stopped: str = ""  # "" when every planned case ran; "budget" (--max-requests spent) or "interrupted"

    @property
    def incomplete(self) -> str:
        """One sentence when the run stopped before its plan was done, else ""."""
        if not self.stopped:
            return ""
        why = {"budget": "budget spent", "interrupted": "interrupted"}.get(self.stopped, self.stopped)
        of = f" of {self.planned}" if self.planned is not None else ""
        return f"incomplete: {why} after {self.cases}{of} planned cases"


Event = RunStarted | CaseFinished | RunFinished


def event_to_json(event: Event) -> dict[str, Any]:
    """Serialise any event to a JSON-ready dict (bytes as base64, enums as strings)."""
    if isinstance(event, CaseFinished):
        return {
            "kind": event.kind,
            "case_id": event.case_id,
            "phase": event.phase,
            "case_kind": event.case_kind,
            "description": event.description,
            "mutation": event.mutation,
            "exchanges": [e.to_json() for e in event.exchanges],
            "results": [r.to_json() for r in event.results],
            "repro": asdict(event.repro) if event.repro else None,
            "meta": event.meta,
        }
    data = asdict(event)
    if isinstance(event, RunStarted):
        data["checks"] = list(event.checks)
    if isinstance(event, RunFinished):
        data["failed_checks"] = list(event.failed_checks)
    return data


def event_from_json(data: dict[str, Any]) -> Event:
    """Inverse of :func:`event_to_json` (used by replay, compare and report re-rendering)."""
    kind = data["kind"]
    if kind == "run_started":
        return RunStarted(**{**data, "checks": tuple(data.get("checks", ()))})
    if kind == "run_finished":
        return RunFinished(**{**data, "failed_checks": tuple(data["failed_checks"])})
    if kind == "case_finished":
        return CaseFinished(
            case_id=data["case_id"],
            phase=data["phase"],
            case_kind=data["case_kind"],
            description=data["description"],
            mutation=data["mutation"],
            exchanges=tuple(Exchange.from_json(e) for e in data["exchanges"]),
            results=tuple(
                CheckResult(
                    check_id=r["check_id"],
                    case_id=r["case_id"],
                    outcome=Outcome(r["outcome"]),
                    severity=Severity(r["severity"]),
                    failures=tuple(
                        Failure(**{**f, "severity": Severity(f["severity"])}) for f in r["failures"]
                    ),
                    message=r["message"],
                )
                for r in data["results"]
            ),
            repro=Repro(**data["repro"]) if data["repro"] else None,
            meta=data.get("meta", {}),
        )
    raise ValueError(f"unknown event kind {kind!r}")


__all__ = [
    "CaseFinished",
    "CaseKind",
    "CheckResult",
    "Event",
    "Exchange",
    "Failure",
    "Outcome",
    "Repro",
    "Request",
    "RequestForm",
    "Response",
    "RunFinished",
    "RunStarted",
    "Severity",
    "event_from_json",
    "event_to_json",
]
