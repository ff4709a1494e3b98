"""The HTTP front over real HTTP (aiohttp test client): routes, forms, validation, headers, errors."""

from __future__ import annotations

import asyncio
import base64
import json
import re

import pytest
from asr_conformance.mock_server import audio
from asr_conformance.mock_server.front import front_state
from mock_helpers import MODEL, PATH, b64, silence, tone, wav

SUCCESS_HEADERS = ("x-compute-time", "x-compute-type", "x-request-id", "x-sha", "x-compute-audio-length")


# ----------------------------------------------------------------------------------------- routing


async def test_raw_form_success_and_headers(client) -> None:
    resp = await client.post(PATH, data=wav(2.0))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    body = await resp.json()
    assert set(body) == {"text"} and body["text"]
    for name in SUCCESS_HEADERS:
        assert name in resp.headers, name
    assert re.fullmatch(r"\d+\.\d{3}", resp.headers["x-compute-time"])
    assert resp.headers["x-compute-type"] == "cpu"
    assert re.fullmatch(r"[0-9a-f]{40}", resp.headers["x-sha"])
    assert float(resp.headers["x-compute-audio-length"]) == pytest.approx(2.0)
    assert resp.headers["server"] == "uvicorn"
    assert resp.headers["access-control-expose-headers"] == "x-compute-type, x-compute-time"
    assert resp.headers["access-control-allow-credentials"] == "true"
    assert resp.headers["vary"].startswith("Origin")
    assert resp.headers["x-inference-id"]


async def test_router_form_and_ids_with_slashes(client) -> None:
    for path in (f"/hf-inference/models/{MODEL}", "/models/org/sub/name", "/models/plain-id"):
        resp = await client.post(path, data=wav(1.0))
        assert resp.status == 200, path


async def test_router_request_id_carries_the_trace_id(client) -> None:
    resp = await client.post(
        f"/hf-inference/models/{MODEL}", data=wav(1.0), headers={"X-Amzn-Trace-Id": "abc-123"}
    )
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};abc-123", resp.headers["x-request-id"])


async def test_configured_model_id_only(make_client) -> None:
    client = await make_client(model_id="org/model")
    assert (await client.post("/models/org/model", data=wav(1.0))).status == 200
    resp = await client.post("/models/org/other", data=wav(1.0))
    assert resp.status == 404
    assert await resp.json() == {"error": "Model org/other does not exist"}


async def test_unknown_routes_and_wrong_methods(client) -> None:
    resp = await client.get("/nowhere")
    assert resp.status == 404 and "error" in await resp.json()
    resp = await client.post("/models")
    assert resp.status == 404
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        resp = await client.request(method, PATH)
        assert resp.status == 405, method
        assert resp.headers["Allow"] == "POST"
        assert "error" in await resp.json()


async def test_healthz(make_client) -> None:
    client = await make_client(loading_seconds=30)
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["ready"] is False and body["estimated_time"] > 0


