"""Cassettes: a run's exchanges recorded in VCR.py's format, and replayed as a target.

The file is a VCR.py cassette, format version 1, YAML serializer, so VCR.py itself can load it and play it
to any HTTP client. Bodies are always written as bytes, which YAML stores as ``!!binary`` base64: the exact
bytes come back, whatever the codec or encoding. Our additions sit where VCR.py ignores them:

* a top-level ``metadata.asr_conformance`` block: the run header (suite version, spec view, seed, target,
  profile) and how generation ran (seeded, no hypothesis example database);
* an ``asr_conformance`` block on each interaction: case id, exchange index, the case itself (so replay
  needs no regeneration), the check ids that judged it, seed, suite version, spec view, and on the case's
  first interaction the verdicts recorded at the time.

Secrets are scrubbed from request and response headers and bodies before anything is written
(:mod:`asr_conformance.conformance.scrub`). Replay is driven by the cassette: :func:`load` gives the recorded
cases with
their exchanges, :func:`replay_run` re-runs the current checks on them as a run's event stream, and
:class:`CassetteTarget` answers any request whose method, path and body sha256 were recorded.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from asr_conformance.conformance.cases import AudioRecipe, CaseSpec
from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Event,
    Exchange,
    Failure,
    Outcome,
    Request,
    Response,
    RunFinished,
    RunStarted,
    Severity,
    event_from_json,
    event_to_json,
)
from asr_conformance.conformance.scrub import Scrubber
from asr_conformance.conformance.target import TargetInfo

if TYPE_CHECKING:
    from asr_conformance.conformance.runner import RunConfig

#: VCR.py's cassette format version (``vcr.serialize.CASSETTE_FORMAT_VERSION``).
VCR_FORMAT_VERSION = 1
#: Version of our own metadata blocks inside the cassette.
META_FORMAT = "asr-conformance-cassette/1"
SUFFIX = ".yaml"
#: ``transport_error`` prefix of an exchange :class:`CassetteTarget` could not answer.
MISS_PREFIX = "cassette miss"
#: Status code stored for a transport error (VCR.py needs a response); the metadata keeps the truth.
_TRANSPORT_ERROR_STATUS = 599


class CassetteError(ValueError):
    """The file is not a cassette this version can read."""


def _yaml() -> Any:
    import yaml  # a run that records nothing never pays for the import

    return yaml


def _dumper() -> Any:
    yaml = _yaml()
    return getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _loader() -> Any:
    yaml = _yaml()
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ------------------------------------------------------------------------------------ case (de)serialising


def case_to_json(case: CaseSpec) -> dict[str, Any]:
    """A JSON/YAML-ready dict of a case (tuples become lists)."""
    data = dataclasses.asdict(case)
    data["headers"] = [list(h) for h in case.headers]
    return data


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Keep only the fields ``cls`` has: a cassette from another suite version may have more or fewer."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def case_from_json(data: dict[str, Any]) -> CaseSpec:
    """Inverse of :func:`case_to_json`, tolerant of fields added or dropped between suite versions."""
    fields = _known_fields(CaseSpec, data)
    audio = fields.get("audio")
    if isinstance(audio, dict):
        fields["audio"] = AudioRecipe(**_known_fields(AudioRecipe, audio))
    fields["headers"] = tuple((str(k), str(v)) for k, v in fields.get("headers") or ())
    fields.setdefault("form", "raw")
    fields.setdefault("audio", None)
    return CaseSpec(**fields)


def case_from_finished(event: CaseFinished) -> CaseSpec:
    """The case a ``CaseFinished`` event was about.

    The runner puts the case itself in ``meta["case"]``; without it (an older runner) the case is rebuilt
    from the event's own fields and the ``meta`` keys the runner documents.
    """
    recorded = event.meta.get("case")
    if isinstance(recorded, dict):
        return case_from_json(recorded)
    if isinstance(recorded, CaseSpec):
        return recorded
    meta = event.meta
    audio = meta.get("recipe") or meta.get("audio")
    first = event.exchanges[0].request if event.exchanges else None
    form = meta.get("form") or (
        "json" if first and first.header("content-type") == "application/json" else "raw"
    )
    return case_from_json(
        {
            **{k: v for k, v in meta.items() if k not in {"case", "recipe"}},
            "id": event.case_id,
            "phase": event.phase,
            "kind": event.case_kind,
            "form": form,
            "audio": audio if isinstance(audio, dict) else None,
            "mutation": event.mutation,
        }
    )


# ---------------------------------------------------------------------------------------- VCR.py shapes


def _vcr_headers(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name, []).append(value)
    return out


def _pairs(headers: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for name, values in (headers or {}).items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((str(name), str(value)))
    return tuple(pairs)


def _as_bytes(body: Any) -> bytes:
    """A VCR.py body (bytes, str, ``{"string": ...}`` or ``None``) as bytes."""
    if isinstance(body, dict):
        body = body.get("string")
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode()


def _join_url(base: str, path: str) -> str:
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/") if base else path


def _interaction(exchange: Exchange, base_url: str, meta: dict[str, Any]) -> dict[str, Any]:
    request = exchange.request
    response = exchange.response
    if response is None:
        vcr_response: dict[str, Any] = {
            "status": {"code": _TRANSPORT_ERROR_STATUS, "message": "transport error"},
            "headers": {},
            "body": {"string": b""},
        }
    else:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        vcr_response = {
            "status": {"code": response.status, "message": reason},
            "headers": _vcr_headers(response.headers),
            "body": {"string": response.body},
        }
    return {
        "request": {
            "method": request.method,
            "uri": _join_url(base_url, request.path),
            "body": request.body,
            "headers": _vcr_headers(request.headers),
        },
        "response": vcr_response,
        "asr_conformance": {
            **meta,
            "request_path": request.path,
            "body_sha256": request.body_sha256,
            "elapsed_s": response.elapsed_s if response is not None else None,
            "transport_error": exchange.transport_error,
        },
    }


def _exchange(interaction: dict[str, Any]) -> Exchange:
    req = interaction["request"]
    ours = interaction.get("asr_conformance") or {}
    request = Request(
        method=str(req["method"]).upper(),
        path=ours.get("request_path", req.get("uri", "")),
        headers=_pairs(req.get("headers")),
        body=_as_bytes(req.get("body")),
    )
    if ours.get("transport_error") is not None:
        return Exchange(request=request, response=None, transport_error=str(ours["transport_error"]))
    resp = interaction["response"]
    response = Response(
        status=int(resp["status"]["code"]),
        headers=_pairs(resp.get("headers")),
        body=_as_bytes(resp.get("body")),
        elapsed_s=float(ours.get("elapsed_s") or 0.0),
    )
    return Exchange(request=request, response=response)


def _slug(target: str) -> str:
    """A file name for a target: ``http://127.0.0.1:8000/models/x`` → ``127.0.0.1-8000-models-x``."""
    bare = re.sub(r"^[a-z]+://", "", target)
    return re.sub(r"[^A-Za-z0-9.]+", "-", bare).strip("-.") or "target"


