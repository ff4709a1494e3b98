"""Cassette files: VCR.py v1 format, exact bytes, metadata, scrubbing, and VCR.py itself reading them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import requests
import vcr
import vcr.serialize
import vcr.serializers.yamlserializer
import yaml
from asr_conformance.conformance.cases import AudioRecipe, CaseSpec
from asr_conformance.conformance.generation.audio import render
from asr_conformance.conformance.generation.caseio import case_to_json
from asr_conformance.conformance.model import (
    CaseFinished,
    CheckResult,
    Exchange,
    Failure,
    Outcome,
    Request,
    Response,
    RunFinished,
    RunStarted,
    Severity,
)
from asr_conformance.conformance.record.cassette import CassetteRecorder
from asr_conformance.conformance.targets.cassette_format import MISS_PREFIX, CassetteError
from asr_conformance.conformance.targets.replay import CassetteTarget, VCRPersister, load, to_vcr
from asr_conformance.mock_server.audio import encode

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "hf_" + "CanaryCanaryCanaryCanary0123456789"
BASE = "http://127.0.0.1:8999/models/openai/whisper-tiny.en"


def flac_tone() -> bytes:
    t = np.arange(16000) / 16000
    return encode((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, "flac")


def started(target: str = BASE) -> RunStarted:
    return RunStarted(
        run_id="run-1",
        suite_version="0.1.0",
        spec_view="served",
        upstream_commit="fe42e680",
        target=target,
        profile="quick",
        seed=1234,
        started_at="2026-11-26T15:00:00Z",
        checks=("not_a_server_error", "response_schema_conformance"),
    )


def finished_case(audio: bytes) -> tuple[CaseSpec, CaseFinished]:
    case = CaseSpec(
        id="ex-0001",
        phase="examples",
        kind="positive",
        form="raw",
        audio=AudioRecipe("flac", 16000, 1, "s16", 1.0, "tone", seed=3),
        headers=(("x-use-cache", "false"),),
        expected_duration_s=1.0,
    )
    request = Request("POST", "", (("Content-Type", "audio/flac"), ("x-use-cache", "false")), audio)
    ok_headers = (("Content-Type", "application/json"), ("Set-Cookie", f"t={TOKEN}"))
    ok = Response(200, ok_headers, b'{"text":"hi"}', 0.2)
    # the second exchange: a server that echoes the token in an error body
    echo = Response(401, (("Content-Type", "application/json"),), f'{{"error":"bad {TOKEN}"}}'.encode(), 0.1)
    result = CheckResult(
        "response_schema_conformance",
        case.id,
        Outcome.FAIL,
        Severity.ERROR,
        (Failure("response_schema_conformance", "t", "m", Severity.ERROR, case.id, "documented", "body"),),
    )
    event = CaseFinished(
        case_id=case.id,
        phase="examples",
        case_kind="positive",
        description="raw flac 16000 Hz mono s16 1.00 s tone",
        mutation=None,
        exchanges=(Exchange(request, ok), Exchange(request, echo), Exchange(request, None, "timeout")),
        results=(result,),
        meta={"case": case_to_json(case)},
    )
    return case, event


def record(tmp_path, *, scrub: bool = True):
    audio = flac_tone()
    case, event = finished_case(audio)
    recorder = CassetteRecorder(tmp_path, started(), secrets=[TOKEN], scrub=scrub)
    recorder.handle(started())
    recorder.handle(event)
    recorder.handle(RunFinished("run-1", "2026-11-26T15:01:00Z", 60.0, 1, {"fail": 1}, ("x",), 1))
    recorder.close()
    return recorder.path, audio, case, event


def test_round_trip_keeps_exact_bytes_case_and_verdicts(tmp_path):
    path, audio, case, event = record(tmp_path)
    assert path.name == "127.0.0.1-8999-models-openai-whisper-tiny.en.yaml"
    cassette = load(path)
    assert cassette.run.seed == 1234 and cassette.run.suite_version == "0.1.0"
    assert cassette.target_info.is_replay and not cassette.target_info.exposes_mock_controls
    (recorded,) = cassette.cases
    assert recorded.case == case
    assert [e.request.body for e in recorded.exchanges] == [audio] * 3
    first, _, broken = recorded.exchanges
    assert first.response is not None and first.response.body == b'{"text":"hi"}'
    assert broken.response is None and broken.transport_error == "timeout"
    assert recorded.recorded.results == event.results
    text = path.read_text()
    assert "version: 1" in text and "asr-conformance-cassette/3" in text
    assert base64.b64encode(audio)[:40].decode() not in text  # the audio is in NAME.bodies, once
    assert path.with_suffix(".bodies").stat().st_size < len(audio)
    assert '{"text":"hi"}' in text  # a short text answer stays readable in the YAML


def test_token_is_scrubbed_from_headers_and_bodies(tmp_path):
    path, *_ = record(tmp_path)
    text = path.read_text()
    assert TOKEN not in text
    cassette = load(path)
    for exchange in cassette.exchanges:
        assert TOKEN.encode() not in exchange.request.body
        if exchange.response is not None:
            assert TOKEN.encode() not in exchange.response.body
            assert all(TOKEN not in v for _, v in exchange.response.headers)
    # and recording without scrubbing really would have kept it (the test above can fail)
    raw_path, *_ = record(tmp_path / "raw", scrub=False)
    assert TOKEN.encode() in b"".join(
        e.response.body + repr(e.response.headers).encode() for e in load(raw_path).exchanges if e.response
    )


def test_vcrpy_plays_the_cassette_through_our_persister(tmp_path):
    path, audio, *_ = record(tmp_path)
    my_vcr = vcr.VCR()
    my_vcr.register_persister(VCRPersister)
    with my_vcr.use_cassette(str(path), record_mode="none", match_on=["method", "uri", "body"]):
        reply = requests.post(BASE, data=audio, headers={"Content-Type": "audio/flac"}, timeout=5)
    assert reply.status_code == 200 and reply.json() == {"text": "hi"}


def test_to_vcr_writes_a_self_contained_cassette_vcrpy_reads(tmp_path):
    path, audio, *_ = record(tmp_path)
    plain = to_vcr(path, tmp_path / "plain.yaml")
    requests_, responses, metadata = vcr.serialize.deserialize(
        plain.read_text(), vcr.serializers.yamlserializer
    )
    assert requests_[0].uri == BASE and requests_[0].body == audio
    assert responses[0]["status"]["code"] == 200 and responses[0]["body"]["string"] == b'{"text":"hi"}'
    assert metadata["asr_conformance"]["run"]["seed"] == 1234
    with vcr.use_cassette(str(plain), record_mode="none", match_on=["method", "uri", "body"]):
        reply = requests.post(BASE, data=audio, headers={"Content-Type": "audio/flac"}, timeout=5)
    assert reply.status_code == 200 and reply.json() == {"text": "hi"}
    # and our loader reads the inline form (format 1) as well
    assert [e.request.body for e in load(plain).exchanges] == [audio] * 3


async def test_cassette_target_answers_by_method_path_and_body_hash(tmp_path):
    path, audio, *_ = record(tmp_path)
    target = CassetteTarget(path)
    try:
        first = await target.send(Request("POST", "", (), audio))
        second = await target.send(Request("POST", "/", (), audio))
        assert first.response is not None and first.response.status == 200
        assert second.response is not None and second.response.status == 401  # recorded order
        miss = await target.send(Request("POST", "", (), audio + b"\x00"))
        assert miss.response is None and miss.transport_error.startswith(MISS_PREFIX)
    finally:
        await target.close()


def test_rejects_files_that_are_not_our_cassettes(tmp_path):
    (tmp_path / "plain.yaml").write_text("interactions: []\nversion: 1\n")
    with pytest.raises(CassetteError, match="not recorded by asr-conformance"):
        load(tmp_path / "plain.yaml")
    (tmp_path / "bad.yaml").write_text("{{{")
    with pytest.raises(CassetteError, match="not valid YAML"):
        load(tmp_path / "bad.yaml")
    with pytest.raises(CassetteError, match="holds 2 cassettes"):
        load(tmp_path)


def test_a_format_2_cassette_still_loads_with_exact_bytes(tmp_path):
    """tests/compare/fixtures/format-2.*: recorded by the suite before format 3 (make_format2_cassette.py)."""
    from test_cassette_store import speechy_wav

    tone = AudioRecipe("wav", 16000, 1, "s16", 0.5, "tone", seed=3)  # as make_format2_cassette.py
    as_json = {"inputs": base64.b64encode(render(tone)).decode(), "parameters": {"return_timestamps": False}}
    cassette = load(FIXTURES / "format-2.yaml")
    assert [c.case.id for c in cassette.cases] == ["ex-0001", "cov-0002", "cov-0003"]
    bodies = [e.request.body for e in cassette.exchanges]
    assert bodies == [flac_tone()] * 3 + [json.dumps(as_json).encode(), speechy_wav()]
    assert cassette.exchanges[-1].response is not None
    assert cassette.exchanges[-1].response.body == bytes(range(256)) * 20
    assert cassette.cases[1].case.parameters == {"return_timestamps": False}
    plain = to_vcr(FIXTURES / "format-2.yaml", tmp_path / "plain.yaml")
    assert [e.request.body for e in load(plain).exchanges] == bodies


def test_format_3_leaves_out_what_the_header_or_a_default_says(tmp_path):
    path, *_ = record(tmp_path)
    data = yaml.safe_load(path.read_text())
    first, second, _ = (i["asr_conformance"] for i in data["interactions"])
    assert not {"seed", "suite_version", "spec_view", "body_sha256", "case"} & (first.keys() | second.keys())
    assert first["results"] == {"details": [first["results"]["details"][0]]}  # a failure: the full form
    assert "mutation" not in first and "exchange_index" not in first and second["exchange_index"] == 1
    assert all(v is not None for i in data["interactions"] for v in i["asr_conformance"].values())


def test_a_cassette_of_a_newer_format_is_refused_by_name(tmp_path):
    path, *_ = record(tmp_path)
    path.write_text(path.read_text().replace("asr-conformance-cassette/3", "asr-conformance-cassette/9"))
    with pytest.raises(CassetteError, match="format 9, recorded by a newer asr-conformance"):
        load(path)


def test_repeated_header_values_are_yaml_aliases_any_loader_expands(tmp_path):
    from asr_conformance.conformance.record.cassette import HeaderAliases

    aliases = HeaderAliases()
    long = {"vary": ["Origin, Access-Control-Request-Method"], "x-id": ["1"]}
    text = "".join(f"- headers:\n{aliases.lines(long, '  ')}" for _ in range(3))
    assert "&h1 [" in text and text.count("*h1") == 1 and "x-id: ['1']" in text  # short: never aliased
    assert yaml.safe_load(text) == [{"headers": long}] * 3
    path, *_ = record(tmp_path)
    data = vcr.serialize.deserialize(path.read_text(), vcr.serializers.yamlserializer)  # VCR.py's own loader
    assert data[1][0]["headers"]["Content-Type"] == ["application/json"]
