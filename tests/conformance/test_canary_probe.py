"""``inputs`` as a file path or URL: the canary, the probes the planner sends, and the verdicts."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace
from pathlib import Path

import soundfile
from asr_conformance.conformance.generation.planner import CANARY_TOKEN, dereference_cases
from asr_conformance.conformance.generation.render import build_requests
from asr_conformance.conformance.model import Outcome
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.conformance.targets.canary import Canary, is_loopback, start
from check_builders import case, context, err, json_request, judge, ok

LOCAL = TargetInfo(name="local", model_url="http://127.0.0.1:8000/models/m")
REMOTE = TargetInfo(name="remote", model_url="https://router.example.test/hf-inference/models/m")


def test_the_canary_serves_a_wav_and_counts_each_token():
    canary = Canary()
    try:
        assert canary.hits("a") == 0
        with urllib.request.urlopen(canary.url("a"), timeout=5) as answer:
            assert answer.read(4) == b"RIFF"
        assert (canary.hits("a"), canary.hits("b")) == (1, 0)
    finally:
        canary.close()


def test_loopback_targets_get_a_loopback_canary():
    assert is_loopback(LOCAL.model_url) and is_loopback("http://localhost:1/m")
    assert not is_loopback(REMOTE.model_url)
    canary = start(LOCAL.model_url)
    try:
        assert canary.base_url.startswith("http://127.0.0.1:")
    finally:
        canary.close()


def _inputs(case_) -> str:
    (request,) = build_requests(case_)
    return json.loads(request.body)["inputs"]


def test_a_local_target_gets_a_path_probe_of_a_real_wav_and_the_url_probe_only_with_a_canary():
    (path_probe,) = dereference_cases(LOCAL)
    assert path_probe.kind == "negative" and path_probe.meta["dereference"] == "path"
    path = Path(_inputs(path_probe))
    assert path.is_absolute() and soundfile.info(str(path)).duration > 0.5
    with_canary = replace(LOCAL, canary_url="http://127.0.0.1:9/asr-conformance-canary/")
    kinds = [c.meta["dereference"] for c in dereference_cases(with_canary)]
    assert kinds == ["path", "url"]
    assert _inputs(dereference_cases(with_canary)[1]).endswith(f"{CANARY_TOKEN}.wav")


def test_a_remote_target_gets_only_the_url_probe():
    assert dereference_cases(REMOTE) == []
    probes = dereference_cases(replace(REMOTE, canary_url="http://10.0.0.2:9/asr-conformance-canary/"))
    assert [c.meta["dereference"] for c in probes] == ["url"]


def _url_probe(target: TargetInfo, resp) -> object:
    meta = {"dereference": "url", "canary_token": CANARY_TOKEN}
    probe = case("negative", form="json", meta=meta, expected_duration_s=None)
    return judge("inputs_not_dereferenced", context(probe, (json_request(), resp), target=target))


def test_a_canary_hit_fails_whatever_the_answer():
    hit = replace(LOCAL, canary_url="http://x/", canary_hits=lambda token: 1)
    result = _url_probe(hit, err(400, {"error": "Malformed soundfile"}))
    assert result.outcome is Outcome.FAIL and "request forgery" in result.failures[0].message


def test_no_hit_passes_on_this_host_and_is_inconclusive_on_a_remote_target():
    refused = err(400, {"error": "inputs: not valid base64 audio"})
    assert (
        _url_probe(replace(LOCAL, canary_url="u", canary_hits=lambda t: 0), refused).outcome is Outcome.PASS
    )
    assert (
        _url_probe(replace(REMOTE, canary_url="u", canary_hits=lambda t: 0), refused).outcome is Outcome.SKIP
    )
    assert _url_probe(LOCAL, refused).outcome is Outcome.SKIP  # no canary: cannot tell
    assert _url_probe(REMOTE, ok({"text": "fetched and transcribed"})).outcome is Outcome.FAIL
