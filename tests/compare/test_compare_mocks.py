"""Compare two differently configured mocks over HTTP: the report shows exactly where they differ."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from asr_conformance.conformance.compare.report import write
from asr_conformance.conformance.compare.result import MOCK_WER_NOTE
from asr_conformance.conformance.compare.run import run_compare
from asr_conformance.conformance.engine.config import RunConfig
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer

VIOLATIONS = ("error-key-missing", "chunks-unasked", "reject-mp3")


@pytest.fixture(scope="module")
def mocks():
    with MockServer() as faithful, MockServer(MockConfig(violate=VIOLATIONS)) as broken:
        yield faithful.model_url(), broken.model_url()


def quick(seed: int = 5) -> RunConfig:
    return RunConfig(profile="quick", seed=seed, max_examples=10, shrink=False, workers=8)


async def test_disagreements_are_the_switched_on_violations(mocks, tmp_path):
    faithful, broken = mocks
    result = await run_compare([faithful, broken], quick(), synthetic=[faithful, broken])
    assert result.cases > 100
    a, b = result.labels
    pair = result.pairs[(a, b)]
    assert 0 < pair.agreement < 1
    seen = {
        (d.dimension, tuple(d.values[x] for x in (a, b)), "mp3" in d.description) for d in result.differences
    }
    assert seen == {
        # error-key-missing: every JSON error says `message`, not `error` (and fails the error schema)
        ("error_shape", ("error: string", "no error key"), False),
        ("schema", ("valid", "invalid"), False),
        # chunks-unasked: chunks appear where nobody asked for them
        ("chunks", ("absent", "present"), False),
        # reject-mp3: mp3 refused (4xx, with the broken error shape) where the faithful mock transcribes it
        ("status", ("2xx", "4xx"), True),
        ("error_shape", ("—", "no error key"), True),
        ("chunks", ("absent", "—"), True),
        ("schema", ("valid", "invalid"), True),
    }
    assert result.targets[a].conformance == 1.0
    assert result.targets[b].conformance < 0.95
    failing = {cid for cid, counts in result.targets[b].by_check.items() if counts.get("fail")}
    assert {"error_body_shape", "chunks_absent_unless_requested", "audio_formats_accepted"} <= failing
    assert pair.wers == [] and pair.wer_note == MOCK_WER_NOTE.format(who="both sides' transcripts are")

    files = write(result, tmp_path)
    md = files["markdown"].read_text()
    assert "## Targets × checks" in md and "## Targets × targets" in md and "no error key" in md
    assert "pairs with a mock are not compared on WER" in md
    assert "<table>" in files["html"].read_text()
    assert json.loads(files[f"badge:{a}"].read_text()) == {
        "schemaVersion": 1,
        "label": "ASR API conformance",
        "message": "100% conformant",
        "color": "brightgreen",
    }
    badge_b = json.loads(files[f"badge:{b}"].read_text())
    assert badge_b["message"].endswith("% conformant") and badge_b["message"] != "100% conformant"


async def test_identical_targets_agree_everywhere(mocks):
    faithful, _ = mocks
    result = await run_compare([faithful, "mock"], quick(seed=9), synthetic=[faithful])
    assert result.differences == []
    (pair,) = result.pairs.values()
    assert pair.agreement == 1.0 and pair.cases == result.cases


def test_cli_compare_writes_reports_and_exit_codes(mocks, tmp_path):
    faithful, broken = mocks
    cli = [sys.executable, "-m", "asr_conformance", "compare"]
    args = ["--synthetic", faithful, "--synthetic", broken, "--seed", "5", "--max-examples", "5"]
    done = subprocess.run(
        [*cli, "--target", faithful, "--target", broken, *args, "--report-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "of cases agree" in done.stdout
    # the known-speech corpus went to both mocks too: synthetic words, so not judged (never a failure)
    assert done.stdout.count("not judged (the target does not transcribe speech (WER 1.00") == 2
    assert {p.name for p in tmp_path.iterdir()} == {"compare.md", "compare.html", "compare.json", "badges"}
    assert len(list((tmp_path / "badges").iterdir())) == 2

    one = subprocess.run([*cli, "--target", faithful], capture_output=True, text=True, timeout=60)
    assert one.returncode == 2 and "at least two" in one.stderr
    dead = subprocess.run(
        [
            *cli,
            "--target",
            "http://127.0.0.1:9/models/x",
            "--target",
            faithful,
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dead.returncode == 2 and "unreachable" in dead.stderr
