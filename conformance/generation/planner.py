"""The plan of a run: probe → examples → coverage → fuzz, deterministic for a seed and profile.

* probe: one plain request (reachability, auth mode, loading state);
* examples: the documented usage (the docs' raw upload with no Content-Type, JSON with timestamps) and
  the protocol scenarios this target can show;
* coverage: every domain value once (``must_accept`` positive, ``must_reject`` negative with exactly one
  change, ``implementation_defined``), every codec across rates, channels and sample formats, the
  duration bounds, every audio kind, every malformed body in both forms;
* fuzz: hypothesis-drawn combinations (``--max-examples`` of them).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from asr_conformance.conformance.cases import AudioRecipe, CaseSpec
from asr_conformance.conformance.generation import builders
from asr_conformance.conformance.generation.audio import (
    CODEC_FORMATS,
    CODEC_RATES,
    CODECS,
    SENTENCES,
    espeak_available,
    render,
)
from asr_conformance.conformance.generation.profiles import Profile
from asr_conformance.conformance.generation.render import MALFORMED_KINDS, READABLE_DAMAGE
from asr_conformance.conformance.generation.strategies import draw_examples, fuzz_cases
from asr_conformance.conformance.generation.values import (
    FieldValue,
    by_bucket,
    load_values,
    survives_serialisation,
)
from asr_conformance.conformance.target import TargetInfo


def _tone(seed: int, duration: float = 1.0, codec: str = "wav", rate: int = 16000) -> AudioRecipe:
    return AudioRecipe(codec, rate, 1, "s16", duration, "tone", seed)


def _speech(seed: int, codec: str = "flac", rate: int = 16000) -> AudioRecipe:
    text = SENTENCES[seed % len(SENTENCES)]
    # ~165 words per minute plus a margin, so the sentence is never cut.
    duration = round(len(text.split()) * 60 / 165 + 1.0, 1)
    return AudioRecipe(codec, rate, 1, "s16", duration, "speech", seed, text)


def _speech_or_tone(seed: int, codec: str = "flac") -> AudioRecipe:
    return _speech(seed, codec) if espeak_available() else _tone(seed, 2.0, codec)


def _value(values: Iterable[FieldValue], path: str, value: object) -> FieldValue | None:
    """The domain value ``path = value`` (any bucket), or None when the spec does not list it."""
    return next(
        (v for v in values if v.path == path and v.value == value and type(v.value) is type(value)),
        None,
    )


def _timestamps(case_id: str, phase: str, recipe: AudioRecipe, values: tuple[FieldValue, ...]) -> CaseSpec:
    """A case asking for timestamps: positive where the spec says every server must accept it, else
    implementation-defined (``return_timestamps: true`` is refused by CTC models)."""
    ts = _value(values, "parameters.return_timestamps", True)
    if ts is None:
        return builders.positive(case_id, phase, recipe, "raw")
    if ts.bucket == "must_accept":
        return builders.positive(case_id, phase, recipe, "json", [ts])
    return builders.changed(case_id, phase, recipe, ts) or builders.positive(case_id, phase, recipe, "raw")


def probe_cases() -> list[CaseSpec]:
    return [builders.positive("probe", "probe", _tone(0, 1.0), "raw")]


def example_cases(target: TargetInfo, values: tuple[FieldValue, ...]) -> list[CaseSpec]:
    out: list[CaseSpec] = []
    # The documented snippet: requests.post(url, headers=auth, data=flac_bytes) sends no Content-Type.
    out.append(builders.positive("", "examples", _speech_or_tone(0), "raw", content_type="@missing"))
    out.append(builders.positive("", "examples", _speech_or_tone(1, "wav"), "raw"))
    out.append(_timestamps("", "examples", _speech_or_tone(2), values))
    out.append(_timestamps("", "examples", _speech_or_tone(5, "wav"), values))
    # Phrases between pauses give several chunks, so their order can be judged.
    out.append(_timestamps("", "examples", AudioRecipe("wav", 16000, 1, "s16", 2.8, "bursts", 6), values))
    out.append(builders.positive("", "examples", _speech_or_tone(3, "mp3"), "json"))
    out.append(builders.protocol("", "examples", _tone(101, 1.5), "forms"))
    out.append(builders.protocol("", "examples", _speech_or_tone(4), "determinism", "raw"))
    out.append(
        builders.protocol("", "examples", AudioRecipe("flac", 16000, 1, "s16", 1.2, "noise", 102), "cache")
    )
    out.append(builders.protocol("", "examples", _tone(103, 1.0, "flac"), "content_type"))
    if target.has_token:
        out.append(builders.protocol("", "examples", _tone(104), "auth_missing"))
        out.append(builders.protocol("", "examples", _tone(105), "auth_wrong"))
    if target.exposes_mock_controls:
        # Each way the docs' clients spelled "wait" (``true``, ``1``): a server must read all of them.
        accepted = [
            v.value for v in values if v.path == "header:x-wait-for-model" and v.bucket == "must_accept"
        ]
        for i, wait in enumerate([w for w in accepted if w in ("true", "1")] or ["true"]):
            case = builders.protocol("", "examples", _tone(106 + 10 * i), "loading")
            out.append(replace(case, meta={**case.meta, "wait_value": wait}))
    if target.max_body_bytes is not None:
        out.append(builders.protocol("", "examples", _tone(107, 0.5), "body_limit"))
    out.extend(large_body_cases(target))
    out.extend(client_header_cases())
    out.extend(dereference_cases(target))
    if not target.is_replay:
        out.append(builders.protocol("", "examples", _tone(140), "unknown_model"))
    return out


#: The canary token the URL probe fetches (``conformance.targets.canary``).
CANARY_TOKEN = "inputs-url"


@functools.cache
def _server_side_wav() -> str:
    """A speech (else tone) WAV in a fresh temporary folder: a path only a file-reading server resolves."""
    folder = Path(tempfile.mkdtemp(prefix="asr-conformance-inputs-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "speech.wav"
    path.write_bytes(render(replace(_speech_or_tone(7, "flac"), codec="wav")))
    return str(path)


def dereference_cases(target: TargetInfo) -> list[CaseSpec]:
    """``inputs`` as a file name (targets on this host) and as a URL of the suite's canary (when one runs).

    The spec says base64 audio; HF's own serving code reads the path from its disk and fetches the URL
    (a file-read and request-forgery hole). Both must be refused; a transcript or a canary hit is a
    security defect (``inputs_not_dereferenced``).
    """
    probes = []
    if target.on_this_host:
        probes.append(("path", _server_side_wav()))
    if target.canary_url:
        probes.append(("url", f"{target.canary_url}{CANARY_TOKEN}.wav"))
    out = []
    for i, (kind, value) in enumerate(probes):
        recipe = _tone(130 + i)
        out.append(
            CaseSpec(
                id="",
                phase="examples",
                kind="negative",
                form="json",
                audio=recipe,
                mutation=f"inputs: a {'file path' if kind == 'path' else 'URL'} instead of base64 audio",
                mutated_path="inputs",
                raw_json={"inputs": value},
                meta={"dereference": kind, "canary_token": CANARY_TOKEN if kind == "url" else None},
            )
        )
    return out


_ANY = (("Accept", "*/*"),)
#: What real clients put on the wire (name, codec, form, Content-Type, other headers):
#: python-requests (huggingface_hub < 0.35 and the docs' snippet: raw bytes without a type,
#: ``json=`` for JSON), huggingface_hub >= 0.35 (``mimetypes`` guesses from the file name), the
#: browser/huggingface.js (``fetch`` sends the Blob's type: File and MediaRecorder labels vary by
#: browser), axios and .NET (``application/json`` with a charset) and curl (``-H`` as the docs show).
CLIENT_PROFILES: tuple[tuple[str, str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("python-requests raw", "flac", "raw", "@missing", (*_ANY, ("Accept-Encoding", "gzip, deflate"))),
    ("python-requests json", "wav", "json", "application/json", _ANY),
    (
        "axios json",
        "wav",
        "json",
        "application/json; charset=utf-8",
        (("Accept", "application/json, text/plain, */*"),),
    ),
    ("huggingface_hub mimetypes .wav", "wav", "raw", "audio/x-wav", _ANY),
    ("browser File .mp3", "mp3", "raw", "audio/mpeg", _ANY),
    ("browser File .mp3 (Chromium on Windows)", "mp3", "raw", "audio/mp3", _ANY),
    ("browser File .wav", "wav", "raw", "audio/wave", _ANY),
    ("browser File .flac", "flac", "raw", "audio/x-flac", _ANY),
    ("MediaRecorder (Chrome, Firefox)", "webm", "raw", "audio/webm;codecs=opus", _ANY),
    ("MediaRecorder (Safari)", "m4a", "raw", "audio/mp4", _ANY),
    ("curl -H Content-Type", "flac", "raw", "audio/flac", (*_ANY, ("User-Agent", "curl/8.5.0"))),
)


def client_header_cases() -> list[CaseSpec]:
    """The same plain request as each real client sends it: refusing one is a client-contract failure."""
    out = []
    for i, (client, codec, form, content_type, headers) in enumerate(CLIENT_PROFILES):
        case = builders.positive("", "examples", _tone(110 + i, 1.0, codec), form)  # type: ignore[arg-type]
        meta = {**case.meta, "client": client, "content_type": content_type}
        out.append(replace(case, headers=(*headers, *case.headers), meta=meta))
    return out


#: Bodies just over aiohttp's default ``client_max_size`` (1 MiB), the classic 413/500 of alternative
#: servers; 48 kHz stereo s16 WAV is 187.5 KiB/s: 8 s raw is 1.46 MiB, 6 s as base64 JSON is 1.46 MiB.
LARGE_BODY_RECIPES: tuple[tuple[float, str], ...] = ((8.0, "raw"), (6.0, "json"))


def large_body_cases(target: TargetInfo) -> list[CaseSpec]:
    """One raw and one JSON body between 1 and 4 MiB, unless the declared ``--max-body-bytes`` is lower."""
    out = []
    for i, (seconds, form) in enumerate(LARGE_BODY_RECIPES):
        recipe = AudioRecipe("wav", 48000, 2, "s16", seconds, "noise", 108 + i)
        size = int(seconds * 48000 * 4 * (4 / 3 if form == "json" else 1)) + 64
        if target.max_body_bytes is not None and size > target.max_body_bytes:
            continue
        out.append(builders.positive("", "examples", recipe, form))  # type: ignore[arg-type]
    return out


def coverage_cases(profile: Profile, values: tuple[FieldValue, ...]) -> list[CaseSpec]:
    out: list[CaseSpec] = []
    accept = by_bucket(values, "must_accept")
    # Every domain value once, on a plain recipe: one change per case.
    for i, v in enumerate(accept):
        out.append(builders.positive("", "coverage", _tone(200 + i), "raw", [v]))
    for i, v in enumerate(by_bucket(values, "must_reject")):
        if survives_serialisation(v, accept) and (
            case := builders.changed("", "coverage", _tone(300 + i), v)
        ):
            out.append(case)
    for i, v in enumerate(by_bucket(values, "implementation_defined")):
        if case := builders.changed("", "coverage", _tone(400 + i), v):
            out.append(case)
    # Formats: every codec at the profile's rates, alternating channels and forms.
    n = 0
    for codec in CODECS:
        for rate in (r for r in profile.coverage_rates if r in CODEC_RATES[codec]):
            for fmt in CODEC_FORMATS[codec] if profile.all_codec_combinations else CODEC_FORMATS[codec][:1]:
                for channels in (1, 2) if profile.all_codec_combinations else (1 + n % 2,):
                    recipe = AudioRecipe(codec, rate, channels, fmt, 1.0, ("tone", "noise")[n % 2], 500 + n)
                    out.append(builders.positive("", "coverage", recipe, ("raw", "json")[n % 2]))
                    n += 1
        for fmt in CODEC_FORMATS[codec][1:]:  # the other sample formats at least once
            out.append(
                builders.positive("", "coverage", AudioRecipe(codec, 16000, 1, fmt, 1.0, "tone", 600), "raw")
            )
    # Duration bounds and audio kinds.
    for i, dur in enumerate((profile.min_duration_s, profile.max_duration_s)):
        out.append(builders.positive("", "coverage", _tone(700 + i, dur), "raw"))
    for i, kind in enumerate(("silence", "noise")):
        out.append(
            builders.positive("", "coverage", AudioRecipe("wav", 16000, 1, "s16", 1.0, kind, 710 + i), "raw")
        )
    if espeak_available():
        for i in range(profile.speech_cases):
            recipe = _speech(720 + i, CODECS[i % len(CODECS)], 16000)
            out.append(builders.positive("", "coverage", recipe, ("raw", "json")[i % 2]))
            out.append(_timestamps("", "coverage", recipe, values))
    # Malformed audio in both forms; a WAV cut short (frames present still decode) is implementation-defined.
    for i, kind in enumerate((*MALFORMED_KINDS, *READABLE_DAMAGE)):
        for form in ("raw", "json"):
            codec = "wav" if kind in READABLE_DAMAGE else "flac"
            out.append(builders.malformed("", "coverage", _tone(800 + i, 1.0, codec), kind, form, 800 + i))
    return out


def fuzz(profile: Profile, values: tuple[FieldValue, ...], n: int, seed: int) -> list[CaseSpec]:
    return [c for c in draw_examples(fuzz_cases(profile, values), n, seed) if c is not None]


def _numbered(prefix: str, cases: list[CaseSpec], width: int = 3) -> list[CaseSpec]:
    return [builders.with_id(case, f"{prefix}-{i:0{width}d}") for i, case in enumerate(cases, 1)]


def plan_fixed(
    profile: Profile, target: TargetInfo, values: tuple[FieldValue, ...] | None = None
) -> list[CaseSpec]:
    """Probe, examples and coverage: everything but the drawn cases (no randomness)."""
    values = load_values() if values is None else values
    return [
        *probe_cases(),
        *_numbered("ex", example_cases(target, values)),
        *_numbered("cov", coverage_cases(profile, values)),
    ]


def plan_fuzz(
    profile: Profile,
    *,
    seed: int,
    max_examples: int | None = None,
    values: tuple[FieldValue, ...] | None = None,
) -> list[CaseSpec]:
    """The hypothesis-drawn cases (``fz-0001``, ...) for this seed."""
    values = load_values() if values is None else values
    n_fuzz = profile.fuzz_examples if max_examples is None else max_examples
    return _numbered("fz", fuzz(profile, values, n_fuzz, seed), width=4)


def plan_cases(
    profile: Profile,
    target: TargetInfo,
    *,
    seed: int,
    max_examples: int | None = None,
    values: tuple[FieldValue, ...] | None = None,
) -> list[CaseSpec]:
    """The full ordered plan; ids unique within the run (``probe``, ``ex-001``, ``cov-012``, ``fz-0042``)."""
    return [
        *plan_fixed(profile, target, values),
        *plan_fuzz(profile, seed=seed, max_examples=max_examples, values=values),
    ]


__all__ = ["coverage_cases", "example_cases", "fuzz", "plan_cases", "plan_fixed", "plan_fuzz", "probe_cases"]