def cassette_path(directory: Path, target: str) -> Path:
    """Where the recorder writes the cassette of ``target`` inside ``directory``."""
    return directory / f"{_slug(target)}{SUFFIX}"


# --------------------------------------------------------------------------------------------- recorder


class CassetteRecorder:
    """Writes a run's exchanges to ``DIR/<target>.yaml`` as they happen (a report writer over the events).

    Interactions are appended as each case finishes, so a long run against a paid service keeps what it
    recorded even if it is interrupted; the closing ``version`` key is written by :meth:`close`.
    ``name`` replaces the target's name in the file name (compare records two mocks side by side).
    """

    def __init__(
        self,
        directory: str | Path,
        run_started: RunStarted,
        *,
        target_info: TargetInfo | None = None,
        base_url: str | None = None,
        secrets: Sequence[str] = (),
        scrub: bool = True,
        name: str | None = None,
    ) -> None:
        self.scrubber = Scrubber.of(secrets) if scrub else None
        self.run_started = run_started
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = cassette_path(directory, self._clean(name or run_started.target))
        url = base_url if base_url is not None else (target_info.model_url if target_info else "")
        self.base_url = self._clean(url or run_started.target)
        self.interactions = 0
        self._footer: dict[str, Any] | None = None
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")
        header = {
            "asr_conformance": {
                "format": META_FORMAT,
                "run": {**event_to_json(run_started), "target": self._clean(run_started.target)},
                "base_url": self.base_url,
                "target_info": self._target_info_json(target_info),
                # the generators draw with a fixed seed and no example database: the seed alone
                # reproduces the cases (and the cassette keeps them anyway)
                "generation": {"hypothesis_database": None, "seeded": True, "seed": run_started.seed},
                "scrubbed": scrub,
            }
        }
        self._write({"metadata": header})
        self._file.write("interactions:\n")

    def _clean(self, text: str) -> str:
        return self.scrubber.url(text) if self.scrubber else text

    def _target_info_json(self, info: TargetInfo | None) -> dict[str, Any] | None:
        if info is None:
            return None
        data = dataclasses.asdict(info)
        data["name"] = self._clean(info.name)
        data["model_url"] = self._clean(info.model_url)
        return data

    def _write(self, data: Any) -> None:
        assert self._file is not None, "recorder already closed"
        self._file.write(_yaml().dump(data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=120))

    def handle(self, event: Event) -> None:
        """Record the exchanges of a finished case; other events need nothing (the header was written)."""
        if isinstance(event, RunFinished):
            self._footer = {"cases": event.cases, "outcomes": event.outcomes, "exit_code": event.exit_code}
            return
        if not isinstance(event, CaseFinished) or not event.exchanges:
            return
        case = case_from_finished(event)
        run = self.run_started
        meta = {
            "case_id": event.case_id,
            "phase": event.phase,
            "case_kind": event.case_kind,
            "description": event.description,
            "mutation": event.mutation,
            "check_ids": sorted({r.check_id for r in event.results}),
            "seed": run.seed,
            "suite_version": run.suite_version,
            "spec_view": run.spec_view,
        }
        items = []
        for index, exchange in enumerate(event.exchanges):
            clean = self.scrubber.exchange(exchange) if self.scrubber else exchange
            extra: dict[str, Any] = {"exchange_index": index}
            if index == 0:
                extra["case"] = case_to_json(case)
                extra["results"] = [r.to_json() for r in event.results]
                extra["repro_seed"] = event.repro.seed if event.repro else None
            items.append(_interaction(clean, self.base_url, {**meta, **extra}))
        if self.scrubber:
            items = self._scrub_tree(items)
        self._write(items)
        self.interactions += len(items)

    def _scrub_tree(self, value: Any) -> Any:
        """Scrub every string of the metadata too (a case description, a mutation, an error message)."""
        assert self.scrubber is not None
        if isinstance(value, str):
            return self.scrubber.text(value)
        if isinstance(value, dict):
            return {k: self._scrub_tree(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub_tree(v) for v in value]
        return value

    def close(self) -> None:
        """Finish the file (VCR.py's ``version`` key); safe to call twice."""
        if self._file is None:
            return
        if self.interactions == 0:
            # "interactions:" with no items would load as null; VCR.py wants a list.
            self._file.write("  []\n")
        if self._footer is not None:
            self._write({"run_finished": self._footer})
        self._write({"version": VCR_FORMAT_VERSION})
        self._file.close()
        self._file = None


# --------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class RecordedCase:
    """One case as recorded: the case, its exchanges in order, and the verdicts given at the time."""

    case: CaseSpec
    exchanges: tuple[Exchange, ...]
    recorded: CaseFinished


@dataclass(frozen=True)
class Cassette:
    """A loaded cassette."""

    path: Path
    run: RunStarted
    base_url: str
    target_info: TargetInfo
    cases: tuple[RecordedCase, ...]

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        return tuple(e for c in self.cases for e in c.exchanges)


def resolve(path: str | Path) -> Path:
    """A cassette file, or the only cassette in a directory."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob(f"*{SUFFIX}"))
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise CassetteError(f"{path} holds {len(found)} cassettes ({names}): name one file")
        return found[0]
    if not path.is_file():
        raise CassetteError(f"no cassette at {path}")
    return path


def _run_started(run: dict[str, Any]) -> RunStarted:
    known = _known_fields(RunStarted, {**run, "kind": "run_started"})
    return event_from_json(known)  # type: ignore[return-value]


def load(path: str | Path) -> Cassette:
    """Read a cassette written by :class:`CassetteRecorder` (this or an older suite version)."""
    file = resolve(path)
    try:
        data = _yaml().load(file.read_text(encoding="utf-8"), Loader=_loader())
    except _yaml().YAMLError as exc:
        raise CassetteError(f"{file} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != VCR_FORMAT_VERSION:
        raise CassetteError(f"{file} is not a VCR.py version {VCR_FORMAT_VERSION} cassette")
    ours = (data.get("metadata") or {}).get("asr_conformance")
    if not isinstance(ours, dict) or not str(ours.get("format", "")).startswith("asr-conformance-cassette/"):
        raise CassetteError(f"{file} was not recorded by asr-conformance (no metadata.asr_conformance block)")
    run = _run_started(ours["run"])
    info_data = ours.get("target_info") or {}
    recorded_info = TargetInfo(**_known_fields(TargetInfo, info_data)) if info_data else None
    target_info = TargetInfo(
        name=f"cassette:{file}",
        model_url="",
        exposes_mock_controls=False,  # nothing can be injected into a recording
        has_token=recorded_info.has_token if recorded_info else False,
        max_body_bytes=recorded_info.max_body_bytes if recorded_info else None,
        is_mock=recorded_info.is_mock if recorded_info else run.target.startswith("mock"),
        is_replay=True,
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for interaction in data.get("interactions") or []:
        case_id = (interaction.get("asr_conformance") or {}).get("case_id")
        if case_id is None:
            raise CassetteError(f"{file}: an interaction has no asr_conformance.case_id")
        grouped.setdefault(case_id, []).append(interaction)
    cases = []
    for case_id, items in grouped.items():
        items.sort(key=lambda i: i["asr_conformance"].get("exchange_index", 0))
        first = items[0]["asr_conformance"]
        exchanges = tuple(_exchange(i) for i in items)
        results = tuple(_result(r) for r in first.get("results") or [])
        case = case_from_json(first["case"]) if isinstance(first.get("case"), dict) else None
        recorded = CaseFinished(
            case_id=case_id,
            phase=first.get("phase", ""),
            case_kind=first.get("case_kind", ""),
            description=first.get("description", ""),
            mutation=first.get("mutation"),
            exchanges=exchanges,
            results=results,
            meta={"case": first.get("case"), "suite_version": first.get("suite_version")},
        )
        cases.append(RecordedCase(case or case_from_finished(recorded), exchanges, recorded))
    return Cassette(file, run, str(ours.get("base_url", "")), target_info, tuple(cases))


def _result(data: dict[str, Any]) -> CheckResult:
    return CheckResult(
        check_id=data["check_id"],
        case_id=data["case_id"],
        outcome=Outcome(data["outcome"]),
        severity=Severity(data["severity"]),
        failures=tuple(
            Failure(**{**_known_fields(Failure, f), "severity": Severity(f["severity"])})
            for f in data.get("failures") or []
        ),
        message=data.get("message", ""),
    )


# ---------------------------------------------------------------------------------------------- replay


class CassetteTarget:
    """A recording as a target: answers a request whose method, path and body sha256 were recorded.

    Identical requests recorded several times (a determinism or cache scenario) are answered in recorded
    order, the last answer repeating. A request that was never recorded gets an exchange with no response
    and a ``transport_error`` starting with :data:`MISS_PREFIX`: the recording cannot say how the target
    would have answered, so this is never a pass.
    """

    def __init__(self, path: str | Path) -> None:
        self.cassette = load(path)
        self.info = self.cassette.target_info
        self._answers: dict[tuple[str, str, str], list[Exchange]] = {}
        for exchange in self.cassette.exchanges:
            self._answers.setdefault(self.key(exchange.request), []).append(exchange)
        self._queues = {k: deque(v) for k, v in self._answers.items()}

    @staticmethod
    def key(request: Request) -> tuple[str, str, str]:
        return (request.method.upper(), request.path.strip("/"), request.body_sha256)

    @property
    def cases(self) -> tuple[RecordedCase, ...]:
        """The recorded cases: what a replay runs, instead of generating new ones."""
        return self.cassette.cases

    async def send(self, request: Request, *, timeout: float | None = None) -> Exchange:
        key = self.key(request)
        queue = self._queues.get(key)
        if queue is None:
            return Exchange(
                request=request,
                response=None,
                transport_error=f"{MISS_PREFIX}: {key[0]} /{key[1]} sha256 {key[2][:12]}… was not recorded",
            )
        recorded = queue.popleft() if len(queue) > 1 else queue[0]
        return Exchange(request=request, response=recorded.response, transport_error=recorded.transport_error)

    async def close(self) -> None:
        self._queues = {k: deque(v) for k, v in self._answers.items()}


async def replay_run(
    config: RunConfig, on_event: Callable[[Event], None], *, target: CassetteTarget | None = None
) -> RunFinished:
    """A run driven by a cassette: every recorded case, judged by the current checks on its recorded
    exchanges, as the same event stream as a live run (RunStarted → CaseFinished… → RunFinished).

    Nothing is generated and nothing is sent, so a new suite version judges behaviour captured once (from
    the live service, say) with no token and no network. The recorded seed and profile are reported;
    ``config`` gives the spec view, the check selection and ``fail_on``. Each event's
    ``meta["recorded"]`` keeps the suite version and the verdicts of the recording run.
    """
    from asr_conformance.conformance import runner  # the runner imports the generators: keep load() light

    cassette = target.cassette if target is not None else load(str(config.target).removeprefix("cassette:"))
    info = cassette.target_info
    checks = runner.selected_checks(config)
    config = dataclasses.replace(config, seed=cassette.run.seed)
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    on_event(
        RunStarted(
            run_id=run_id,
            suite_version=runner.suite_version(),
            spec_view=config.spec_view,
            upstream_commit=cassette.run.upstream_commit,
            target=info.name,
            profile=cassette.run.profile,
            seed=cassette.run.seed,
            started_at=_now(),
            checks=tuple(c.id for c in checks),
        )
    )
    # Repro commands of a replay should point at the server that was recorded, not at the file.
    judged_as = dataclasses.replace(info, model_url=cassette.base_url)
    results: list[CheckResult] = []
    for recorded in cassette.cases:
        finished = runner.judge(
            recorded.case,
            recorded.exchanges,
            judged_as,
            config,
            checks=checks,
            meta={
                "recorded": {
                    "suite_version": cassette.run.suite_version,
                    "spec_view": cassette.run.spec_view,
                    "target": cassette.run.target,
                    "results": [r.to_json() for r in recorded.recorded.results],
                }
            },
        )
        results.extend(finished.results)
        on_event(finished)
    outcomes = {str(o): sum(r.outcome is o for r in results) for o in Outcome}
    finished_run = RunFinished(
        run_id=run_id,
        finished_at=_now(),
        duration_s=round(time.perf_counter() - started, 3),
        cases=len(cassette.cases),
        outcomes=outcomes,
        failed_checks=tuple(
            sorted({r.check_id for r in results if r.outcome in (Outcome.FAIL, Outcome.ERROR)})
        ),
        exit_code=runner.exit_code(results, config.fail_on),
    )
    on_event(finished_run)
    return finished_run


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = [
    "MISS_PREFIX",
    "VCR_FORMAT_VERSION",
    "Cassette",
    "CassetteError",
    "CassetteRecorder",
    "CassetteTarget",
    "RecordedCase",
    "case_from_finished",
    "case_from_json",
    "case_to_json",
    "cassette_path",
    "load",
    "replay_run",
    "resolve",
]
