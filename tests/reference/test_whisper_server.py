"""Real Whisper tiny.en behind the HTTP front, through real HTTP: accuracy, fidelity, parameters, batching.

One server for the whole module (strict validation, ``--seed``); the corpus is sent concurrently once so
that requests are batched, and the same texts feed the WER, fidelity and batching tests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jiwer
import pytest
import requests
from asr_conformance.mock_server.audio import decode
from asr_conformance.mock_server.server import MockServer
from asr_conformance.reference.text_normalizer import normalize
from asr_conformance.reference.whisper_engine import EngineSettings, WhisperEngine, front_config

pytestmark = [pytest.mark.whisper, pytest.mark.slow]

SEED = 1234
WAIT = {"x-wait-for-model": "true", "x-use-cache": "false"}
CONTENT_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg",
                 "opus": "audio/ogg", "m4a": "audio/mp4", "webm": "audio/webm"}  # fmt: skip


class Served:
    def __init__(self, server: MockServer, engine: WhisperEngine) -> None:
        self.server = server
        self.engine = engine
        self.url = server.model_url()

    def raw(self, clip: Any, headers: dict[str, str] | None = None) -> requests.Response:
        ctype = CONTENT_TYPES[clip.recipe.codec]
        return requests.post(
            self.url,
            data=clip.read_bytes(),
            headers={"Content-Type": ctype, **WAIT, **(headers or {})},
            timeout=600,
        )

    def json(self, clip: Any, parameters: dict[str, Any]) -> requests.Response:
        body = {"inputs": base64.b64encode(clip.read_bytes()).decode(), "parameters": parameters}
        return requests.post(self.url, json=body, headers=WAIT, timeout=600)


@pytest.fixture(scope="module")
def served(tiny_en: Path) -> Iterator[Served]:
    engine = WhisperEngine(EngineSettings(model=str(tiny_en), seed=SEED, max_batch=16, batch_wait_ms=200))
    with MockServer(front_config(engine), engine) as server:
        yield Served(server, engine)


def test_loading_then_ready(tiny_en: Path, corpus: list) -> None:
    """Right after start the model is still loading: 503 with estimated_time; x-wait-for-model holds."""
    engine = WhisperEngine(EngineSettings(model=str(tiny_en)))  # its own: loading must not be over yet
    with MockServer(front_config(engine), engine) as server:
        fresh = Served(server, engine)
        clip = corpus[0]
        loading = requests.post(
            fresh.url, data=clip.read_bytes(), headers={"Content-Type": "audio/wav"}, timeout=60
        )
        assert loading.status_code == 503, loading.text
        body = loading.json()
        assert "currently loading" in body["error"] and body["estimated_time"] > 0
        ready = fresh.raw(clip)
        assert ready.status_code == 200, ready.text
        assert ready.headers["x-compute-type"] == "cpu"
        assert len(ready.headers["x-sha"]) == 40


@pytest.fixture(scope="module")
def batched_texts(served: Served, corpus: list) -> dict[str, str]:
    """Every clip sent at once (raw bytes), so that the short ones share decoding batches."""
    with ThreadPoolExecutor(len(corpus)) as pool:
        responses = list(pool.map(served.raw, corpus))
    for clip, response in zip(corpus, responses, strict=True):
        assert response.status_code == 200, (clip.id, response.text)
        assert set(response.json()) == {"text"}, clip.id  # no chunks unless asked, also for the long clip
    assert served.engine.largest_batch > 1, "concurrent same-parameter requests were not batched"
    return {clip.id: r.json()["text"] for clip, r in zip(corpus, responses, strict=True)}


def test_word_error_rate(batched_texts: dict[str, str], corpus: list) -> None:
    references = [normalize(clip.text) for clip in corpus]
    hypotheses = [normalize(batched_texts[clip.id]) for clip in corpus]
    wer = jiwer.wer(references, hypotheses)
    assert wer <= 0.25, f"WER {wer:.1%}"
    long_clip = corpus[-1]
    assert long_clip.duration_s > 30
    # long-form decoding transcribed the whole clip, including its last sentence
    assert "questions" in normalize(batched_texts[long_clip.id])


def test_fidelity_with_transformers_pipeline(
    batched_texts: dict[str, str], corpus: list, tiny_en: Path
) -> None:
    """fp32 greedy text equals transformers' own pipeline with num_beams=1, clip by clip."""
    from transformers import pipeline

    asr = pipeline("automatic-speech-recognition", model=str(tiny_en), device="cpu")
    for clip in corpus:
        audio = decode(clip.read_bytes()).samples  # what the front hands the engine
        expected = asr(
            {"raw": audio, "sampling_rate": 16000},
            generate_kwargs={"num_beams": 1},
            return_timestamps=clip.duration_s > 30,  # the pipeline refuses long audio without them
        )["text"]
        assert batched_texts[clip.id] == expected, clip.id


def test_batching_changes_nothing(served: Served, batched_texts: dict[str, str], corpus: list) -> None:
    before = served.engine.batches
    for clip in corpus[:3]:
        alone = served.raw(clip)
        assert alone.json()["text"] == batched_texts[clip.id], clip.id
    assert served.engine.batches == before + 3


