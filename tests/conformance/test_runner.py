"""The runner over real servers: event stream, probe, budget, shrinking, and the transport under it."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest
from aiohttp import web
from asr_conformance.conformance.cases import AudioRecipe
from asr_conformance.conformance.engine.config import RunConfig, open_for, plan
from asr_conformance.conformance.engine.execute import execute
from asr_conformance.conformance.engine.probe import TargetUnreachable
from asr_conformance.conformance.engine.runner import run
from asr_conformance.conformance.generation.builders import positive
from asr_conformance.conformance.model import (
    CaseFinished,
    Event,
    Exchange,
    Outcome,
    Request,
    RunFinished,
    RunStarted,
)
from asr_conformance.conformance.target import TargetInfo
from asr_conformance.conformance.targets.factory import open_target
from asr_conformance.conformance.targets.http import HttpTarget, retry_delay, send_with_backoff
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def collect(config: RunConfig) -> list[Event]:
    events: list[Event] = []
    await run(config, events.append)
    return events


def cases_of(events: list[Event]) -> list[CaseFinished]:
    return [e for e in events if isinstance(e, CaseFinished)]


# ------------------------------------------------------------------------------------------- runs


async def test_run_streams_header_cases_footer_in_plan_order_and_passes_the_faithful_mock():
    config = RunConfig(profile="quick", seed=4, max_examples=15)
    target = await open_for(config)
    events: list[Event] = []
    try:
        await run(config, events.append, target=target)
    finally:
        await target.close()
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert all(isinstance(e, CaseFinished) for e in events[1:-1])
    started, finished = events[0], events[-1]
    assert started.seed == 4 and started.target == "mock:in-process" and started.checks

    done = cases_of(events)
    # the plan depends on what the target is; during the run it also has the suite's canary (URL probe)
    from dataclasses import replace

    planned = [c.id for c in plan(config, replace(target.info, canary_url="http://127.0.0.1:9/c/"))]
    outside = ("probe-loading", "behaviour-")  # cases the probe and the behaviour phase add
    assert [c.case_id for c in done if not c.case_id.startswith(outside)] == planned
    assert finished.cases == len(done) and finished.exit_code == 0
    assert finished.outcomes["fail"] == 0 and finished.outcomes["error"] == 0
    # Every selected check judged something: nothing is SKIP-only on the mock, which can show everything.
    judged = {r.check_id for c in done for r in c.results if r.outcome is Outcome.PASS}
    # ... except the checks that need a target that really transcribes speech (the mock does not) and
    # those whose verdict needs a flag (--model-must-match): each says why it was skipped.
    skipped = {r.check_id for c in done for r in c.results if r.outcome is Outcome.SKIP and r.message}
    assert set(started.checks) - judged <= skipped


async def test_the_run_token_never_reaches_events():
    secret = "hf_canaryTOKEN0123456789abcdef"
    events = await collect(
        RunConfig(profile="quick", seed=1, max_examples=5, token=secret, token_env="MY_TOKEN")
    )
    text = json.dumps([e.__dict__ for e in events if not isinstance(e, CaseFinished)], default=str)
    from asr_conformance.conformance.model import event_to_json

    text += json.dumps([event_to_json(e) for e in cases_of(events)])
    assert secret not in text
    auth_cases = [c for c in cases_of(events) if c.meta["case"]["protocol"] in ("auth_missing", "auth_wrong")]
    assert len(auth_cases) == 2 and all(
        r.outcome is Outcome.PASS for c in auth_cases for r in c.results if r.check_id == "ignored_auth"
    )


async def test_request_budget_stops_the_run():
    with MockServer(MockConfig()) as server:
        events = await collect(RunConfig(target=server.model_url(), profile="quick", seed=2, max_requests=25))
        model_requests = [j for j in server.journal() if "/models/" in j.get("path", "")]
    assert len(model_requests) <= 25
    assert isinstance(events[-1], RunFinished) and 0 < events[-1].cases < 25


async def test_unreachable_target_raises_before_the_run_starts():
    events: list[Event] = []
    with pytest.raises(TargetUnreachable, match="unreachable"):
        await run(
            RunConfig(target=f"http://127.0.0.1:{free_port()}/models/x", profile="quick"), events.append
        )
    assert events == []


async def test_probe_waits_for_a_loading_model_and_judges_the_loading_shape():
    config = RunConfig(profile="quick", seed=3, max_examples=0, mock_config=MockConfig(loading_seconds=1.0))
    events = await collect(config)
    seen = next(c for c in cases_of(events) if c.case_id == "probe-loading")
    statuses = [e.response.status for e in seen.exchanges]
    assert statuses[0] == 503 and statuses[1] == 200
    loading = {r.check_id: r.outcome for r in seen.results}
    assert loading["loading_response_shape"] is Outcome.PASS
    assert events[-1].exit_code == 0


async def test_a_failure_is_shrunk_while_keeping_its_dedup_key():
    logging.getLogger("mock_server").setLevel(logging.CRITICAL)
    config = RunConfig(profile="quick", seed=8, max_examples=60, mock_violate=("reject-8khz",))
    events = await collect(config)
    shrunk = [c for c in cases_of(events) if "shrunk" in c.meta]
    assert shrunk, "no failure was shrunk"
    for case in shrunk:
        small = case.meta["shrunk"]["case"]
        original = case.meta["case"]
        key = tuple(case.meta["shrunk"]["key"])
        assert small["audio"]["sample_rate"] == 8000  # the cause stays
        assert small["id"] == f"{case.case_id}-min" == case.repro.replay_id
        assert {**small, "id": original["id"]} != original  # something was simplified
        assert small["audio"]["duration_s"] <= original["audio"]["duration_s"]
        assert small["audio"]["channels"] <= original["audio"]["channels"]
        assert len(small["parameters"] or {}) <= len(original["parameters"] or {})
        assert key in {f.dedup_key for r in case.results for f in r.failures}
    assert events[-1].exit_code == 1


# -------------------------------------------------------------------------------------- transport


@pytest.fixture
async def echo(aiohttp_server):
    """A server that answers with the headers it received; scripted statuses for the backoff tests."""
    script: list[tuple[int, dict[str, str], bytes]] = []
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        await request.read()
        if script:
            status, headers, body = script.pop(0)
            return web.Response(status=status, headers=headers, body=body, content_type="application/json")
        if request.headers.get("x-sleep"):
            await asyncio.sleep(float(request.headers["x-sleep"]))
        return web.json_response({"text": "ok"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    return str(server.make_url("/m")), script, seen


def _target(url: str, **kw) -> HttpTarget:
    return HttpTarget(url, info=TargetInfo("t", url), **kw)


async def test_auth_and_extra_headers_are_added_at_send_time_only(echo):
    url, _, seen = echo
    target = _target(url, token="hf_secret", headers=[("X-Extra", "1")])
    try:
        request = Request("POST", "", (("Content-Type", "audio/wav"),), b"RIFF")
        exchange = await target.send(request)
        assert seen[-1]["Authorization"] == "Bearer hf_secret" and seen[-1]["X-Extra"] == "1"
        assert exchange.request == request and "hf_secret" not in json.dumps(exchange.to_json())

        await target.send(Request("POST", "", (("Authorization", ""),), b"x"))
        assert "Authorization" not in seen[-1]  # deliberately unauthenticated
        await target.send(Request("POST", "", (("Authorization", "Bearer wrong"),), b"x"))
        assert seen[-1]["Authorization"] == "Bearer wrong"
        await target.send(Request("POST", "", (), b"x"))
        assert "Content-Type" not in seen[-1]  # no invented Content-Type
    finally:
        await target.close()


async def test_transport_trouble_becomes_an_exchange_not_an_exception(echo):
    url, _, _ = echo
    dead = _target(f"http://127.0.0.1:{free_port()}/m")
    slow = _target(url)
    try:
        refused = await dead.send(Request("POST", "", (), b"x"))
        assert refused.response is None and "Connect" in refused.transport_error
        late = await slow.send(Request("POST", "", (("x-sleep", "2"),), b"x"), timeout=0.2)
        assert late.response is None and late.transport_error.startswith("timeout")
    finally:
        await dead.close()
        await slow.close()


async def test_backoff_honours_estimated_time_and_retry_after(echo):
    url, script, seen = echo
    target = _target(url)
    sleeps: list[float] = []

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    try:
        script += [
            (503, {}, b'{"error":"Model x is currently loading","estimated_time":0.25}'),
            (429, {"Retry-After": "1"}, b'{"error":"Rate limit reached"}'),
        ]
        exchange, attempts = await send_with_backoff(target, Request("POST", "", (), b"x"), sleep=fake_sleep)
        assert exchange.response.status == 200 and attempts == 3 and sleeps == [0.25, 1.0]

        script.append((429, {"Retry-After": "120"}, b"{}"))
        exchange, attempts = await send_with_backoff(
            target, Request("POST", "", (), b"x"), max_wait_s=30, sleep=fake_sleep
        )
        assert (
            exchange.response.status == 429 and attempts == 1
        )  # too long a wait: judged PRECONDITION_FAILED
    finally:
        await target.close()
    assert len(seen) == 4


def test_retry_delay_reads_every_spelling():
    def resp(headers=(), body=b"{}"):
        from asr_conformance.conformance.model import Response

        return Response(503, tuple(headers), body, 0.0)

    assert retry_delay(resp([("Retry-After", "7")])) == 7.0
    assert retry_delay(resp([("RateLimit", '"default";r=0;t=12')])) == 12.0
    assert retry_delay(resp([("RateLimit-Reset", "3")])) == 3.0
    assert retry_delay(
        resp(body=b'{"error":"loading","estimated_time":22.307266235351562}')
    ) == pytest.approx(22.3, 0.01)
    assert retry_delay(resp(body=b"not json")) is None


async def test_execute_judges_one_case_against_a_url_target():
    with MockServer(MockConfig(violate=("reject-mp3",))) as server:
        target = await open_target(server.model_url())
        try:
            assert target.info.exposes_mock_controls
            case = positive("c1", "examples", AudioRecipe("mp3", 16000, 1, "s16", 1.0, "tone", 1), "raw")
            finished = await execute(case, target, RunConfig())
        finally:
            await target.close()
    assert isinstance(finished.exchanges[0], Exchange) and finished.exchanges[0].response.status == 400
    failed = {r.check_id for r in finished.results if r.outcome is Outcome.FAIL}
    assert "positive_data_acceptance" in failed
    assert "--data-binary @case-c1.mp3" in finished.repro.curl
