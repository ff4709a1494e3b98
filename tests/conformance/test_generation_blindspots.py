"""Generation for the blind spots of issue 11: large bodies, client headers, dereference probes."""

from __future__ import annotations

import pytest
from asr_conformance.conformance.engine.config import RunConfig, plan
from asr_conformance.conformance.generation.render import build_requests
from asr_conformance.conformance.target import TargetInfo

MIB = 1 << 20


def target(limit: int | None = None) -> TargetInfo:
    return TargetInfo(name="url", model_url="http://127.0.0.1:1/models/m", max_body_bytes=limit)


def _large_forms(cases) -> set[str]:
    forms = set()
    for case in cases:
        if case.kind != "positive":
            continue
        for request in build_requests(case):
            if MIB < len(request.body) <= 4 * MIB:
                forms.add(case.form)
    return forms


@pytest.mark.parametrize("profile", ["quick", "default"])
def test_every_profile_sends_a_raw_and_a_json_body_between_1_and_4_mib(profile):
    fixed = [
        c for c in plan(RunConfig(profile=profile, seed=1, max_examples=0), target()) if c.phase == "examples"
    ]
    assert _large_forms(fixed) == {"raw", "json"}


def test_no_large_body_above_a_lower_declared_limit():
    fixed = [
        c
        for c in plan(RunConfig(profile="quick", seed=1, max_examples=0), target(MIB))
        if c.phase == "examples"
    ]
    assert _large_forms(fixed) == set()


REAL_CLIENT_VALUES = {
    ("Accept", "*/*"),
    ("Accept", "application/json, text/plain, */*"),
    ("Content-Type", "application/json; charset=utf-8"),
    *(
        ("Content-Type", label)
        for label in (
            "audio/mpeg",
            "audio/mp3",
            "audio/x-wav",
            "audio/wave",
            "audio/x-flac",
            "audio/webm;codecs=opus",
            "audio/mp4",
        )
    ),
}


def test_the_plan_sends_the_headers_real_clients_send():
    fixed = plan(RunConfig(profile="quick", seed=1, max_examples=0), target())
    clients = [c for c in fixed if c.meta.get("client")]
    assert clients and all(c.kind == "positive" for c in clients)
    sent = {h for c in clients for r in build_requests(c) for h in r.headers}
    assert sent >= REAL_CLIENT_VALUES
    raw_without_type = [
        r for c in clients for r in build_requests(c) if c.form == "raw" and not r.header("content-type")
    ]
    assert raw_without_type, "python-requests sends raw audio without a Content-Type"
