"""The CTranslate2 -> transformers conversion, proven against CTranslate2 itself."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from asr_conformance.mock_server.audio import decode
from asr_conformance.reference.convert_ct2 import TINY_EN_MODEL_SHA256, sha256_file, tiny_en_source
from asr_conformance.reference.ct2_model import CT2FormatError, read_ct2_model

pytestmark = [pytest.mark.whisper, pytest.mark.slow]


def test_source_is_the_pinned_model() -> None:
    assert sha256_file(tiny_en_source() / "model.bin") == TINY_EN_MODEL_SHA256


def test_reader_rejects_truncated_and_foreign_files(tmp_path: Path) -> None:
    head = (tiny_en_source() / "model.bin").read_bytes()[:4096]
    (tmp_path / "cut.bin").write_bytes(head)
    with pytest.raises(CT2FormatError, match="truncated"):
        read_ct2_model(tmp_path / "cut.bin")
    (tmp_path / "v5.bin").write_bytes(struct.pack("<I", 5) + head[4:])
    with pytest.raises(CT2FormatError, match="version 5"):
        read_ct2_model(tmp_path / "v5.bin")


def test_checkpoint_files(tiny_en: Path) -> None:
    config = json.loads((tiny_en / "config.json").read_text())
    assert (config["d_model"], config["encoder_layers"], config["vocab_size"]) == (384, 4, 51864)
    assert config["dtype"] == "float32"  # stored fp16, loaded fp32 (fp16 on CPU is ~3x slower)
    generation = json.loads((tiny_en / "generation_config.json").read_text())
    assert generation["no_timestamps_token_id"] == 50362
    assert len(generation["alignment_heads"]) == 8
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_en)
    assert len(tokenizer) == 51864
    assert tokenizer.convert_tokens_to_ids("<|0.00|>") == 50363
    words = tokenizer.encode(" The quick", add_special_tokens=False)
    assert tokenizer.decode([50363, *words, 50563], decode_with_timestamps=True) == (
        "<|0.00|> The quick<|4.00|>"
    )


@pytest.fixture(scope="module")
def models(tiny_en: Path) -> tuple:
    import ctranslate2
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    torch.set_num_threads(2)
    hf = WhisperForConditionalGeneration.from_pretrained(tiny_en).eval()
    processor = WhisperProcessor.from_pretrained(tiny_en)
    ct2 = ctranslate2.models.Whisper(
        str(tiny_en_source()), device="cpu", compute_type="float32", intra_threads=2
    )
    return hf, processor, ct2


def test_encoder_matches_ctranslate2(models: tuple, corpus: list) -> None:
    import ctranslate2
    import torch

    hf, processor, ct2 = models
    audio = decode(corpus[0].read_bytes()).samples
    features = processor.feature_extractor(audio, sampling_rate=16000, return_tensors="np").input_features
    with torch.no_grad():
        ours = hf.model.encoder(torch.from_numpy(features)).last_hidden_state.numpy()
    theirs = np.asarray(ct2.encode(ctranslate2.StorageView.from_array(features), to_cpu=True))
    assert ours.shape == theirs.shape == (1, 1500, 384)
    assert np.max(np.abs(ours - theirs)) < 1e-3


def test_greedy_tokens_match_ctranslate2(models: tuple, corpus: list) -> None:
    """Same features (HF's) into both: identical greedy tokens on every clip (first 30 s of the long one)."""
    import ctranslate2
    import torch

    hf, processor, ct2 = models
    audio = [decode(clip.read_bytes()).samples for clip in corpus]
    features = processor.feature_extractor(audio, sampling_rate=16000, return_tensors="np").input_features
    with torch.no_grad():
        ours = hf.generate(torch.from_numpy(features), num_beams=1)
    prompt = [[50257, 50362]] * len(corpus)  # <|startoftranscript|><|notimestamps|> (English-only model)
    theirs = ct2.generate(
        ctranslate2.StorageView.from_array(np.ascontiguousarray(features)),
        prompt,
        beam_size=1,
        max_length=448,
        suppress_blank=True,
    )
    eot = 50256
    for clip, row, result in zip(corpus, ours.tolist(), theirs, strict=True):
        hf_tokens = [t for t in row if t not in (50257, 50362, eot)]
        assert hf_tokens == result.sequences_ids[0], clip.id
