"""CPU speed and memory of the reference (tiny.en, transformers, fp32) vs faster-whisper on the same model.

Both transcribe the espeak-ng corpus of ``tests/reference/corpus.py`` (13 clips, 80 s, one clip over 30 s)
one clip at a time with the same beam size and thread count, each in its own process so that peak RSS
is its own. faster-whisper runs the very CTranslate2 model the reference was converted from, in float32
(the reference's dtype on CPU), with temperature fallback off. Runs alternate and the best of ``--rounds``
counts (the machine is shared). Reported: real-time factor (compute seconds / audio seconds), peak RSS,
load time and WER (our normaliser), and the ratio reference RTF / faster-whisper RTF.

    .venv/bin/python bench/reference_cpu.py [--beam 1] [--threads 2] [--rounds 2] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reference"))


def worker(engine: str, beam: int, threads: int) -> dict:
    """Runs in a child process: load, transcribe the corpus, report."""
    import jiwer
    from asr_conformance.mock_server.audio import decode
    from asr_conformance.reference.text_normalizer import normalize
    from corpus import build_corpus

    clips = build_corpus()
    audios = [decode(c.read_bytes()).samples for c in clips]
    started = time.perf_counter()
    if engine == "reference":
        import torch
        from asr_conformance.reference.model_cache import ensure_tiny_en
        from asr_conformance.reference.whisper_runner import WhisperRunner

        torch.set_num_threads(threads)
        runner = WhisperRunner.load(ensure_tiny_en(), device="cpu", dtype="float32")

        def transcribe(audio):
            return runner.run([audio], {"num_beams": beam})[0].text
    else:
        from asr_conformance.reference.convert_ct2 import tiny_en_source
        from faster_whisper import WhisperModel

        model = WhisperModel(str(tiny_en_source()), device="cpu", compute_type="float32", cpu_threads=threads)

        def transcribe(audio):
            segments, _ = model.transcribe(
                audio, beam_size=beam, language="en", temperature=0.0, vad_filter=False
            )
            return "".join(s.text for s in segments)

    load_s = time.perf_counter() - started
    transcribe(audios[0])  # warm-up, as a server would have done
    started = time.perf_counter()
    texts = [transcribe(a) for a in audios]
    compute_s = time.perf_counter() - started
    audio_s = sum(len(a) for a in audios) / 16000
    wer = jiwer.wer([normalize(c.text) for c in clips], [normalize(t) for t in texts])
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "engine": engine,
        "rtf": compute_s / audio_s,
        "compute_s": compute_s,
        "audio_s": audio_s,
        "load_s": load_s,
        "peak_rss_mib": peak_kib / 1024,
        "wer": wer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--beam", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--worker", choices=["reference", "faster-whisper"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.beam, args.threads)))
        return

    best: dict[str, dict] = {}
    for _ in range(args.rounds):
        for engine in ("reference", "faster-whisper"):
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                engine,
                "--beam",
                str(args.beam),
                "--threads",
                str(args.threads),
            ]
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "TRANSFORMERS_VERBOSITY": "error"},
            )
            row = json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            if engine not in best or row["rtf"] < best[engine]["rtf"]:
                best[engine] = row
    ratio = best["reference"]["rtf"] / best["faster-whisper"]["rtf"]
    print(f"\nbeam {args.beam}, {args.threads} threads, best of {args.rounds}")
    print("| engine | RTF | peak RSS | load | WER |\n|---|---|---|---|---|")
    for row in best.values():
        print(
            f"| {row['engine']} | {row['rtf']:.3f} | {row['peak_rss_mib']:.0f} MiB | {row['load_s']:.1f} s "
            f"| {row['wer']:.1%} |"
        )
    print(f"RTF ratio reference / faster-whisper: {ratio:.2f}")
    if args.out:
        args.out.write_text(
            json.dumps({"beam": args.beam, "threads": args.threads, "best": best, "ratio": ratio}, indent=2)
        )


if __name__ == "__main__":
    main()