# ------------------------------------------------------------------------------------------- forms


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/octet-stream",
        "audio/flac",
        "audio/wav",
        "audio/x-unknown",
        "text/plain",
        "application/json",
    ],
)
async def test_raw_audio_with_any_content_type(client, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await client.post(PATH, data=wav(1.0), headers=headers)
    assert resp.status == 200, await resp.text()


async def test_raw_flac_labelled_json_is_audio(client) -> None:
    """The old JS doc snippet sent a raw FLAC body as application/json."""
    flac = audio.encode(tone(1.0), 16000, "flac")
    resp = await client.post(PATH, data=flac, headers={"Content-Type": "application/json"})
    assert resp.status == 200


async def test_json_form_gives_the_same_text_as_raw(client) -> None:
    data = wav(2.0)
    raw = await (await client.post(PATH, data=data, headers={"x-use-cache": "false"})).json()
    js = await (await client.post(PATH, json={"inputs": b64(data)}, headers={"x-use-cache": "false"})).json()
    assert raw == js


async def test_json_without_content_type_is_json(client) -> None:
    body = json.dumps({"inputs": b64(wav(1.0))}).encode()
    resp = await client.post(PATH, data=body)
    assert resp.status == 200


@pytest.mark.parametrize("codec", audio.CODECS)
async def test_every_codec_is_accepted(client, codec) -> None:
    data = audio.encode(tone(1.5, 22050, 2), 22050, codec)
    resp = await client.post(PATH, data=data)
    assert resp.status == 200, (codec, await resp.text())
    assert float(resp.headers["x-compute-audio-length"]) == pytest.approx(1.5, abs=0.06)


@pytest.mark.parametrize(
    "inputs",
    [
        "unpadded",
        "wrapped",
        "urlsafe",
        "data-url",
    ],
)
async def test_lenient_base64_spellings(client, inputs) -> None:
    data = wav(1.0) + b"\x00\x01\xfe\xff"  # odd length: unpadded base64 differs from padded
    canonical = b64(data)
    value = {
        "unpadded": canonical.rstrip("="),
        "wrapped": "\n".join(canonical[i : i + 76] for i in range(0, len(canonical), 76)),
        "urlsafe": base64.urlsafe_b64encode(data).decode(),
        "data-url": "data:audio/wav;base64," + canonical,
    }[inputs]
    resp = await client.post(PATH, json={"inputs": value})
    assert resp.status == 200, await resp.text()


async def test_generate_kwargs_alias(client) -> None:
    data = wav(4.0)
    full = await (await client.post(PATH, json={"inputs": b64(data)})).json()
    for key in ("generation_parameters", "generate_kwargs"):
        resp = await client.post(PATH, json={"inputs": b64(data), "parameters": {key: {"max_new_tokens": 2}}})
        body = await resp.json()
        assert resp.status == 200
        assert body["text"].split() == full["text"].split()[:2], key


async def test_unknown_parameters_are_accepted(client) -> None:
    params = {"unknown_key": 1, "task": "transcribe", "language": "en", "chunk_length_s": 30}
    resp = await client.post(PATH, json={"inputs": b64(wav(1.0)), "parameters": params, "options": {"x": 1}})
    assert resp.status == 200


async def test_legacy_options_are_honoured(make_client) -> None:
    client = await make_client()
    data = {"inputs": b64(wav(1.0))}
    await client.post(PATH, json=data)
    hit = await client.post(PATH, json=data)
    assert hit.headers["x-compute-type"] == "cache"
    fresh = await client.post(PATH, json={**data, "options": {"use_cache": False}})
    assert fresh.headers["x-compute-type"] == "cpu"


# --------------------------------------------------------------------------------------- bad input


async def error_of(resp, status: int) -> str:
    assert resp.status == status, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/json")
    body = await resp.json()
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        (b"{not json", "application/json", "JSON"),
        (b"[1, 2]", "application/json", "payload"),
        (b'"just a string"', "application/json", "payload"),
        (b"{}", "application/json", "inputs"),
        (b'{"inputs": 123}', "application/json", "inputs"),
        (b'{"inputs": null}', "application/json", "inputs"),
        (b'{"inputs": ["a"]}', "application/json", "inputs"),
        (b'{"inputs": "!!!not base64!!!"}', "application/json", "inputs"),
    ],
)
async def test_malformed_payloads(client, body, content_type, field) -> None:
    message = await error_of(await client.post(PATH, data=body, headers={"Content-Type": content_type}), 400)
    assert field in message


WRONG_TYPES = {
    "parameters": ["fast", [1], 3],
    "parameters.return_timestamps": ["maybe", [True], {"on": True}, 2],
    "parameters.generation_parameters": ["greedy", [1]],
    "parameters.generation_parameters.temperature": ["hot", [0.5]],
    "parameters.generation_parameters.top_k": ["many", 1.5, [1]],
    "parameters.generation_parameters.max_new_tokens": ["ten", 2.5],
    "parameters.generation_parameters.do_sample": ["yes please", [True]],
    "parameters.generation_parameters.num_beams": ["two"],
    "parameters.generation_parameters.early_stopping": ["sometimes", 3],
}


