"""Record from the mock, replay from the cassette: the same verdicts, with no generation and no network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from asr_conformance.conformance.compare.run import run_compare
from asr_conformance.conformance.engine.config import RunConfig, suite_version
from asr_conformance.conformance.engine.replay import replay_run
from asr_conformance.conformance.model import CaseFinished, RunStarted
from asr_conformance.conformance.targets.replay import load
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer

FIXTURE = Path(__file__).parent / "fixtures" / "suite-0.0.9-mock.yaml"
#: Checks that judge live timing: a replay cannot, so they do not apply to recorded exchanges.
LIVE_ONLY = {"response_time_bounded"}


def verdicts(pairs) -> dict[tuple[str, str], str]:
    return {(case_id, r.check_id): str(r.outcome) for case_id, results in pairs for r in results}


async def replayed(path: Path, **config) -> list[CaseFinished]:
    events = []
    await replay_run(RunConfig(target=f"cassette:{path}", **config), events.append)
    return events


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """A cassette recorded by `asr-conformance run --record` from a mock with one violation on."""
    out = tmp_path_factory.mktemp("rec")
    cmd = [
        sys.executable, "-m", "asr_conformance", "run", "--profile", "quick", "--max-examples", "3",
        "--seed", "4", "--mock-violate", "chunks-unasked", "--fail-on", "warning",
        "--record", str(out / "cassettes"), "--report-dir", str(out / "report"),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # the violation fails the run
    (path,) = (out / "cassettes").glob("*.yaml")
    return path


async def test_replay_gives_the_recorded_verdicts(recording):
    cassette = load(recording)
    assert cassette.run.seed == 4 and cassette.run.suite_version == suite_version()
    events = await replayed(recording, fail_on="warning")
    started, *cases, finished = events
    assert isinstance(started, RunStarted) and started.target == f"cassette:{recording}"
    assert [e.case_id for e in cases] == [c.case.id for c in cassette.cases]
    recorded = verdicts((c.case.id, c.recorded.results) for c in cassette.cases)
    now = verdicts((e.case_id, e.results) for e in cases)
    assert {k for k in recorded.keys() - now.keys()} == {k for k in recorded if k[1] in LIVE_ONLY}
    assert now.keys() <= recorded.keys()
    # the URL probe's verdict rests on the live canary's hits, which a recording cannot replay (SKIP)
    canary = {k for k in now if k[1] == "inputs_not_dereferenced"}
    assert all(now[k] in ("skip", recorded[k]) for k in canary)
    rest = now.keys() - canary
    assert {k: recorded[k] for k in rest} == {k: now[k] for k in rest}
    assert sum(v == "fail" for v in now.values()) > 50  # chunks-unasked fails every success
    assert finished.exit_code == 1


async def test_cassette_from_an_older_suite_replays_under_the_current_one():
    cassette = load(FIXTURE)
    assert cassette.run.suite_version == "0.0.9" != suite_version()
    assert "hf_" not in FIXTURE.read_text()  # recorded with a token: scrubbed
    events = await replayed(FIXTURE)
    cases = [e for e in events if isinstance(e, CaseFinished)]
    assert len(cases) == len(cassette.cases) == 9
    for event in cases:
        assert event.meta["recorded"]["suite_version"] == "0.0.9"
    recorded = verdicts((c.case.id, c.recorded.results) for c in cassette.cases)
    now = verdicts((e.case_id, e.results) for e in cases)
    timestamps = next(c.case.id for c in cassette.cases if c.case.asks_timestamps)
    # Verdicts the suite deliberately changed since 0.0.9; everything else must judge as recorded.
    changed = {
        # chunks without a numeric `timestamp` no longer count as "within the audio": nothing was bounded
        (timestamps, "timestamps_within_audio"): ("pass", "skip"),
    }
    common = now.keys() & recorded.keys()
    assert len(common) > 40
    for key, (before, after) in changed.items():
        assert (recorded[key], now[key]) == (before, after)
    same = common - changed.keys()
    assert {k: now[k] for k in same} == {k: recorded[k] for k in same}
    # the recording's plural-chunk-key violation is still caught
    assert now[(timestamps, "response_schema_conformance")] == "fail"


async def test_compare_holds_a_new_server_against_the_recording():
    """The recorded requests go byte for byte to the new server; only the recorded violation differs."""
    token = "hf_NewServerToken0123456789abcdef"
    with MockServer(MockConfig(token=token, seed=7)) as server:
        result = await run_compare(
            [f"cassette:{FIXTURE}", server.model_url()],
            RunConfig(token=token, shrink=False, workers=4),
            synthetic=[server.model_url()],
        )
        sent = server.journal()
    assert result.cases == 9 and any("recording" in n for n in result.notes)
    recorded_sizes = sorted(len(e.request.body) for e in load(FIXTURE).exchanges)
    assert sorted(entry["body_bytes"] for entry in sent) == recorded_sizes
    recording, new = result.labels
    seen = {(d.case_id, d.dimension, d.values[recording], d.values[new]) for d in result.differences}
    timestamps = next(c.case.id for c in load(FIXTURE).cases if c.case.asks_timestamps)
    assert seen == {(timestamps, "schema", "invalid", "valid")}


def test_run_cli_replays_an_old_cassette(tmp_path: Path) -> None:
    """`asr-conformance run --target cassette:PATH` judges the recorded exchanges: nothing is sent."""
    from click.testing import CliRunner

    from asr_conformance.cli import main

    result = CliRunner().invoke(
        main, ["run", "--target", f"cassette:{FIXTURE}", "--report-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 1, result.output
    # The fixture was recorded from a mock that wrote the documented (plural) chunk key.
    assert "response_schema_conformance" in result.output
    assert "'timestamp' is a required property" in result.output
    events = (tmp_path / "r" / "events.jsonl").read_text().splitlines()
    assert len(events) >= 3  # header, cases, footer
