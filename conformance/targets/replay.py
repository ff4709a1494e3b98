"""A recording as a target: the cassette loaded, its cases, and answers to the requests it recorded.

Also: :class:`EpisodesTarget` (recorded answers first, a live target for the rest: record mode
``new_episodes``), :class:`VCRPersister` (VCR.py plays our cassettes) and :func:`to_vcr` (a self-contained
copy, every body inline), which ``python -m asr_conformance.conformance.targets.replay to-vcr IN OUT`` runs.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.generation.caseio import case_from_finished, case_from_json, known_fields
from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Exchange,
    Failure,
    Outcome,
    Request,
    RunStarted,
    Severity,
    event_from_json,
)
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.conformance.targets.body_store import BodyReader, BodyStoreError
from asr_conformance.conformance.targets.cassette_format import (
    MISS_PREFIX,
    SUFFIX,
    VCR_FORMAT_VERSION,
    CassetteError,
    case_of,
    dumper,
    exchange_of,
    format_version,
    inline_bodies,
    loader,
    ungroup_results,
    yaml_module,
)


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
    known = known_fields(RunStarted, {**run, "kind": "run_started"})
    return event_from_json(known)  # type: ignore[return-value]


def read(file: Path) -> tuple[dict[str, Any], dict[str, Any], BodyReader | None]:
    """The cassette's YAML, its ``metadata.asr_conformance`` block and its bodies (format 2)."""
    try:
        data = yaml_module().load(file.read_text(encoding="utf-8"), Loader=loader())
    except yaml_module().YAMLError as exc:
        raise CassetteError(f"{file} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != VCR_FORMAT_VERSION:
        raise CassetteError(f"{file} is not a VCR.py version {VCR_FORMAT_VERSION} cassette")
    ours = (data.get("metadata") or {}).get("asr_conformance")
    if not isinstance(ours, dict) or not str(ours.get("format", "")).startswith("asr-conformance-cassette/"):
        raise CassetteError(f"{file} was not recorded by asr-conformance (no metadata.asr_conformance block)")
    format_version(ours, file)
    try:
        bodies = BodyReader(file.parent / ours["bodies"]) if ours.get("bodies") else None
    except BodyStoreError as exc:
        raise CassetteError(str(exc)) from exc
    return data, ours, bodies


def load(path: str | Path) -> Cassette:
    """Read a cassette written by :class:`CassetteRecorder` (this or an older suite version)."""
    file = resolve(path)
    data, ours, bodies = read(file)
    run = _run_started(ours["run"])
    info_data = ours.get("target_info") or {}
    recorded_info = TargetInfo(**known_fields(TargetInfo, info_data)) if info_data else None
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
        try:
            exchanges = tuple(exchange_of(i, bodies) for i in items)
        except BodyStoreError as exc:
            raise CassetteError(f"{file}: case {case_id}: {exc}") from exc
        try:
            case_json = case_of(first, bodies)
        except BodyStoreError as exc:
            raise CassetteError(f"{file}: case {case_id}: {exc}") from exc
        results = tuple(_result(r, case_id) for r in ungroup_results(first.get("results")))
        case = case_from_json(case_json) if case_json is not None else None
        recorded = CaseFinished(
            case_id=case_id,
            phase=first.get("phase", ""),
            case_kind=first.get("case_kind", ""),
            description=first.get("description", ""),
            mutation=first.get("mutation"),
            exchanges=exchanges,
            results=results,
            meta={"case": case_json, "suite_version": first.get("suite_version", run.suite_version)},
        )
        cases.append(RecordedCase(case or case_from_finished(recorded), exchanges, recorded))
    return Cassette(file, run, str(ours.get("base_url", "")), target_info, tuple(cases))


def _result(data: dict[str, Any] | list[str], case_id: str) -> CheckResult:
    """A recorded verdict: the full form, or ``[check_id, outcome, severity]`` (no failures, no message)."""
    if isinstance(data, list):
        check_id, outcome, severity = data
        return CheckResult(check_id, case_id, Outcome(outcome), Severity(severity))
    return CheckResult(
        check_id=data["check_id"],
        case_id=data["case_id"],
        outcome=Outcome(data["outcome"]),
        severity=Severity(data["severity"]),
        failures=tuple(
            Failure(**{**known_fields(Failure, f), "severity": Severity(f["severity"])})
            for f in data.get("failures") or []
        ),
        message=data.get("message", ""),
    )


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


def seed_conflict(cassette: Cassette, seed: int | None) -> str | None:
    """A warning when ``--seed`` asks for other cases than the recording holds; ``None`` otherwise."""
    if seed is None or seed == cassette.run.seed:
        return None
    return (
        f"warning: --seed {seed} ignored: {cassette.path.name} was recorded with seed {cassette.run.seed}, "
        "and a replay judges the recorded cases"
    )


class EpisodesTarget:
    """Record mode ``new_episodes``: a request the cassette recorded gets the recorded answer, any other
    goes to the live target (the recorder then writes both into the new cassette)."""

    def __init__(self, cassette: CassetteTarget, live: Any) -> None:
        self.cassette, self.live = cassette, live
        self.info = live.info
        self.replayed = 0
        #: the recorded run's seed: the same cases, so the recorded answers are reused
        self.recorded_seed = cassette.cassette.run.seed

    async def send(self, request: Request, *, timeout: float | None = None) -> Exchange:
        exchange = await self.cassette.send(request, timeout=timeout)
        if exchange.response is None and str(exchange.transport_error or "").startswith(MISS_PREFIX):
            return await self.live.send(request, timeout=timeout)
        self.replayed += 1
        return exchange

    async def close(self) -> None:
        await self.live.close()

    def __getattr__(self, name: str) -> Any:  # mock controls and the like come from the live target
        return getattr(self.live, name)


def to_vcr(source: str | Path, dest: str | Path) -> Path:
    """Write a self-contained copy of a cassette at ``dest``: every body inline (format 1), one file."""
    file = resolve(source)
    data, _, bodies = read(file)
    text = yaml_module().dump(
        inline_bodies(data, bodies), Dumper=dumper(), sort_keys=False, allow_unicode=True, width=120
    )
    out = Path(dest)
    out.write_text(text, encoding="utf-8")
    return out


class VCRPersister:
    """VCR.py plays our cassettes through this persister: ``my_vcr.register_persister(VCRPersister)``.

    Reading only: recording stays with ``asr-conformance run --record``.
    """

    @classmethod
    def load_cassette(cls, cassette_path: str | Path, serializer: Any) -> Any:
        from vcr.persisters.filesystem import CassetteNotFoundError
        from vcr.serialize import deserialize

        file = Path(cassette_path)
        if not file.is_file():
            raise CassetteNotFoundError()
        data, _, bodies = read(file)
        return deserialize(serializer.serialize(inline_bodies(data, bodies)), serializer)

    @staticmethod
    def save_cassette(cassette_path: str | Path, cassette_dict: Any, serializer: Any) -> None:
        raise NotImplementedError("asr-conformance cassettes are recorded by `asr-conformance run --record`")


def main(argv: list[str] | None = None) -> int:
    """``python -m asr_conformance.conformance.targets.replay to-vcr CASSETTE OUT``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "to-vcr":
        usage = "usage: python -m asr_conformance.conformance.targets.replay to-vcr CASSETTE OUT"
        print(usage, file=sys.stderr)
        return 2
    try:
        out = to_vcr(args[1], args[2])
    except CassetteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
