"""Secret scrubbing: credential headers, hf_ tokens anywhere, explicit secrets of any shape."""

from __future__ import annotations

from asr_conformance.conformance.model import Exchange, Request, Response
from asr_conformance.conformance.record.scrub import REDACTED, Scrubber

TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"  # the real shape: hf_ + 34 letters and digits


def exchange_with_secrets() -> Exchange:
    request = Request(
        method="POST",
        path="/models/x?access_token=" + TOKEN,
        headers=(
            ("Authorization", f"Bearer {TOKEN}"),
            ("Cookie", "session=abc"),
            ("X-Custom", f"token={TOKEN}; other"),
            ("Content-Type", "application/json"),
        ),
        body=b'{"inputs": "AAAA", "note": "' + TOKEN.encode() + b'"}',
    )
    response = Response(
        status=401,
        headers=(("Set-Cookie", "s=1; HttpOnly"), ("X-Error-Message", f"Invalid token {TOKEN}")),
        body=b'{"error": "Invalid credentials in Authorization header: Bearer ' + TOKEN.encode() + b'"}',
        elapsed_s=0.01,
    )
    return Exchange(request, response)


def test_scrubs_request_and_response_headers_and_bodies():
    clean = Scrubber().exchange(exchange_with_secrets())
    assert dict(clean.request.headers)["Authorization"] == REDACTED
    assert dict(clean.request.headers)["Cookie"] == REDACTED
    assert dict(clean.request.headers)["X-Custom"] == f"token={REDACTED}; other"
    assert dict(clean.request.headers)["Content-Type"] == "application/json"
    assert clean.request.path == f"/models/x?access_token={REDACTED}"
    assert clean.request.body == b'{"inputs": "AAAA", "note": "REDACTED"}'
    assert clean.response is not None
    assert dict(clean.response.headers)["Set-Cookie"] == REDACTED
    assert TOKEN not in repr(clean)
    assert not Scrubber().finds_secret(repr(clean))
    assert Scrubber().finds_secret(repr(exchange_with_secrets()))


def test_explicit_secret_of_any_shape_is_removed_even_inside_binary():
    secret = "s3cr3t-not-hf-shaped"
    body = b"\x00\xffRIFF" + secret.encode() + b"\x00"
    scrubber = Scrubber.of([secret, None, ""])
    assert scrubber.bytes(body) == b"\x00\xffRIFFREDACTED\x00"
    assert scrubber.text(f"a {secret} b") == "a REDACTED b"
    assert scrubber.finds_secret(body)


def test_leaves_ordinary_text_alone():
    text = "x-inference-provider: hf-inference; model hf_internal; hf_short1234"
    assert Scrubber().text(text) == text
    assert Scrubber().url("https://user:pw@router.huggingface.co/hf-inference/models/a") == (
        "https://router.huggingface.co/hf-inference/models/a"
    )


def test_counts_named_like_tokens_and_audio_are_kept_byte_exact():
    """``max_new_tokens`` is a count, not a secret; base64 audio is never rewritten by text rules."""
    body = b'{"inputs": "UklGRiQAAABXQVZFsig=", "parameters": {"max_new_tokens": 3, "min_new_tokens": 1}}'
    assert Scrubber().bytes(body) == body
    with_token = b'{"inputs": "UklGRsig=", "parameters": {"token": "abcd1234", "max_new_tokens": 3}}'
    cleaned = Scrubber().bytes(with_token)
    assert b'"inputs": "UklGRsig="' in cleaned and b'"max_new_tokens": 3' in cleaned
    assert b"abcd1234" not in cleaned
