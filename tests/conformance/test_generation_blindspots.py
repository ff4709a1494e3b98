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