@pytest.mark.parametrize(
    ("path", "value"), [(path, value) for path, values in WRONG_TYPES.items() for value in values]
)
async def test_wrong_type_for_each_parameter_names_the_field(client, path, value) -> None:
    payload: dict = {"inputs": b64(wav(0.5))}
    node = payload
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    message = await error_of(await client.post(PATH, json=payload), 400)
    assert message.startswith(path), message


async def test_spec_must_reject_values_are_rejected(client) -> None:
    from asr_conformance import spec

    for path, domain in spec.domains().items():
        if path.startswith("header:") or path == "inputs" or not path.startswith("parameters"):
            continue
        for dv in domain.must_reject:
            payload: dict = {"inputs": b64(wav(0.5))}
            node = payload
            parts = path.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = dv.value
            resp = await client.post(PATH, json=payload)
            assert resp.status == 400, (path, dv.value, await resp.text())


async def test_spec_implementation_defined_values_never_5xx(client) -> None:
    from asr_conformance import spec

    for path, domain in spec.domains().items():
        if not path.startswith("parameters"):
            continue
        for dv in domain.implementation_defined:
            payload: dict = {"inputs": b64(wav(0.5))}
            node = payload
            parts = path.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = dv.value
            resp = await client.post(PATH, json=payload)
            assert resp.status < 500, (path, dv.value)
            if resp.status >= 400:
                assert "error" in await resp.json()


@pytest.mark.parametrize(
    "body",
    [
        b"this is not audio at all",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        bytes(range(256)) * 40,
        b"<html><body>hello</body></html>",
    ],
)
async def test_non_audio_gets_malformed_soundfile(client, body) -> None:
    resp = await client.post(PATH, data=body)
    assert resp.status == 400
    assert await resp.json() == {"error": "Malformed soundfile"}
    # inference errors carry the compute headers, as recorded
    assert "x-compute-time" in resp.headers and "x-request-id" in resp.headers


async def test_truncated_flac(client) -> None:
    flac = audio.encode(tone(3.0), 16000, "flac")
    for keep in (0.2, 0.7):
        resp = await client.post(PATH, data=flac[: int(len(flac) * keep)])
        assert await error_of(resp, 400) == "Malformed soundfile"


async def test_empty_bodies(client) -> None:
    await error_of(await client.post(PATH, data=b""), 400)
    await error_of(await client.post(PATH, json={"inputs": ""}), 400)


async def test_bad_base64_in_json(client) -> None:
    message = await error_of(await client.post(PATH, json={"inputs": "abc$%^"}), 400)
    assert "inputs" in message


async def test_base64_of_garbage_is_malformed_soundfile(client) -> None:
    resp = await client.post(PATH, json={"inputs": b64(b"definitely not audio")})
    assert await error_of(resp, 400) == "Malformed soundfile"


@pytest.mark.parametrize("header", ["x-use-cache", "x-wait-for-model"])
async def test_unparseable_boolean_header(client, header) -> None:
    message = await error_of(await client.post(PATH, data=wav(0.5), headers={header: "maybe"}), 400)
    assert header in message


# ---------------------------------------------------------------------------------------- limits


async def test_body_limit(make_client) -> None:
    client = await make_client(max_body_bytes=50_000)
    assert (await client.post(PATH, data=wav(1.0))).status == 200  # 32 kB
    message = await error_of(await client.post(PATH, data=wav(3.0)), 413)
    assert "50000" in message


async def test_huge_body_without_content_length(make_client) -> None:
    client = await make_client(max_body_bytes=100_000)

    async def chunks():
        for _ in range(50):
            yield b"\x00" * 10_000

    await error_of(await client.post(PATH, data=chunks()), 413)


async def test_audio_length_limit(make_client) -> None:
    client = await make_client(max_audio_seconds=2.0)
    assert (await client.post(PATH, data=wav(1.5))).status == 200
    message = await error_of(await client.post(PATH, data=silence(3.0, "flac")), 413)
    assert "2 seconds" in message


