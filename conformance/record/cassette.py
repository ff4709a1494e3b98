"""Recording: a run's exchanges written to a cassette as they happen (a listener on the event stream).

Secrets are scrubbed from request and response headers and bodies before anything is written
(:mod:`asr_conformance.conformance.record.scrub`). The format is
:mod:`asr_conformance.conformance.targets.cassette_format`: ``NAME.yaml`` and its bodies, stored once and
compressed, in ``NAME.bodies``. Record modes (:data:`RECORD_MODES`, as VCR.py's) are decided by
:func:`open_recording`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.generation.caseio import case_from_finished, case_to_json
from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Event,
    RunFinished,
    RunStarted,
    event_to_json,
)
from asr_conformance.conformance.record.scrub import Scrubber
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.conformance.targets.body_store import BodyWriter
from asr_conformance.conformance.targets.cassette_format import (
    META_FORMAT,
    VCR_FORMAT_VERSION,
    CassetteError,
    bodies_path,
    cassette_path,
    compact_case,
    dumper,
    group_results,
    interaction,
    yaml_module,
)
from asr_conformance.conformance.targets.replay import CassetteTarget, EpisodesTarget, seed_conflict

#: a placeholder line :meth:`CassetteRecorder._write_interactions` puts in place of a headers mapping
_TOKEN_LINE = re.compile(r"^( *)headers: \[(zzheaders[0-9a-f]{16}x\d+zz)\]\n", re.MULTILINE)


class HeaderAliases:
    """Header values written once: a long value seen before gets a YAML anchor (``&h1``) where it comes
    again, and is an alias (``*h1``) from then on. Every YAML loader (VCR.py's too) expands aliases, so
    the cassette loads as if each value were written out; the first occurrence stays plain, so a value
    seen once carries no anchor."""

    #: values whose text is shorter gain nothing from an alias
    MIN_TEXT = 12

    def __init__(self) -> None:
        self.anchors: dict[tuple[str, ...], str | None] = {}
        self.count = 0

    def lines(self, headers: dict[str, list[str]], indent: str) -> str:
        """The block-style lines of ``headers`` under a ``headers:`` key indented by ``indent``."""
        out = []
        for name, values in headers.items():
            text = _flow(values)
            key = tuple(values)
            if len(text) >= self.MIN_TEXT:
                if key not in self.anchors:
                    self.anchors[key] = None
                elif (anchor := self.anchors[key]) is None:
                    self.count += 1
                    self.anchors[key] = anchor = f"h{self.count}"
                    text = f"&{anchor} {text}"
                else:
                    text = f"*{anchor}"
            out.append(f"{indent}  {_flow(name)}: {text}\n")
        return "".join(out)


def _flow(value: Any) -> str:
    """``value`` as YAML on one line (a header name: the key as a block mapping writes it)."""
    text = yaml_module().dump(
        value, Dumper=dumper(), default_flow_style=True, width=1 << 30, allow_unicode=True
    )
    return text.split("\n", 1)[0]


def _result_json(result: CheckResult, case_id: str) -> Any:
    """A verdict as written: ``[check_id, outcome, severity]`` when that says it all, else the full form."""
    if not result.failures and not result.message and result.case_id == case_id:
        return [result.check_id, str(result.outcome), str(result.severity)]
    return result.to_json()


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
        self.bodies = BodyWriter(bodies_path(self.path))
        self.aliases = HeaderAliases()
        self._nonce = os.urandom(8).hex()
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")
        header = {
            "asr_conformance": {
                "format": META_FORMAT,
                "bodies": self.bodies.path.name,
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
        # the canary's hit counter is a live object of this run, not data (and cannot be copied)
        data = {f.name: getattr(info, f.name) for f in dataclasses.fields(info) if f.name != "canary_hits"}
        data["name"] = self._clean(info.name)
        data["model_url"] = self._clean(info.model_url)
        return data

    def _write(self, data: dict[str, Any] | list[Any]) -> None:
        """Append top-level keys (or interaction items) in block style; innermost lists and mappings (a
        header, a result, a recipe) in flow style, one line each."""
        assert self._file is not None, "recorder already closed"
        parts = [{k: v} for k, v in data.items()] if isinstance(data, dict) else [data]
        for part in parts:
            key, value = next(iter(part.items())) if isinstance(part, dict) else (None, None)
            if key is not None and not isinstance(value, dict | list):
                self._file.write(yaml_module().dump(part, Dumper=dumper(), default_flow_style=False))
                continue
            text = yaml_module().dump(
                part, Dumper=dumper(), sort_keys=False, allow_unicode=True, width=120, default_flow_style=None
            )
            self._file.write(text)

    def _write_interactions(self, items: list[dict[str, Any]]) -> None:
        """Append interactions, their headers written by :class:`HeaderAliases` (in place of a token)."""
        headers: dict[str, dict[str, list[str]]] = {}
        for item in items:
            for side in ("request", "response"):
                if item[side].get("headers"):
                    token = f"zzheaders{self._nonce}x{len(headers)}zz"  # no text of the run holds it
                    headers[token] = item[side]["headers"]
                    # a list, not a string: the mapping around it stays in block style
                    item[side] = {**item[side], "headers": [token]}
        text = yaml_module().dump(
            items, Dumper=dumper(), sort_keys=False, allow_unicode=True, width=120, default_flow_style=None
        )
        assert self._file is not None, "recorder already closed"
        self._file.write(
            _TOKEN_LINE.sub(
                lambda m: m.group(1) + "headers:\n" + self.aliases.lines(headers[m.group(2)], m.group(1)),
                text,
            )
        )

    def handle(self, event: Event) -> None:
        """Record the exchanges of a finished case; other events need nothing (the header was written)."""
        if isinstance(event, RunFinished):
            self._footer = {"cases": event.cases, "outcomes": event.outcomes, "exit_code": event.exit_code}
            return
        if not isinstance(event, CaseFinished) or not event.exchanges:
            return
        case = case_from_finished(event)
        # the seed, suite version and spec view are the run header's: not repeated per interaction
        meta = {
            "case_id": event.case_id,
            "phase": event.phase,
            "case_kind": event.case_kind,
            "description": event.description,
            "mutation": event.mutation,
        }
        items = []
        for index, exchange in enumerate(event.exchanges):
            clean = self.scrubber.exchange(exchange) if self.scrubber else exchange
            extra: dict[str, Any] = {"exchange_index": index} if index else {}
            if index == 0:
                extra["case_body"] = self._case_body(case, meta)
                extra["results"] = group_results([_result_json(r, event.case_id) for r in event.results])
                extra["repro_seed"] = event.repro.seed if event.repro else None
            items.append(interaction(clean, self.base_url, {**meta, **extra}, self.bodies, case.audio))
        if self.scrubber:
            items = self._scrub_tree(items)
        self.bodies.flush()  # the bodies before the YAML that names them
        self._write_interactions(items)
        assert self._file is not None
        self._file.flush()
        self.interactions += len(items)

    def _case_body(self, case: CaseSpec, meta: dict[str, Any]) -> str:
        """The case as JSON, stored with the bodies (replay needs it, a reader has the description)."""
        data = compact_case(case_to_json(case), meta)
        if self.scrubber:
            data = self._scrub_tree(data)
        return self.bodies.put(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())

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
        self.bodies.close()

    def size(self) -> int:
        """Bytes on disk: the YAML and its bodies."""
        return self.path.stat().st_size + self.bodies.path.stat().st_size


#: ``--record-mode``, as VCR.py's: ``all`` sends everything and rewrites the cassette; ``once`` replays the
#: cassette when it exists, else records it; ``new_episodes`` answers what the cassette recorded from it,
#: sends the rest and rewrites it with both; ``none`` only replays (no cassette: an error).
RECORD_MODES = ("all", "once", "new_episodes", "none")


@dataclass(frozen=True)
class Recording:
    """What ``--record DIR --record-mode MODE`` does for one target."""

    path: Path
    mode: str
    exists: bool

    @property
    def replays(self) -> bool:
        """The run replays the cassette: nothing is sent, nothing is written."""
        return self.exists and self.mode in ("once", "none")

    def describe(self) -> str:
        if self.replays:
            return f"replaying {self.path} (record mode {self.mode}: it exists)"
        if self.exists and self.mode == "new_episodes":
            return f"recording to {self.path} (record mode new_episodes: recorded answers are reused)"
        return f"recording to {self.path}"


def recording_for(directory: Path, mode: str, target_name: str, secrets: Sequence[str] = ()) -> Recording:
    """Where the cassette of ``target_name`` is in ``directory``, and whether ``mode`` replays it."""
    if mode not in RECORD_MODES:
        raise ValueError(f"record mode {mode!r} is not one of {', '.join(RECORD_MODES)}")
    name = Scrubber.of(secrets).url(target_name) if secrets else target_name
    path = cassette_path(Path(directory), name)
    exists = path.is_file()
    if mode == "none" and not exists:
        raise CassetteError(f"no cassette at {path} (record mode none never records)")
    return Recording(path, mode, exists)


async def apply_record_mode(
    target: Any, directory: Path | None, mode: str, secrets: Sequence[str] = (), *, seed: int | None = None
) -> tuple[Any, Recording | None, list[str]]:
    """The target a run uses, the recording (``None`` without ``--record``) and what to tell the user:
    where the cassette goes, and a replay's seed conflict. The target is closed on an error."""
    notes: list[str] = []
    recording = None
    if directory is not None:
        try:
            recording = recording_for(directory, mode, target.info.name, secrets)
        except ValueError:
            await target.close()
            raise
        notes.append(recording.describe())
        target = await open_recording(target, recording)
    warning = seed_conflict(target.cassette, seed) if isinstance(target, CassetteTarget) else None
    if warning:
        notes.append(warning)
    return target, recording, notes


async def open_recording(target: Any, recording: Recording) -> Any:
    """The target a run uses under ``recording``: the live one, the cassette, or both (new_episodes)."""
    if recording.replays:
        await target.close()
        return CassetteTarget(recording.path)
    if recording.exists and recording.mode == "new_episodes":
        return EpisodesTarget(CassetteTarget(recording.path), target)
    return target
