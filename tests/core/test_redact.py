"""The one scrubbing function: what it masks, and what it must leave alone."""

from __future__ import annotations

import base64

import pytest

from asr_conformance.core.redact import MASK, scrub

TOKEN = "hf_" + "Q" * 34


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {TOKEN}", f"Authorization: Bearer {MASK}"),
        (f"/models/x?api_key={TOKEN}&a=1", f"/models/x?api_key={MASK}&a=1"),
        (f'error: invalid {{"token": "{TOKEN}"}}', f'error: invalid {{"token": "{MASK}"}}'),
        ("model hf_internal, max_new_tokens=3", "model hf_internal, max_new_tokens=3"),
    ],
)
def test_text(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_known_secrets_in_any_form() -> None:
    secret = "s3cr3t-value"
    encoded = base64.b64encode(b"prefix" + secret.encode()).decode()
    assert secret not in scrub(f"a {secret} b", [secret])
    assert scrub(encoded, [secret]) != encoded  # inside base64 too
    assert scrub("short ab", ["ab"]) == "short ab"  # too short to search for


def test_names_decide_for_values() -> None:
    data = {"hf_token": "abc", "x-api-key": "k", "max_new_tokens": 3, "nested": [{"password": 1}]}
    expected = {"hf_token": MASK, "x-api-key": MASK, "max_new_tokens": 3, "nested": [{"password": MASK}]}
    assert scrub(data) == expected
    assert scrub("Bearer abc", name="Authorization") == f"Bearer {MASK}"
    assert data["hf_token"] == "abc"  # never mutates


def test_depth_is_bounded() -> None:
    deep: list = []
    cur = deep
    for _ in range(500):
        cur.append([])
        cur = cur[0]
    assert scrub(deep) is not None
