"""Every --violate switch breaks its one documented behaviour, and the same probe passes without it."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asr_conformance.mock_server import audio
from asr_conformance.mock_server.violations import VIOLATIONS
from click.testing import CliRunner
from mock_helpers import PATH, b64, tone, wav

#: the names other parts of the project map to checks: a contract
CONTRACT_NAMES = {
    "plural-chunk-key", "chunks-unasked", "no-chunks", "timestamps-past-end", "timestamps-decreasing",
    "timestamp-null-end", "timestamps-strings", "chunk-text-mismatch", "text-missing", "text-not-string",
    "500-on-bad-audio", "plain-text-errors", "error-key-missing", "ignored-auth", "ignored-wait-for-model",
    "loading-no-estimated-time", "nondeterministic-text", "cache-always", "cache-unmarked",
    "accept-invalid-params", "reject-valid-params", "reject-raw-without-content-type", "reject-json-form",
    "wrong-content-type", "missing-compute-headers", "ignore-body-limit", "reject-mp3", "reject-8khz", "slow",
    "500-on-huge-param",
}  # fmt: skip

TIMESTAMPS = {"parameters": {"return_timestamps": True}}
SPEECH = wav(3.0, gaps=True)  # two stretches of sound: several chunks


async def body_of(resp) -> Any:
    """The JSON body whatever its label (wrong-content-type must not break the other probes)."""
    return json.loads(await resp.read())


async def stamps(client) -> list[list[Any]] | None:
    """Chunk timestamps of a timestamped request; None when there are none to judge."""
    resp = await client.post(PATH, json={"inputs": b64(SPEECH), **TIMESTAMPS})
    if resp.status != 200:
        return None
    chunks = (await body_of(resp)).get("chunks") or []
    return [c.get("timestamp", c.get("timestamps")) for c in chunks]


def numbers(pairs: list[list[Any]]) -> list[float]:
    return [v for pair in pairs for v in pair if isinstance(v, float | int)]


async def post_json(client, payload: dict, **headers: str):
    return await client.post(PATH, json={"inputs": b64(SPEECH), **payload}, headers=headers)


# Each probe returns True when the documented behaviour holds (vacuously when another switch hid it).
Probe = Callable[[Any], Awaitable[bool]]


async def p_chunk_key(client) -> bool:
    resp = await post_json(client, TIMESTAMPS)
    chunks = (await body_of(resp)).get("chunks") or [] if resp.status == 200 else []
    return all("timestamps" not in c for c in chunks)


async def p_chunks_unasked(client) -> bool:
    return "chunks" not in await body_of(await client.post(PATH, data=SPEECH))


async def p_chunks_present(client) -> bool:
    resp = await post_json(client, TIMESTAMPS)
    return resp.status != 200 or bool((await body_of(resp)).get("chunks"))


async def p_within_duration(client) -> bool:
    pairs = await stamps(client) or []
    return all(0 <= v <= 3.0 for v in numbers(pairs))


async def p_non_decreasing(client) -> bool:
    flat = numbers(await stamps(client) or [])
    return all(a <= b for a, b in itertools.pairwise(flat))


async def p_end_not_null(client) -> bool:
    return all(e is not None for _, e in await stamps(client) or [])


async def p_numbers(client) -> bool:
    return all(v is None or isinstance(v, float | int) for pair in await stamps(client) or [] for v in pair)


async def p_chunks_join(client) -> bool:
    resp = await post_json(client, TIMESTAMPS)
    body = await body_of(resp) if resp.status == 200 else {}
    if not isinstance(body.get("text"), str) or not body.get("chunks"):
        return True
    return "".join(c["text"] for c in body["chunks"]) == body["text"]


async def p_text_present(client) -> bool:
    return "text" in await body_of(await client.post(PATH, data=SPEECH))


async def p_text_string(client) -> bool:
    return isinstance((await body_of(await client.post(PATH, data=SPEECH))).get("text", ""), str)


async def p_bad_audio_400(client) -> bool:
    return (await client.post(PATH, data=b"not audio")).status == 400


async def p_json_errors(client) -> bool:
    resp = await client.post(PATH, data=b"not audio")
    return resp.headers["Content-Type"] == "application/json" and isinstance(await body_of(resp), dict)


async def p_error_key(client) -> bool:
    resp = await client.post(PATH, data=b"not audio")
    if resp.headers["Content-Type"] != "application/json":
        return True
    return "error" in await body_of(resp)


async def p_auth(client) -> bool:
    return (await client.post(PATH, data=SPEECH)).status == 401  # the client runs with a token configured


async def p_wait(client) -> bool:
    resp = await client.post(
        PATH, data=SPEECH, headers={"x-mock-fault": "loading", "x-wait-for-model": "true"}
    )
    return resp.status == 200


async def p_estimated_time(client) -> bool:
    resp = await client.post(PATH, data=SPEECH, headers={"x-mock-fault": "loading"})
    if resp.headers["Content-Type"] != "application/json":
        return True  # no JSON object to hold it: plain-text-errors' business
    return resp.status == 503 and "estimated_time" in await body_of(resp)


async def p_deterministic(client) -> bool:
    texts = set()
    for _ in range(3):
        resp = await client.post(PATH, data=SPEECH, headers={"x-use-cache": "false"})
        texts.add(str((await body_of(resp)).get("text")))
    return len(texts) == 1


async def p_cache_bypass(client) -> bool:
    await client.post(PATH, data=SPEECH)
    resp = await client.post(PATH, data=SPEECH, headers={"x-use-cache": "false"})
    return resp.headers.get("x-compute-type") != "cache"


async def p_cache_marked(client) -> bool:
    await client.post(PATH, data=SPEECH)
    return (await client.post(PATH, data=SPEECH)).headers.get("x-compute-type", "cache") == "cache"


async def p_rejects_invalid(client) -> bool:
    return (
        await post_json(client, {"parameters": {"generation_parameters": {"top_k": "many"}}})
    ).status == 400


async def p_accepts_valid(client) -> bool:
    resp = await post_json(
        client, {"parameters": {"generation_parameters": {"num_beams": 1, "do_sample": False}}}
    )
    return resp.status == 200


async def p_raw_no_type(client) -> bool:
    return (await client.post(PATH, data=SPEECH, skip_auto_headers=["Content-Type"])).status == 200


async def p_json_form(client) -> bool:
    return (await post_json(client, {})).status == 200


async def p_content_type(client) -> bool:
    return (await client.post(PATH, data=SPEECH)).headers["Content-Type"] == "application/json"


async def p_compute_headers(client) -> bool:
    headers = (await client.post(PATH, data=SPEECH)).headers
    return all(h in headers for h in ("x-compute-time", "x-compute-type", "x-compute-audio-length"))


async def p_body_limit(client) -> bool:
    return (await client.post(PATH, data=wav(5.0))).status == 413  # the client runs with a 100 kB limit


async def p_mp3(client) -> bool:
    return (await client.post(PATH, data=audio.encode(tone(1.0), 16000, "mp3"))).status == 200


async def p_8khz(client) -> bool:
    return (await client.post(PATH, data=wav(1.0, rate=8000))).status == 200


async def p_fast(client) -> bool:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.post(PATH, data=SPEECH)
    return loop.time() - started < 1.0


async def p_huge_param(client) -> bool:
    resp = await post_json(client, {"parameters": {"generation_parameters": {"max_new_tokens": 2**40}}})
    return resp.status < 500


async def p_router(client) -> bool:
    return (await client.post(f"/hf-inference{PATH}", data=SPEECH)).status == 200


async def p_boolean_spellings(client) -> bool:
    resp = await client.post(PATH, data=SPEECH, headers={"x-mock-fault": "loading", "x-wait-for-model": "1"})
    return resp.status == 200


async def p_speech_chunks(client) -> bool:
    resp = await post_json(client, TIMESTAMPS)
    body = await body_of(resp) if resp.status == 200 else {}
    # only the empty answer: a missing key is other switches' business (no-chunks, text-missing)
    return body.get("chunks") != [] and body.get("text") != ""


async def p_audio_length_seconds(client) -> bool:
    value = (await client.post(PATH, data=SPEECH)).headers.get("x-compute-audio-length", "3")
    return abs(float(value) - 3.0) < 0.5


async def p_compute_time_number(client) -> bool:
    value = (await client.post(PATH, data=SPEECH)).headers.get("x-compute-time", "0")
    try:
        float(value)
    except ValueError:
        return False
    return True


async def p_large_body(client) -> bool:
    return (await client.post(PATH, data=wav(36.0))).status == 200  # 1.15 MB: over aiohttp's 1 MiB default


async def p_client_labels(client) -> bool:
    return (await client.post(PATH, data=SPEECH, headers={"Content-Type": "audio/x-wav"})).status == 200


async def p_inputs_not_read(client, tmp_dir: list[str] = []) -> bool:  # noqa: B006 (one folder per session)
    import tempfile
    from pathlib import Path as _Path

    if not tmp_dir:
        import atexit
        import shutil

        tmp_dir.append(tempfile.mkdtemp(prefix="asr-probe-"))
        atexit.register(shutil.rmtree, tmp_dir[0], True)  # no folder left in /tmp per test session
    path = _Path(tmp_dir[0]) / "speech.wav"
    path.write_bytes(SPEECH)
    return (await client.post(PATH, json={"inputs": str(path)})).status != 200


async def p_unknown_model_404(client) -> bool:
    return (await client.post("/models/no-such/model", data=SPEECH)).status == 404


PROBES: dict[str, Probe] = {
    "plural-chunk-key": p_chunk_key,
    "chunks-unasked": p_chunks_unasked,
    "no-chunks": p_chunks_present,
    "timestamps-past-end": p_within_duration,
    "timestamps-decreasing": p_non_decreasing,
    "timestamp-null-end": p_end_not_null,
    "timestamps-strings": p_numbers,
    "chunk-text-mismatch": p_chunks_join,
    "text-missing": p_text_present,
    "text-not-string": p_text_string,
    "500-on-bad-audio": p_bad_audio_400,
    "plain-text-errors": p_json_errors,
    "error-key-missing": p_error_key,
    "ignored-auth": p_auth,
    "ignored-wait-for-model": p_wait,
    "loading-no-estimated-time": p_estimated_time,
    "nondeterministic-text": p_deterministic,
    "cache-always": p_cache_bypass,
    "cache-unmarked": p_cache_marked,
    "accept-invalid-params": p_rejects_invalid,
    "reject-valid-params": p_accepts_valid,
    "reject-raw-without-content-type": p_raw_no_type,
    "reject-json-form": p_json_form,
    "wrong-content-type": p_content_type,
    "missing-compute-headers": p_compute_headers,
    "ignore-body-limit": p_body_limit,
    "reject-mp3": p_mp3,
    "reject-8khz": p_8khz,
    "slow": p_fast,
    "500-on-huge-param": p_huge_param,
    "router-path-404": p_router,
    "strict-boolean-headers": p_boolean_spellings,
    "empty-timestamped-speech": p_speech_chunks,
    "audio-length-ms": p_audio_length_seconds,
    "compute-time-not-number": p_compute_time_number,
    "small-body-limit": p_large_body,
    "strict-client-headers": p_client_labels,
    "inputs-dereferenced": p_inputs_not_read,
    "any-model-id": p_unknown_model_404,
}

#: every client: short simulated loads keep the loading probes quick
FAST = {"fault_loading_seconds": 0.05}
SETTINGS: dict[str, dict[str, Any]] = {
    "ignored-auth": {"token": "hf_secret"},
    "ignore-body-limit": {"max_body_bytes": 100_000},
    "slow": {"slow_seconds": 1.2},
    "any-model-id": {"model_id": "openai/whisper-large-v3"},
}


def test_contract_names_exist_and_every_violation_has_a_probe() -> None:
    assert set(VIOLATIONS) >= CONTRACT_NAMES
    assert set(PROBES) == set(VIOLATIONS)
    assert all(line and "\n" not in line for line in VIOLATIONS.values())


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
async def test_violation_breaks_its_behaviour(make_client, name) -> None:
    settings = {**FAST, **SETTINGS.get(name, {})}
    assert await PROBES[name](await make_client(**settings)), "the well-behaved mock must pass the probe"
    assert not await PROBES[name](await make_client(violate=(name,), **settings)), "the switch must break it"


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
async def test_violation_breaks_nothing_else(make_client, name) -> None:
    """The other probes still pass with this switch on (the meta-tests rely on one check firing)."""
    others = [n for n in PROBES if n != name and n not in SETTINGS and n != "nondeterministic-text"]
    client = await make_client(violate=(name,), slow_seconds=0.01, **FAST)
    broken = []
    for other in others:
        await client.post("/__mock/reset")
        if not await PROBES[other](client):
            broken.append(other)
    assert broken == EXPECTED_OVERLAP.get(name, [])


#: probes that cannot see their behaviour once another switch hides it (documented, not accidental)
EXPECTED_OVERLAP: dict[str, list[str]] = {
    # timestamps and generation parameters can only be asked for in the JSON form
    "reject-json-form": ["reject-valid-params"],
    # both concern x-wait-for-model: when waiting is ignored, no spelling of "true" can make it wait
    "ignored-wait-for-model": ["strict-boolean-headers"],
    # an empty answer to timestamped speech has no chunks either
    "empty-timestamped-speech": ["no-chunks"],
}


def test_violate_list_cli() -> None:
    from asr_conformance.cli import main

    result = CliRunner().invoke(main, ["mock", "--violate", "list"])
    assert result.exit_code == 0
    for name in VIOLATIONS:
        assert name in result.output


def test_unknown_violation_is_refused() -> None:
    from asr_conformance.cli import main

    result = CliRunner().invoke(main, ["mock", "--violate", "no-such-thing", "--port", "0"])
    assert result.exit_code != 0 and "no-such-thing" in result.output
