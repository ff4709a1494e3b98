"""run_checks: the outcome rules that come before any check, and a broken check not breaking the run."""

from __future__ import annotations

from dataclasses import replace

from asr_conformance.conformance.checks import Problem, Skip, get, run_checks, select
from asr_conformance.conformance.checks.base import Check
from asr_conformance.conformance.model import Outcome, Response, Severity
from check_builders import MOCK, case, context, err, json_request, ok, raw_request


def outcomes(ctx, checks=None) -> set[Outcome]:
    return {r.outcome for r in run_checks(ctx, checks or select())}


def test_transport_error_is_error_for_every_check() -> None:
    ctx = context(case("positive"), (raw_request(), None))
    results = run_checks(ctx, select())
    assert results and {r.outcome for r in results} == {Outcome.ERROR}
    assert "connection reset" in results[0].message


def test_unasked_503_and_429_are_preconditions_not_verdicts() -> None:
    for status in (503, 429):
        ctx = context(
            case("positive"), (raw_request(), err(status, {"error": "busy", "estimated_time": 3.0}))
        )
        assert outcomes(ctx) == {Outcome.PRECONDITION_FAILED}


def test_auth_refusal_outside_auth_scenarios_is_a_precondition() -> None:
    ctx = context(case("positive"), (raw_request(), err(401, {"error": "Invalid username or password."})))
    assert outcomes(ctx) == {Outcome.PRECONDITION_FAILED}


def test_asked_for_503_is_judged() -> None:
    ctx = context(
        case("protocol", protocol="loading"),
        (raw_request(), err(503, {"error": "Model m is currently loading", "estimated_time": 20.0})),
        (raw_request((("x-wait-for-model", "true"),)), ok()),
        target=replace(MOCK, exposes_mock_controls=True),
    )
    results = {r.check_id: r.outcome for r in run_checks(ctx, select(include_legacy=True))}
    assert results["loading_response_shape"] is Outcome.PASS
    assert results["wait_for_model_honoured"] is Outcome.PASS
    assert results["not_a_server_error"] is Outcome.PASS


def test_invalid_json_in_a_success_is_error() -> None:
    ctx = context(
        case("positive"), (raw_request(), Response(200, (("Content-Type", "application/json"),), b"{", 0.1))
    )
    results = run_checks(ctx, select())
    assert {r.outcome for r in results} == {Outcome.ERROR}
    assert "invalid JSON" in results[0].message


def test_plain_text_error_is_a_failure_not_an_error() -> None:
    resp = Response(400, (("Content-Type", "text/plain"),), b"Malformed soundfile", 0.1)
    ctx = context(case("malformed_audio", audio=None), (raw_request(body=b"xx"), resp))
    by_id = {r.check_id: r for r in run_checks(ctx, select())}
    assert by_id["error_body_shape"].outcome is Outcome.FAIL


def _crashing(ctx):
    raise ZeroDivisionError("division by zero in a check")


def _skipping(ctx):
    raise Skip("cannot judge")


def test_crashing_check_reports_error_with_traceback_line_and_run_goes_on() -> None:
    broken = replace(get("not_a_server_error"), id="broken", fn=_crashing)
    ctx = context(case("positive"), (raw_request(), ok()))
    results = run_checks(ctx, [broken, get("error_body_shape")])
    assert results[0].outcome is Outcome.ERROR
    assert "ZeroDivisionError: division by zero in a check" in results[0].message
    assert results[1].outcome is Outcome.PASS


def test_crash_deciding_applicability_is_error_too() -> None:
    broken = replace(get("not_a_server_error"), id="broken", applies=_crashing)
    results = run_checks(context(case("positive"), (raw_request(), ok())), [broken])
    assert results[0].outcome is Outcome.ERROR and "applies" in results[0].message


def test_skip_is_skip_with_reason() -> None:
    chk = replace(get("not_a_server_error"), fn=_skipping)
    result = run_checks(context(case("positive"), (raw_request(), ok())), [chk])[0]
    assert result.outcome is Outcome.SKIP and result.message == "cannot judge"


def test_problem_evidence_sets_failure_severity_and_result_takes_the_worst() -> None:
    def mixed(ctx):
        yield Problem("only seen in recordings", evidence="observed", title="Seen")
        yield "against the check's own evidence"

    chk = Check(
        id="mixed",
        title="Mixed",
        evidence="documented",
        spec_ref="body:text",
        doc="Mixed evidence.",
        fn=mixed,
        applies=lambda ctx: True,
    )
    result = run_checks(context(case("positive"), (raw_request(), ok())), [chk])[0]
    assert result.outcome is Outcome.FAIL and result.severity is Severity.ERROR
    assert [(f.severity, f.title) for f in result.failures] == [
        (Severity.ERROR, "Mixed"),
        (Severity.WARNING, "Seen"),
    ]


def test_legacy_problem_inside_a_current_check_is_not_judged() -> None:
    def legacy_only(ctx):
        yield Problem("old behaviour", evidence="legacy")

    chk = Check("l", "L", "documented", "body:text", "L.", legacy_only, lambda ctx: True)
    result = run_checks(context(case("positive"), (raw_request(), ok())), [chk])[0]
    assert result.outcome is Outcome.PASS


def test_checks_that_do_not_apply_give_no_result() -> None:
    ctx = context(case("positive"), (json_request(), ok()))
    ids = {r.check_id for r in run_checks(ctx, select(include_legacy=True))}
    assert "ignored_auth" not in ids and "negative_data_rejection" not in ids
    assert "positive_data_acceptance" in ids
