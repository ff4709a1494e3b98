"""WER per variant of the behaviour corpus through HTTP: the figures behind the behavioural bounds.

    asr-conformance reference --model tiny.en --device cpu --port 8000 &
    python bench/behaviour_wer.py http://127.0.0.1:8000/models/openai/whisper-large-v3 [--profile default]

Runs the behaviour phase (``asr_conformance.conformance.behaviour``) once and prints a Markdown table:
mean WER per variant, each check's verdict, and the phase's wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from asr_conformance.conformance.engine.behaviour_phase import behaviour_phase, variant_wers
from asr_conformance.conformance.engine.budget import Budget
from asr_conformance.conformance.engine.config import RunConfig, open_for


async def main(url: str, profile: str) -> None:
    config = RunConfig(target=url, profile=profile, request_timeout=600.0)
    target = await open_for(config)
    started = time.perf_counter()
    try:
        cases = await behaviour_phase(target, config, Budget(None))
    finally:
        await target.close()
    print("| variant | WER |\n|---|---|")
    for name, figure in variant_wers(cases).items():
        print(f"| {name} | {'-' if figure is None else f'{figure:.3f}'} |")
    print("\n| case | check | outcome | message |\n|---|---|---|---|")
    for case in cases:
        for result in case.results:
            message = result.message or "; ".join(f.message for f in result.failures)
            print(f"| {case.case_id} | {result.check_id} | {result.outcome} | {message} |")
    print(f"\n{len(cases)} cases in {time.perf_counter() - started:.1f} s ({profile} profile)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.profile))
