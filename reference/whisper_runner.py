"""The synchronous decoding core of the reference: audio arrays in, transcriptions out, one batch at a time.

:class:`WhisperRunner` is what the async engine drives from its worker thread, and what
``bench/reference_gpu.py`` times. It mirrors the transformers ASR pipeline's own steps (feature
extraction with an attention mask, ``generate``, ``tokenizer._decode_asr``) so that its greedy output equals
``pipeline(..., generate_kwargs={"num_beams": 1})``, but it batches many requests into one ``generate``.

Policies:

* clips of at most 30 s share one padded short-form ``generate``; each longer clip is decoded alone with
  sequential long-form generation, which needs timestamps, so they are turned on and the chunks dropped
  when the request did not ask for them (``chunk_length_s`` is never used: with greedy decoding it lost
  or duplicated text);
* chunk times are clamped to the audio's duration (Whisper can predict a segment end past the end of
  short audio, and transformers passes it through);
* English transcription only for multilingual checkpoints (``language="en"``, ``task="transcribe"``), as
  the HF Inference toolkit forced for Whisper;
* device ``auto`` is CUDA when present; dtype ``auto`` is float16 on CUDA (with SDPA attention) and
  float32 on CPU (float16 on CPU is about 3x slower).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from asr_conformance.mock_server.engine import Chunk, Transcription

SAMPLE_RATE = 16000
#: Whisper's window: longer audio needs long-form generation
WINDOW_SECONDS = 30.0
#: transformers' lazy imports and meta-device loading are not thread-safe: two engines loading at once in
#: one process broke each other ("Cannot copy out of meta tensor"), so loads take turns
_LOAD_LOCK = threading.Lock()


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; anything else as given."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> float16 on CUDA, float32 elsewhere."""
    if dtype == "auto":
        return "float16" if device.startswith("cuda") else "float32"
    return dtype


@dataclass
class WhisperRunner:
    """A loaded Whisper model with its processor, on one device."""

    model: Any  # WhisperForConditionalGeneration
    processor: Any  # WhisperProcessor (feature extractor + tokenizer)
    device: str
    dtype: str

    @classmethod
    def load(cls, model: str | Path, device: str = "auto", dtype: str = "auto") -> WhisperRunner:
        """Load a checkpoint directory (or hub id, when the hub is reachable)."""
        device = resolve_device(device)
        dtype = resolve_dtype(dtype, device)
        with _LOAD_LOCK:
            # the import is inside the lock too: two threads racing through transformers' lazy
            # __init__ was seen to fail with "cannot import name 'WhisperForConditionalGeneration'"
            import torch
            from transformers import WhisperForConditionalGeneration, WhisperProcessor

            hf_model = WhisperForConditionalGeneration.from_pretrained(
                model, dtype=getattr(torch, dtype), attn_implementation="sdpa"
            )
            processor = WhisperProcessor.from_pretrained(model)
        return cls(hf_model.to(device).eval(), processor, device, dtype)

    @property
    def multilingual(self) -> bool:
        return bool(getattr(self.model.generation_config, "is_multilingual", False))

    def _features(self, audios: list[np.ndarray], long_form: bool) -> dict[str, Any]:
        import torch

        extra = {"truncation": False, "padding": "longest"} if long_form else {}
        features = self.processor.feature_extractor(
            audios,
            sampling_rate=SAMPLE_RATE,
            return_tensors="pt",
            return_attention_mask=True,
            device=self.device if self.device.startswith("cuda") else "cpu",
            **extra,
        )
        return {
            "input_features": features["input_features"].to(self.device, getattr(torch, self.dtype)),
            "attention_mask": features["attention_mask"].to(self.device),
        }

    def _generate(
        self,
        inputs: dict[str, Any],
        generation: dict[str, Any],
        timestamps: bool,
        deadline: float | None = None,
    ) -> list[Any]:
        import torch

        kwargs = dict(generation)
        if deadline is not None:
            # one criteria object for the whole call: long-form generation hands it to every 30 s window,
            # so the deadline bounds the request, not each window
            from transformers import MaxTimeCriteria, StoppingCriteriaList

            kwargs["stopping_criteria"] = StoppingCriteriaList(
                [MaxTimeCriteria(0.0, initial_timestamp=deadline)]
            )
        if self.multilingual:
            kwargs.setdefault("language", "en")
            kwargs.setdefault("task", "transcribe")
        with torch.inference_mode():
            out = self.model.generate(**inputs, return_timestamps=timestamps, **kwargs)
        sequences = out["sequences"] if isinstance(out, dict) else out
        return [row.cpu() for row in sequences]

    def _decode(self, tokens: Any, timestamps: bool, duration_s: float) -> Transcription:
        time_precision = (
            self.processor.feature_extractor.chunk_length / self.model.config.max_source_positions
        )
        text, optional = self.processor.tokenizer._decode_asr(
            [{"tokens": tokens[None, :]}],
            return_timestamps=timestamps,
            return_language=None,
            time_precision=time_precision,
        )
        if not timestamps:
            return Transcription(text=text)
        # Whisper sees every clip padded to 30 s and may put a segment's end (even its start) past the end
        # of short audio; transformers passes that through. Times are clamped to the audio.
        chunks = tuple(
            Chunk(
                text=c["text"],
                start=min(float(c["timestamp"][0]), duration_s),
                end=None if c["timestamp"][1] is None else min(float(c["timestamp"][1]), duration_s),
            )
            for c in optional.get("chunks", [])
        )
        return Transcription(text=text, chunks=chunks)

    def run(
        self,
        audios: list[np.ndarray],
        generation: dict[str, Any],
        return_timestamps: bool = False,
        seed: int | None = None,
        deadline: float | None = None,
    ) -> list[Transcription]:
        """Transcribe 16 kHz mono float32 arrays with the same generation parameters.

        ``deadline`` (``time.time()``): decoding stops there, whatever is left (the caller has answered
        504 by then); None decodes to the end."""
        import torch

        if seed is not None:
            torch.manual_seed(seed)  # also seeds every CUDA device
        limit = int(WINDOW_SECONDS * SAMPLE_RATE)
        results: list[Transcription | None] = [None] * len(audios)
        short = [i for i, audio in enumerate(audios) if len(audio) <= limit]
        if short:
            features = self._features([audios[i] for i in short], long_form=False)
            tokens = self._generate(features, generation, return_timestamps, deadline)
            for i, row in zip(short, tokens, strict=True):
                results[i] = self._decode(row, return_timestamps, len(audios[i]) / SAMPLE_RATE)
        for i, audio in enumerate(audios):
            if len(audio) > limit:
                if deadline is not None and time.time() > deadline:
                    raise TimeoutError("past the request's deadline")
                features = self._features([audio], long_form=True)
                (row,) = self._generate(features, generation, True, deadline)
                full = self._decode(row, timestamps=True, duration_s=len(audio) / SAMPLE_RATE)
                results[i] = full if return_timestamps else Transcription(text=full.text)
        return [r for r in results if r is not None]


__all__ = ["SAMPLE_RATE", "WINDOW_SECONDS", "WhisperRunner", "resolve_device", "resolve_dtype"]
