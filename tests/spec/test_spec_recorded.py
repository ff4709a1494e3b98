"""The recorded real exchanges (tests/fixtures/recorded) against the served schemas and header rules."""

from __future__ import annotations

import re
from collections import Counter

from asr_conformance import spec

FORMAT_KEYS = {"name", "source", "request", "response", "provider", "task", "note"}
TOKEN = re.compile(r"hf_[A-Za-z0-9]{20,}")


def _is_asr_body(exchange) -> bool:
    r = exchange["response"]
    return exchange["task"] == "automatic-speech-recognition" and r["status"] < 300 and "body_json" in r


def test_fixture_format(exchange, recorded_dir):
    assert set(exchange) == FORMAT_KEYS
    assert (recorded_dir / f"{exchange['name']}.json").exists()
    assert set(exchange["source"]) == {"repo", "path", "commit", "date"}
    assert re.fullmatch(r"[0-9a-f]{40}", exchange["source"]["commit"])
    assert exchange["request"]["body"]["kind"] in {"raw-audio", "json"}
    assert exchange["provider"] in {"hf-inference", "fal-ai"}
    r = exchange["response"]
    assert ("body_json" in r) != ("body_text" in r)
    assert all(isinstance(h, list) and len(h) == 2 for h in r["headers"])


def test_no_tokens(exchange, recorded_dir):
    text = (recorded_dir / f"{exchange['name']}.json").read_text()
    assert not TOKEN.search(text)
    for name, value in exchange["request"]["headers"].items():
        if name.lower() == "authorization":
            assert value == "<redacted>"


def test_bodies_validate_against_the_served_schemas(exchange):
    body = exchange["response"].get("body_json")
    if exchange["response"]["status"] >= 400:
        errors = [e.message for e in spec.validator("error").iter_errors(body)]
    else:
        assert _is_asr_body(exchange), "every recorded success here is an ASR body"
        errors = [e.message for e in spec.validator("response").iter_errors(body)]
    assert errors == []


def test_every_hf_inference_success_header_matches_the_rules(exchange):
    if exchange["provider"] != "hf-inference" or not _is_asr_body(exchange):
        return
    status = exchange["response"]["status"]
    for rule in spec.response_headers():
        if not rule.applies(status):
            continue
        for name, value in exchange["response"]["headers"]:
            if name.lower() == rule.name:
                assert rule.matches(value), (exchange["name"], name, value)


def test_the_counts_behind_the_header_errata(recorded):
    hfhub_successes = [
        e
        for e in recorded
        if e["name"].startswith("hfhub_asr_200")
        and e["provider"] == "hf-inference"
        and not e["name"].endswith("_repeat")
    ]
    names = [name.lower() for e in hfhub_successes for name, _ in e["response"]["headers"]]
    present = Counter(n for n in names if n.startswith("x-"))
    # E9: x-compute-audio-length in 1 of the real successes; x-compute-time, x-sha, x-request-id in all
    assert present["x-compute-audio-length"] == 1
    for always in ("x-compute-time", "x-compute-type", "x-sha", "x-request-id"):
        assert present[always] == len(hfhub_successes)


def test_raw_audio_successes_sent_no_content_type(recorded):
    # E7: every recorded raw-audio success was sent without a Content-Type
    raw = [e for e in recorded if e["request"]["body"]["kind"] == "raw-audio" and e["name"][:5] == "hfhub"]
    assert raw
    for e in raw:
        assert "content-type" not in {k.lower() for k in e["request"]["headers"]}


def test_whisper_shaped_recordings_use_the_singular_key(recorded):
    # E1: every recorded chunk says `timestamp`, never the tables' `timestamps`
    fal = [e for e in recorded if e["provider"] == "fal-ai"]
    assert fal
    for e in fal:
        chunks = e["response"]["body_json"]["chunks"]
        assert all("timestamp" in c and "timestamps" not in c for c in chunks)
