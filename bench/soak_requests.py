"""The hostile requests of bench/soak.py: each built from a seed and its index, all distinct.

Classes (``KINDS``): header bytes, JSON depth/size/surrogates/huge numbers, WAV header mutations, bit-
flipped and truncated audio files, HTTP parser abuse, control endpoints and fault headers without the
token, secrets in paths, queries, parameters and headers, and audio bombs inside JSON ``inputs``.
"""

from __future__ import annotations

import base64
import json
import random
import struct

import numpy as np
from asr_conformance.mock_server import audio

TOKEN = "hf_soakCanaryTokenABCDEFGHIJKLMN"
PATH = "/models/openai/whisper-large-v3"
SECRETS = (TOKEN, "soak-param-secret-value", "soak-query-secret-987")


def samples(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


SEEDS = {codec: audio.encode(samples(16000, 1.0), 16000, codec) for codec in ("wav", "flac", "mp3", "ogg")}


# ------------------------------------------------------------------------------------ requests


def http(path: str, body: bytes, headers: dict[str, bytes | str] | None = None, auth: bool = True) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: soak", f"Content-Length: {len(body)}".encode()]
    if auth:
        lines.append(f"Authorization: Bearer {TOKEN}".encode())
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def wav_header(rng: random.Random) -> bytes:
    tag = rng.choice([1, 1, 3, 0xFFFE, 0, 2, 0x55, rng.randrange(65536)])
    channels = rng.choice([1, 2, 0, 3, 8, 9, 1000, rng.randrange(65536)])
    rate = rng.choice([16000, 1, 0, 999, 768_001, 2**31, 2**32 - 1, rng.randrange(2**32)])
    bits = rng.choice([16, 8, 24, 32, 64, 0, 1, 12, 65, rng.randrange(65536)])
    data = rng.randbytes(rng.choice([0, 2, 100, 4000, 32000]))
    size = rng.choice([len(data), 0, 0xFFFFFFFF, len(data) * 1000, rng.randrange(2**32)])
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rng.randrange(2**32), rng.randrange(65536), bits)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVE"
        + b"fmt "
        + b"\x10\0\0\0"
        + fmt
        + b"data"
        + (struct.pack("<I", size) + data)
    )


def mutated_file(rng: random.Random) -> bytes:
    data = bytearray(SEEDS[rng.choice(list(SEEDS))])
    for _ in range(rng.choice([1, 4, 32])):
        data[rng.randrange(len(data))] = rng.randrange(256)
    if rng.random() < 0.3:
        data = data[: rng.randrange(1, len(data))]
    if rng.random() < 0.2 and data[:4] == b"fLaC":  # STREAMINFO rate: 20 bits at byte 18
        data[18:21] = rng.choice([b"\x00\x00\x10", b"\x00\x00\x00", b"\xff\xff\xf0"])
    return bytes(data)


def json_body(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    inputs = base64.b64encode(SEEDS["wav"]).decode()
    if kind == 0:
        depth = rng.choice([65, 100, 1020, 5000, 100_000])
        opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
        return ('{"inputs": "", "parameters": {"x": ' + opener * depth + "1" + closer * depth + "}}").encode()
    if kind == 1:
        return b"[" * rng.randrange(1000, 200_000)
    if kind == 2:
        escapes = "".join(
            rng.choice(["\\ud800", "\\udfff", "\\u0000", "\\uffff", "é", "\\\\"]) for _ in range(8)
        )
        return ('{"inputs": "%s", "parameters": {"x%s": "%s"}}' % (inputs, escapes, escapes)).encode()  # noqa: UP031
    if kind == 3:
        big = rng.choice(["1" + "0" * rng.randrange(20, 5000), "1e999", "NaN", "-Infinity", "5e-324"])
        key = rng.choice(["temperature", "top_p", "top_k", "num_beams", "max_new_tokens"])
        parameters = f'{{"generation_parameters": {{"{key}": {big}}}}}'
        return f'{{"inputs": "{inputs}", "parameters": {parameters}}}'.encode()
    if kind == 4:
        value = "v" * rng.choice([1000, 100_000, 1_000_000])
        return json.dumps({"inputs": inputs, "parameters": {f"k{rng.randrange(10**9)}": value}}).encode()
    return rng.randbytes(rng.randrange(1, 400))


def parser_abuse(rng: random.Random) -> bytes:
    choices = [
        b"GARBAGE " + rng.randbytes(20) + b"\r\n\r\n",
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: -{rng.randrange(9)}\r\n\r\n".encode(),
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{rng.randrange(9)}z\r\n".encode(),  # noqa: E501
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * rng.randrange(8000, 90000)}\r\n\r\n".encode(),
        f"POST /{'a' * rng.randrange(8000, 90000)} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"POST {PATH} HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: {rng.randrange(9)}\r\n\r\nab".encode(),
        f"POST {PATH} HTTP/9.{rng.randrange(9)}\r\n\r\n".encode(),
        b"POST "
        + PATH.encode()
        + b" HTTP/1.1\r\nHost: x\r\nX: "
        + rng.randbytes(30).replace(b"\n", b"")
        + b"\r\n\r\n",
    ]
    return rng.choice(choices)