async def test_bounded_concurrency(make_client) -> None:
    client = await make_client(max_concurrency=2)
    slow = {"x-mock-fault": "delay=0.5"}
    responses = await asyncio.gather(*(client.post(PATH, data=wav(0.5), headers=slow) for _ in range(5)))
    statuses = sorted(r.status for r in responses)
    assert statuses.count(200) == 2 and statuses.count(503) == 3
    for r in responses:
        if r.status == 503:
            assert "Too many requests" in (await r.json())["error"]
            assert r.headers["Retry-After"] == "1"


# ---------------------------------------------------------------------------------------- auth


async def test_token_required(make_client) -> None:
    client = await make_client(token="hf_secret")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "hf_secret"}):
        resp = await client.post(PATH, data=wav(0.5), headers=headers)
        assert resp.status == 401
        assert await resp.json() == {"error": "Invalid username or password."}
        assert resp.headers["X-Error-Message"] == "Invalid username or password."
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="Authentication required", charset="UTF-8"'
    ok = await client.post(PATH, data=wav(0.5), headers={"Authorization": "Bearer hf_secret"})
    assert ok.status == 200


async def test_no_token_configured_accepts_anything(client) -> None:
    resp = await client.post(PATH, data=wav(0.5), headers={"Authorization": "Bearer whatever"})
    assert resp.status == 200


async def test_journal_masks_secrets_and_drops_fault_headers(make_client) -> None:
    client = await make_client(token="hf_secret")
    await client.post(
        PATH,
        data=wav(0.5),
        headers={
            "Authorization": "Bearer hf_secret",
            "x-mock-fault": "delay=0",
            "X-Custom": "has hf_secret inside",
        },
    )
    auth = {"Authorization": "Bearer hf_secret"}
    await client.post(PATH, data=wav(0.5), headers={**auth, "Prefer": "code=429"})
    # without the token a fault header is not honoured: the request gets its 401
    await client.post(PATH, data=wav(0.5), headers={"Prefer": "code=429"})
    assert (await client.get("/__mock/requests")).status == 401  # the controls need the token too
    entries = (await (await client.get("/__mock/requests", headers=auth)).json())["requests"]
    text = json.dumps(entries)
    assert "hf_secret" not in text
    assert "x-mock-fault" not in text and "prefer" not in text
    assert entries[0]["headers"]["authorization"] == "Bearer ***"
    assert entries[0]["headers"]["x-custom"] == "has *** inside"
    assert [e["status"] for e in entries] == [200, 429, 401]


# ------------------------------------------------------------------------------------- loading


async def test_loading_503_and_wait(make_client) -> None:
    client = await make_client(loading_seconds=0.6, max_wait=5)
    resp = await client.post(PATH, data=wav(0.5))
    assert resp.status == 503
    body = await resp.json()
    assert body["error"] == f"Model {MODEL} is currently loading"
    assert isinstance(body["estimated_time"], float) and 0 < body["estimated_time"] <= 0.6
    held = await client.post(PATH, data=wav(0.5), headers={"x-wait-for-model": "true"})
    assert held.status == 200


async def test_wait_is_bounded_by_max_wait(make_client) -> None:
    client = await make_client(loading_seconds=60, max_wait=0.3)
    started = asyncio.get_running_loop().time()
    resp = await client.post(PATH, data=wav(0.5), headers={"x-wait-for-model": "1"})
    assert resp.status == 503
    assert asyncio.get_running_loop().time() - started < 3


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE", "Yes"])
async def test_boolean_header_spellings_true(make_client, value) -> None:
    client = await make_client(fault_loading_seconds=0.05)
    resp = await client.post(
        PATH, data=wav(0.5), headers={"x-mock-fault": "loading", "x-wait-for-model": value}
    )
    assert resp.status == 200


