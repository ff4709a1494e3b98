"""The canary: a target that requires a token, run, compared, recorded and proxied through; the token is
then searched for everywhere it could leak: cassettes, reports, logs, the server's journal, stdout/stderr."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import string
import subprocess
import sys
from pathlib import Path

import requests
from asr_conformance.conformance.targets.body_store import BodyReader
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.server import MockServer

ALNUM = string.ascii_letters + string.digits
CANARY = "hf_canary" + "".join(secrets.choice(ALNUM) for _ in range(25))


def forms(token: str) -> list[bytes]:
    """The token as bytes, in base64 at all three alignments, and JSON-escaped: every way it could hide."""
    raw = token.encode()
    found = [raw, json.dumps(token).encode()]
    for shift in range(3):
        encoded = base64.b64encode(b"\x00" * shift + raw)[4 if shift else 0 :]
        found.append(encoded[: len(encoded) - 4])  # the stable middle, whatever follows
    return found


def leaks(data: bytes, token: str = CANARY) -> list[str]:
    return [f.decode() for f in forms(token) if f in data]


def test_the_leak_search_finds_what_it_looks_for():
    """Without this, an empty search result would prove nothing."""
    for shift in range(3):
        assert leaks(b"x" * shift + base64.b64encode(b"y" * shift + f"Bearer {CANARY}!".encode()))
    assert leaks(json.dumps({"a": CANARY}).encode())
    assert not leaks(b"hf_canaryREDACTED")


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asr_conformance", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_the_canary_token_leaks_nowhere(tmp_path: Path, capfd):
    env = {**os.environ, "ASR_CANARY": CANARY, "NO_COLOR": "1"}
    out = tmp_path / "out"
    with MockServer(MockConfig(token=CANARY)) as mock:
        url = mock.model_url()
        # without the token the target refuses: the canary really is required
        assert requests.post(url, data=b"RIFF", timeout=10).status_code == 401
        run = cli(
            "run", "--target", url, "--token-env", "ASR_CANARY", "--profile", "quick", "--max-examples", "5",
            "--seed", "11", "--record", str(out / "run-cassettes"), "--report-dir", str(out / "run-report"),
            env=env,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr
        compare = cli(
            "compare", "--target", url, "--target", "mock", "--synthetic", url, "--token-env", "ASR_CANARY",
            "--seed", "11", "--max-examples", "5", "--record", str(out / "compare-cassettes"),
            "--report-dir", str(out / "compare-report"),
            env=env,
        )  # fmt: skip
        assert compare.returncode == 0, compare.stderr
        proxy = subprocess.Popen(
            [sys.executable, "-m", "asr_conformance", "proxy", "--upstream", mock.url, "--port", "0",
             "--log", str(out / "proxy.jsonl")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        proxy_url = re.search(r"(http://\S+)", proxy.stdout.readline()).group(1)  # type: ignore[union-attr]
        path = "/models/openai/whisper-large-v3"
        authed = requests.post(
            proxy_url + path,
            data=b"not audio " + CANARY.encode(),  # a client that even puts the token in the body
            headers={"Authorization": f"Bearer {CANARY}", "Cookie": f"t={CANARY}"},
            timeout=30,
        )
        proxy.send_signal(signal.SIGTERM)
        proxy_out, proxy_err = proxy.communicate(timeout=30)
        journal = requests.get(  # the controls need the mock's token too
            mock.url + "/__mock/requests", headers={"Authorization": f"Bearer {CANARY}"}, timeout=10
        ).content
        statuses = [e["status"] for e in json.loads(journal)["requests"]]
    assert authed.status_code == 400  # the proxied request passed auth and was judged on its body
    # the runs were authenticated: most requests succeeded, and the auth scenarios saw their 401s
    assert statuses.count(200) > 100 and statuses.count(401) >= 3

    found: dict[str, list[str]] = {}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".yaml", ".json", ".jsonl", ".md", ".html", ".xml"}
    assert len([p for p in files if p.suffix == ".yaml"]) == 3  # run + compare's two targets
    for file in files:
        if hits := leaks(file.read_bytes()):
            found[str(file.relative_to(out))] = hits
        if file.suffix == ".bodies":  # compressed: search every body as replay decodes it
            store = BodyReader(file)
            decoded = b"\n".join(store.get(sha) for sha in store._records)
            if hits := leaks(decoded):
                found[f"{file.relative_to(out)} (decoded)"] = hits
    captured = capfd.readouterr()
    streams = {
        "run stdout": run.stdout, "run stderr": run.stderr,
        "compare stdout": compare.stdout, "compare stderr": compare.stderr,
        "proxy stdout": proxy_out, "proxy stderr": proxy_err,
        "mock server output": captured.out + captured.err,
        "journal": journal.decode(),
    }  # fmt: skip
    for name, text in streams.items():
        if hits := leaks(text.encode()):
            found[name] = hits
    assert found == {}