def test_timestamps(served: Served, corpus: list) -> None:
    for clip in (corpus[1], corpus[-1]):
        response = served.json(clip, {"return_timestamps": True})
        assert response.status_code == 200, response.text
        body = response.json()
        chunks = body["chunks"]
        assert chunks, clip.id
        assert "".join(c["text"] for c in chunks) == body["text"]
        previous_end = 0.0
        for chunk in chunks:
            start, end = chunk["timestamp"]
            assert previous_end - 0.02 <= start <= end <= clip.duration_s, (clip.id, chunk)  # clamped
            previous_end = end
    assert len(chunks) > 3  # the long clip spans several segments


def test_max_new_tokens_shortens(served: Served, corpus: list, batched_texts: dict[str, str]) -> None:
    clip = corpus[4]
    short = served.json(clip, {"generation_parameters": {"max_new_tokens": 3}})
    assert short.status_code == 200, short.text
    words = short.json()["text"].split()
    assert 1 <= len(words) <= 3
    assert batched_texts[clip.id].split()[: len(words)] == words


def test_num_beams_is_beam_search(served: Served, corpus: list, tiny_en: Path) -> None:
    from transformers import pipeline

    asr = pipeline("automatic-speech-recognition", model=str(tiny_en), device="cpu")
    for clip in (corpus[0], corpus[6]):
        response = served.json(clip, {"generation_parameters": {"num_beams": 3}})
        assert response.status_code == 200, response.text
        audio = decode(clip.read_bytes()).samples
        expected = asr({"raw": audio, "sampling_rate": 16000}, generate_kwargs={"num_beams": 3})["text"]
        assert response.json()["text"] == expected, clip.id


def test_sampling_repeats_with_seed(served: Served, corpus: list) -> None:
    clip = corpus[6]
    params = {"generation_parameters": {"do_sample": True, "temperature": 1.0, "top_k": 50}}
    first, second = served.json(clip, params), served.json(clip, params)
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["text"] == second.json()["text"]


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"generation_parameters": {"penalty_alpha": 0.6}}, "penalty_alpha: not available in this reference"),
        (
            {"generation_parameters": {"num_beam_groups": 2}},
            "num_beam_groups: not available in this reference",
        ),
        ({"generation_parameters": {"max_new_tokens": 0}}, "max_new_tokens"),
        ({"generation_parameters": {"max_new_tokens": 449}}, "max_new_tokens"),
        ({"generation_parameters": {"num_beams": 0}}, "num_beams"),
        ({"generation_parameters": {"top_p": 0}}, "top_p"),
        ({"generation_parameters": {"temperature": -1}}, "temperature"),
        ({"generation_parameters": {"top_k": "many"}}, "top_k"),
        ({"generation_parameters": {"no_repeat_ngram_size": 2}}, "no_repeat_ngram_size"),
        ({"generate_kwargs": {"max_length": 1}}, "max_length"),
        ({"chunk_length_s": 30}, "chunk_length_s"),
        ({"task": "translate"}, "task"),
    ],
)
def test_bad_parameters_get_400(served: Served, corpus: list, parameters: dict, named: str) -> None:
    response = served.json(corpus[1], parameters)
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]


@pytest.fixture
def sibling(served: Served, corpus: list) -> Iterator[Any]:
    """Another engine on the same loaded model, with other settings, behind its own server."""
    assert served.raw(corpus[0]).status_code == 200  # the shared model is loaded

    def start(**settings: Any) -> Served:
        engine = WhisperEngine(
            EngineSettings(model=served.engine.settings.model, **settings), served.engine.runner
        )
        server = MockServer(front_config(engine), engine).start()
        started.append(server)
        return Served(server, engine)

    started: list[MockServer] = []
    yield start
    for server in started:
        server.stop()


def test_passthrough_maps_exceptions_like_the_service(sibling: Any, corpus: list) -> None:
    passthrough = sibling(validation="passthrough")
    clip = corpus[1]
    zero_beams = passthrough.json(clip, {"generation_parameters": {"num_beams": 0}})
    assert zero_beams.status_code == 500  # ZeroDivisionError inside generate
    assert zero_beams.json()["error"] == "unknown error"
    assert zero_beams.json()["warnings"][0].startswith("There was an inference error: ")
    contrastive = passthrough.json(clip, {"generation_parameters": {"penalty_alpha": 0.6}})
    assert contrastive.status_code == 400 and "trust_remote_code" in contrastive.json()["error"]
    no_tokens = passthrough.json(clip, {"generation_parameters": {"max_new_tokens": 0}})
    assert no_tokens.status_code == 400 and "max_new_tokens" in no_tokens.json()["error"]
    unknown = passthrough.json(clip, {"task": "transcribe"})
    assert unknown.status_code == 400 and "unexpected keyword argument 'task'" in unknown.json()["error"]
    assert passthrough.json(clip, {"generation_parameters": {"top_p": 5}}).status_code == 200


def test_queue_bound_and_timeout(sibling: Any, corpus: list) -> None:
    impatient = sibling(timeout_s=0.01)
    late = impatient.raw(corpus[0])
    assert late.status_code == 504 and "timed out" in late.json()["error"]
    narrow = sibling(max_queue=1, max_batch=1, batch_wait_ms=0)
    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(r.status_code for r in pool.map(narrow.raw, corpus[:4]))
    assert statuses[0] == 200 and statuses[-1] == 503, statuses