@pytest.mark.parametrize("value", ["false", "0", "no", "FALSE", ""])
async def test_boolean_header_spellings_false(make_client, value) -> None:
    client = await make_client(fault_loading_seconds=0.05)
    resp = await client.post(
        PATH, data=wav(0.5), headers={"x-mock-fault": "loading", "x-wait-for-model": value}
    )
    assert resp.status == 503


# --------------------------------------------------------------------------------------- cache


async def test_cache_hits_replay_compute_time(client) -> None:
    data = wav(1.0)
    first = await client.post(PATH, data=data)
    second = await client.post(PATH, data=data)
    assert first.headers["x-compute-type"] == "cpu"
    assert second.headers["x-compute-type"] == "cache"
    assert second.headers["x-compute-time"] == first.headers["x-compute-time"]
    assert await first.read() == await second.read()
    fresh = await client.post(PATH, data=data, headers={"x-use-cache": "false"})
    assert fresh.headers["x-compute-type"] == "cpu"


async def test_cache_key_covers_model_audio_and_parameters(client) -> None:
    data = wav(1.0)
    await client.post(PATH, json={"inputs": b64(data)})
    # same audio bytes in the other form: same key
    assert (await client.post(PATH, data=data)).headers["x-compute-type"] == "cache"
    # other parameters, other model, other audio: misses
    ts = await client.post(PATH, json={"inputs": b64(data), "parameters": {"return_timestamps": True}})
    assert ts.headers["x-compute-type"] == "cpu"
    assert (await client.post("/models/other/model", data=data)).headers["x-compute-type"] == "cpu"
    assert (await client.post(PATH, data=wav(1.1))).headers["x-compute-type"] == "cpu"


async def test_errors_are_not_cached(client) -> None:
    for _ in range(2):
        resp = await client.post(PATH, data=b"junk audio")
        assert resp.status == 400 and resp.headers["x-compute-type"] == "cpu"


# -------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("fault", "status", "body"),
    [
        ("status=429", 429, {"error": "Rate limit reached. Please log in or use a HF access token"}),
        ("status=503", 503, {"error": f"Model {MODEL} is currently loading", "estimated_time": 20.0}),
        ("status=418", 418, {"error": "I'm a Teapot"}),
    ],
)
async def test_status_faults(client, fault, status, body) -> None:
    resp = await client.post(PATH, data=wav(0.5), headers={"x-mock-fault": fault})
    assert resp.status == status
    assert await resp.json() == body


async def test_500_fault_has_the_real_shape(client) -> None:
    resp = await client.post(PATH, data=wav(0.5), headers={"x-mock-fault": "status=500"})
    body = await resp.json()
    assert resp.status == 500 and body["error"] == "unknown error"
    assert body["warnings"][0].startswith("There was an inference error: ")


async def test_prefer_code_alias(client) -> None:
    resp = await client.post(PATH, data=wav(0.5), headers={"Prefer": "code=429"})
    assert resp.status == 429


async def test_delay_fault(client) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    resp = await client.post(PATH, data=wav(0.5), headers={"x-mock-fault": "delay=0.4"})
    assert resp.status == 200 and loop.time() - started >= 0.4


async def test_reset_and_truncate_faults(client) -> None:
    import aiohttp

    with pytest.raises(aiohttp.ClientError):
        resp = await client.post(PATH, data=wav(0.5), headers={"x-mock-fault": "reset"})
        await resp.read()
    with pytest.raises(aiohttp.ClientError):
        resp = await client.post(PATH, data=wav(0.5), headers={"x-mock-fault": "truncate"})
        await resp.read()
    # the server survives both
    assert (await client.post(PATH, data=wav(0.5))).status == 200


async def test_bad_fault_spec(client) -> None:
    message = await error_of(await client.post(PATH, data=wav(0.5), headers={"x-mock-fault": "explode"}), 400)
    assert "x-mock-fault" in message


