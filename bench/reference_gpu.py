"""GPU throughput of the reference's batched decoding vs a naive one-at-a-time ``pipeline()``.

Nothing is fetched: the large-v3 and tiny architectures are built from their configs with random weights
(fp16, SDPA), with a synthetic tokenizer of the right vocabulary layout, and every decode runs a fixed
number of tokens (``min_new_tokens == max_new_tokens``), so the timing does not depend on what random
weights happen to emit. Audio: 30 s clips of seeded noise (the model's full window).

For each architecture it reports audio-seconds per second of ``WhisperRunner.run`` (the engine's batch
path) at batch 1, 8 and 32, and of ``pipeline("automatic-speech-recognition")`` called once per clip
with the same model and the same greedy fixed-length decode. It also checks that batch-8 tokens equal the
one-at-a-time tokens (fp16 kernels may differ with batch shape; reported, not asserted).

    python3 bench/reference_gpu.py --out OUTDIR          # on a CUDA machine, about 2-4 min on an H100
    python3 bench/reference_gpu.py --smoke               # CPU, tiny shapes: proves the script runs
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr_conformance.reference.whisper_runner import SAMPLE_RATE, WhisperRunner

ARCHS = {
    # d_model, layers (enc = dec), heads, ffn, mel bins, vocab, languages
    "large-v3": (1280, 32, 20, 5120, 128, 51866, 100),
    "tiny": (384, 4, 6, 1536, 80, 51865, 99),
}
CLIP_SECONDS = 30.0


def bytes_to_unicode() -> list[str]:
    """GPT-2's byte -> printable-character table (the base of Whisper's byte-level BPE)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def synthetic_processor(vocab_size: int, languages: int, mel_bins: int):
    """A WhisperProcessor whose tokenizer has Whisper's id layout (text, specials, 1501 timestamps)."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizerFast

    langs = ["<|en|>"] + [f"<|lang{i}|>" for i in range(1, languages)]
    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *langs,
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",
    ]
    n_text = vocab_size - 1501 - len(specials)
    vocab = {tok: i for i, tok in enumerate(bytes_to_unicode())}
    vocab.update({f"tok{i}": i for i in range(len(vocab), n_text)})
    eot = "<|endoftext|>"
    tokenizer = WhisperTokenizerFast(
        vocab=vocab,
        merges=[],
        additional_special_tokens=specials,
        unk_token=eot,
        bos_token=eot,
        eos_token=eot,
        pad_token=eot,
    )
    tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    assert len(tokenizer) == vocab_size, (len(tokenizer), vocab_size)
    return WhisperProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=mel_bins), tokenizer=tokenizer
    )


def build_runner(arch: tuple, device: str, dtype: str, layers_override: int | None) -> WhisperRunner:
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    d_model, layers, heads, ffn, mels, vocab, languages = arch
    layers = layers_override or layers
    processor = synthetic_processor(vocab, languages, mels)
    tok = processor.tokenizer
    names = ("<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|translate|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in (*names, "<|notimestamps|>", "<|startofprev|>")}
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    config = WhisperConfig(
        vocab_size=vocab,
        num_mel_bins=mels,
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        encoder_ffn_dim=ffn,
        decoder_ffn_dim=ffn,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        decoder_start_token_id=sot,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = WhisperForConditionalGeneration._from_config(
            config, attn_implementation="sdpa", dtype=getattr(torch, dtype)
        )
    model.generation_config = GenerationConfig(
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        decoder_start_token_id=sot,
        no_timestamps_token_id=ids["<|notimestamps|>"],
        prev_sot_token_id=ids["<|startofprev|>"],
        is_multilingual=True,
        lang_to_id={"<|en|>": ids["<|en|>"]},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        begin_suppress_tokens=[220, eot],
        max_initial_timestamp_index=50,
        max_length=448,
    )
    return WhisperRunner(model.eval(), processor, device, dtype)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(device: str, fn):
    sync(device)
    start = time.perf_counter()
    value = fn()
    sync(device)
    return time.perf_counter() - start, value


def bench_arch(name: str, args: argparse.Namespace, clips: list[np.ndarray]) -> dict:
    import torch
    from transformers import pipeline

    layers = 2 if args.smoke else None
    runner = build_runner(ARCHS[name], args.device, args.dtype, layers)
    gen = {"num_beams": 1, "min_new_tokens": args.tokens, "max_new_tokens": args.tokens}
    row: dict = {"arch": name, "layers": layers or ARCHS[name][1], "decode_tokens": args.tokens, "ours": {}}

    runner.run(clips[:1], gen)  # warm-up: kernels, allocator
    alone_times, alone_tokens = [], []
    for clip in clips[: args.alone]:
        seconds, (result,) = timed(args.device, lambda clip=clip: runner.run([clip], gen))
        alone_times.append(seconds)
        alone_tokens.append(result.text)
    row["ours"]["1"] = CLIP_SECONDS / statistics.median(alone_times)
    for batch in args.batches:
        if batch == 1:
            continue
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        times = []
        for rep in range(args.reps):
            part = [clips[(rep * batch + i) % len(clips)] for i in range(batch)]
            seconds, results = timed(args.device, lambda part=part: runner.run(part, gen))
            times.append(seconds)
            if rep == 0 and batch >= args.alone:
                same = sum(r.text == t for r, t in zip(results[: args.alone], alone_tokens, strict=True))
                row.setdefault("batched_equals_alone", {})[str(batch)] = f"{same}/{args.alone}"
        row["ours"][str(batch)] = batch * CLIP_SECONDS / statistics.median(times)
        if args.device.startswith("cuda"):
            row.setdefault("peak_gib", {})[str(batch)] = round(torch.cuda.max_memory_allocated() / 2**30, 2)

    pipe = pipeline(
        "automatic-speech-recognition",
        model=runner.model,
        tokenizer=runner.processor.tokenizer,
        feature_extractor=runner.processor.feature_extractor,
        device=args.device,
        dtype=getattr(torch, args.dtype),
    )
    naive_kwargs = {**gen, "language": "en", "task": "transcribe"}
    pipe({"raw": clips[0], "sampling_rate": SAMPLE_RATE}, generate_kwargs=naive_kwargs)  # warm-up
    seconds, _ = timed(
        args.device,
        lambda: [
            pipe({"raw": c, "sampling_rate": SAMPLE_RATE}, generate_kwargs=naive_kwargs)
            for c in clips[: args.naive]
        ],
    )
    row["naive_pipeline"] = args.naive * CLIP_SECONDS / seconds
    best = max(row["ours"].values())
    row["speedup_vs_naive"] = best / row["naive_pipeline"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, help="folder for reference_gpu.json")
    parser.add_argument("--smoke", action="store_true", help="CPU, 2 layers, few tokens: checks the script")
    parser.add_argument("--archs", default="large-v3,tiny")
    parser.add_argument("--tokens", type=int, default=None, help="fixed decode length (default 100)")
    args = parser.parse_args()

    import torch
    import transformers

    args.device = "cpu" if args.smoke else "cuda"
    args.dtype = "float32" if args.smoke else "float16"
    args.tokens = args.tokens or (4 if args.smoke else 100)
    args.batches = [1, 2] if args.smoke else [1, 8, 32]
    args.alone = 2 if args.smoke else 8  # one-at-a-time calls (also the batch-1 timing)
    args.reps = 1 if args.smoke else 2
    args.naive = 2 if args.smoke else 8
    if not args.smoke and not torch.cuda.is_available():
        sys.exit("no CUDA device: use --smoke on CPU")

    rng = np.random.default_rng(0)
    n_samples = int(CLIP_SECONDS * SAMPLE_RATE)
    clips = [(0.1 * rng.standard_normal(n_samples)).astype(np.float32) for _ in range(max(args.batches))]
    report = {
        "device": torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "dtype": args.dtype,
        "smoke": args.smoke,
        "results": [],
    }
    started = time.perf_counter()
    for name in args.archs.split(","):
        arch_start = time.perf_counter()
        row = bench_arch(name, args, clips)
        row["wall_s"] = round(time.perf_counter() - arch_start, 1)
        report["results"].append(row)
        if args.device == "cuda":
            torch.cuda.empty_cache()  # the previous model is garbage now
        print(json.dumps(row), flush=True)
    report["total_wall_s"] = round(time.perf_counter() - started, 1)

    print(
        f"\n{report['device']}, torch {report['torch']}, transformers {report['transformers']}, {args.dtype}"
    )
    print("| arch | " + " | ".join(f"batch {b}" for b in args.batches) + " | naive pipeline | best/naive |")
    print("|---" * (len(args.batches) + 3) + "|")
    for row in report["results"]:
        cells = " | ".join(f"{row['ours'][str(b)]:.1f}x" for b in args.batches)
        print(f"| {row['arch']} | {cells} | {row['naive_pipeline']:.1f}x | {row['speedup_vs_naive']:.1f} |")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "reference_gpu.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