def control(rng: random.Random) -> bytes:
    path = rng.choice(["/__mock/requests", "/__mock/scenario", "/__mock/reset", "/__mock/x", "/healthz"])
    method = rng.choice(["GET", "POST", "DELETE", "PUT"])
    body = rng.choice([b'{"sequence": ["status=500"], "loop": true}', b"[" * 5000, rng.randbytes(50)])
    fault = rng.choice(
        [{"x-mock-fault": "status=500"}, {"x-mock-fault": "delay=300"}, {"Prefer": "code=503"}]
    )
    if rng.random() < 0.5:
        return http(PATH, SEEDS["wav"], fault, auth=False)  # faults without the token: ignored, 401
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def secrets_request(rng: random.Random) -> bytes:
    where = rng.randrange(4)
    if where == 0:
        return http(f"{PATH}/{TOKEN}?api_key={SECRETS[2]}&access_token={TOKEN}", b"x")
    if where == 1:
        params = {"token": SECRETS[1], "x": f"Bearer {TOKEN}", "return_timestamps": TOKEN}
        return http(
            PATH,
            json.dumps({"inputs": "AAAA", "parameters": params}).encode(),
            {"Content-Type": "application/json"},
        )
    if where == 2:
        return http(
            PATH, b"x", {"X-Api-Key": SECRETS[1], "Cookie": f"s={TOKEN}", "User-Agent": f"ua {TOKEN}"}
        )
    return http(PATH, b"x", {"Authorization": f"Basic {SECRETS[1]}"}, auth=False)


KINDS = ("headers", "json", "wav", "file", "parser", "control", "secrets", "audio-json")


def build(index: int, seed: int) -> tuple[str, bytes]:
    """Request ``index``: its class and its bytes (deterministic, all distinct)."""
    rng = random.Random(seed * 1_000_003 + index)
    kind = KINDS[index % len(KINDS)]
    tag = f"x-soak: {index}"  # every request differs at least here
    if kind == "headers":
        headers = {"User-Agent": rng.randbytes(12).replace(b"\r", b"").replace(b"\n", b""),
                   "X-Amzn-Trace-Id": rng.randbytes(8).replace(b"\r", b"").replace(b"\n", b""),
                   "x-use-cache": rng.choice([b"\xff", b"maybe", b"TRUE", b""])}  # fmt: skip
        return kind, http(f"/hf-inference{PATH}?i={index}", SEEDS["wav"], headers)
    if kind == "json":
        return kind, http(f"{PATH}?i={index}", json_body(rng), {"Content-Type": "application/json"})
    if kind == "wav":
        return kind, http(f"{PATH}?i={index}", wav_header(rng), {"Content-Type": "audio/wav"})
    if kind == "file":
        return kind, http(f"{PATH}?i={index}", mutated_file(rng))
    if kind == "parser":
        return kind, parser_abuse(rng).replace(b"Host: x", f"Host: x\r\n{tag}".encode(), 1)
    if kind == "control":
        return kind, control(rng).replace(b"Host: x", f"Host: x\r\n{tag}".encode(), 1)
    if kind == "secrets":
        return kind, secrets_request(rng).replace(b"Host: soak", f"Host: soak\r\n{tag}".encode(), 1)
    bomb = rng.choice(
        [b"RIFF\0\0\0\0WAVE" + b"junk\0\0\0\0" * rng.randrange(1000, 400_000), mutated_file(rng)]
    )
    body = json.dumps({"inputs": base64.b64encode(bomb).decode()}).encode()
    return kind, http(f"{PATH}?i={index}", body, {"Content-Type": "application/json"})


__all__ = ["KINDS", "PATH", "SECRETS", "SEEDS", "TOKEN", "build"]