async def test_scenario_sequence_then_random_is_seeded(client) -> None:
    scenario = {
        "seed": 3,
        "sequence": ["status=503", "ok", "status=429"],
        "random": [{"fault": "status=500", "probability": 0.5}],
    }
    assert (await client.post("/__mock/scenario", json=scenario)).status == 200

    async def statuses(n: int) -> list[int]:
        return [(await client.post(PATH, data=wav(0.5))).status for _ in range(n)]

    first = await statuses(12)
    assert first[:3] == [503, 200, 429]
    assert set(first[3:]) == {200, 500}
    await client.post("/__mock/scenario", json=scenario)
    assert await statuses(12) == first  # same seed, same faults
    await client.post("/__mock/reset")
    assert await statuses(3) == [200, 200, 200]


async def test_scenario_validation(client) -> None:
    for bad in (
        {"sequence": ["boom"]},
        {"random": [{"fault": "status=429", "probability": 2}]},
        {"nope": 1},
        [1],
    ):
        resp = await client.post("/__mock/scenario", json=bad)
        assert resp.status == 400, bad


async def test_journal_controls(client) -> None:
    await client.post(PATH, data=wav(0.5))
    await client.post(PATH, json={"inputs": b64(wav(0.5)), "parameters": {"return_timestamps": True}})
    entries = (await (await client.get("/__mock/requests")).json())["requests"]
    assert [e["form"] for e in entries] == ["raw", "json"]
    assert entries[1]["parameters"] == {"return_timestamps": True}
    assert entries[0]["audio_sha256"] == entries[1]["audio_sha256"]
    assert (await (await client.delete("/__mock/requests")).json()) == {"deleted": 2}
    assert (await (await client.get("/__mock/requests")).json())["requests"] == []


async def test_state_is_reachable(client) -> None:
    state = front_state(client.server.app)
    await client.post(PATH, data=wav(0.5))
    assert len(state.journal.entries()) == 1 and len(state.cache) == 1


async def test_unexpected_engine_exception_is_the_real_500(make_client) -> None:
    client = await make_client()
    engine = front_state(client.server.app).engine

    async def broken(*_args):
        raise RuntimeError("boom")

    engine.transcribe = broken
    resp = await client.post(PATH, data=wav(0.5))
    body = await resp.json()
    assert resp.status == 500 and body["error"] == "unknown error"
    assert "boom" in body["warnings"][0]


async def test_documented_view_uses_plural_key(make_client) -> None:
    client = await make_client(spec_view="documented")
    resp = await client.post(PATH, json={"inputs": b64(wav(2.0)), "parameters": {"return_timestamps": True}})
    chunks = (await resp.json())["chunks"]
    assert chunks and all(set(c) == {"text", "timestamps"} for c in chunks)


async def test_every_answer_follows_the_spec_header_rules(make_client) -> None:
    from asr_conformance import spec

    rules = spec.response_headers()
    client = await make_client(token="t", max_body_bytes=60_000)
    auth = {"Authorization": "Bearer t"}
    loading = {**auth, "x-mock-fault": "loading"}
    answers = [
        await client.post(PATH, data=wav(1.0), headers=auth),
        await client.post(PATH, data=wav(1.0), headers=auth),  # cache hit
        await client.post(
            PATH, json={"inputs": b64(wav(1.0)), **{"parameters": {"return_timestamps": True}}}, headers=auth
        ),
        await client.post(PATH, data=b"junk", headers=auth),
        await client.post(PATH, json={"inputs": 1}, headers=auth),
        await client.post(PATH, data=wav(1.0)),
        await client.get(PATH),
        await client.post(PATH, data=wav(3.0), headers=auth),
        await client.post(PATH, data=wav(1.0), headers={**auth, "x-mock-fault": "status=429"}),
        await client.post(PATH, data=wav(1.0), headers={**auth, "x-mock-fault": "status=500"}),
        await client.post(PATH, data=wav(1.0), headers=loading),
    ]
    assert sorted({a.status for a in answers}) == [200, 400, 401, 405, 413, 429, 500, 503]
    for answer in answers:
        for rule in rules:
            if rule.applies(answer.status):
                value = answer.headers.get(rule.name)
                assert value is not None, (answer.status, rule.name)
                assert rule.matches(value), (answer.status, rule.name, value)
