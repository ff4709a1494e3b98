"""Property: whatever arrives, the answer is a JSON 2xx/4xx, never a 5xx, a hang or a crash."""

from __future__ import annotations

import base64

import pytest
import requests
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mock_helpers import wav

AUDIO = wav(0.5)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
generation_keys = st.sampled_from(
    ["temperature", "top_k", "top_p", "max_new_tokens", "do_sample", "num_beams", "early_stopping", "other"]
)
parameters = st.fixed_dictionaries(
    {},
    optional={
        "return_timestamps": json_values,
        "generation_parameters": st.dictionaries(generation_keys, json_values, max_size=4) | json_values,
        "generate_kwargs": st.dictionaries(generation_keys, json_values, max_size=3),
        "extra": json_values,
    },
)
inputs = st.one_of(
    st.just(base64.b64encode(AUDIO).decode()),
    st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
    st.text(max_size=50),
    json_values,
)
header_values = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=12)


@pytest.fixture(scope="module")
def server():
    with MockServer(MockConfig(max_body_bytes=200_000)) as mock:
        yield mock


def assert_clean(resp: requests.Response) -> None:
    assert resp.status_code < 500, resp.text
    body = resp.json()
    assert isinstance(body, dict)
    if resp.status_code >= 400:
        assert isinstance(body["error"], str) and body["error"]
    else:
        assert isinstance(body["text"], str)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.fixed_dictionaries({}, optional={"inputs": inputs, "parameters": parameters | json_values}))
def test_any_json_payload(server, payload) -> None:
    assert_clean(requests.post(server.model_url(), json=payload, timeout=10))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=2000), st.just(AUDIO), st.binary(max_size=200).map(lambda b: AUDIO[:44] + b)
    ),
    content_type=st.sampled_from(
        [None, "audio/wav", "application/json", "text/plain", "application/octet-stream"]
    ),
    use_cache=st.none() | header_values,
    wait=st.none() | header_values,
)
def test_any_raw_body_and_headers(server, body, content_type, use_cache, wait) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if use_cache is not None:
        headers["x-use-cache"] = use_cache
    if wait is not None:
        headers["x-wait-for-model"] = wait
    assert_clean(requests.post(server.model_url(), data=body, headers=headers, timeout=10))
