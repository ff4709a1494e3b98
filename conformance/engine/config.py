"""A run's settings (:class:`RunConfig`) and what follows from them alone: the in-process mock's
configuration, the target to open, the plan, the selected checks.
"""

from __future__ import annotations

import importlib.metadata
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from asr_conformance.conformance.cases import CaseSpec
from asr_conformance.conformance.checks import select
from asr_conformance.conformance.checks.base import Check
from asr_conformance.conformance.generation.planner import plan_cases
from asr_conformance.conformance.generation.profiles import get_profile
from asr_conformance.conformance.target import Target, TargetInfo
from asr_conformance.conformance.targets.factory import open_target
from asr_conformance.conformance.targets.http import public_url
from asr_conformance.conformance.targets.mock import MOCK_MODEL_PATH

if TYPE_CHECKING:
    from asr_conformance.mock_server.config import MockConfig


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs; the CLI builds it from flags over ``[tool.asr-conformance]`` defaults."""

    target: str | None = None  # None / "mock": in-process mock; URL; cassette:PATH
    token: str | None = field(default=None, repr=False)
    token_env: str | None = None  # shown in repros instead of the token
    headers: tuple[tuple[str, str], ...] = ()
    profile: str = "default"
    seed: int | None = None
    max_examples: int | None = None  # fuzz cases (the profile's count otherwise)
    spec_view: str = "served"
    fail_on: str = "error"  # error | warning
    checks: tuple[str, ...] | None = None
    exclude_checks: tuple[str, ...] = ()
    workers: int = 16
    request_timeout: float = 60.0
    max_requests: int | None = None
    dry_run: bool = False  # the CLI prints plan() instead of calling run()
    report_dir: Path | None = None
    include_legacy: bool = False
    max_body_bytes: int | None = None
    mock_violate: tuple[str, ...] = ()
    mock_config: MockConfig | None = None
    record: Path | None = None
    shrink: bool = True
    max_retries: int = 2  # on 429/503, after the delay the target asks for
    max_retry_wait_s: float = 30.0
    ready_timeout_s: float = 120.0  # how long the probe waits for a loading model
    model_must_match: bool = False  # an unknown model id must get 404 (--model-must-match)


def suite_version() -> str:
    try:
        return importlib.metadata.version("asr-conformance")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def mock_config_for(config: RunConfig) -> MockConfig:
    """The in-process mock's settings: the violations asked for, a body limit sized for the profile."""
    from asr_conformance.mock_server.config import MockConfig

    base = config.mock_config or MockConfig()
    limit = config.max_body_bytes
    if limit is None and config.mock_config is None:
        # The power of two above the largest body a case may carry: stereo float WAV at 48 kHz, as base64.
        biggest = get_profile(config.profile).max_duration_s * 48000 * 2 * 4 * 4 / 3
        limit = max(1 << 20, 1 << int(biggest).bit_length())
    # A throwaway token makes the mock require auth, so the auth scenarios are exercised, not skipped.
    token = base.token if config.mock_config is not None else (config.token or f"mock-{secrets.token_hex(8)}")
    return replace(
        base,
        token=token,
        violate=tuple(dict.fromkeys((*base.violate, *config.mock_violate))),
        max_body_bytes=limit if limit is not None else base.max_body_bytes,
    )


async def open_for(config: RunConfig) -> Target:
    """Open the run's target (the in-process mock when none is named)."""
    is_mock = config.target in (None, "mock")
    return await open_target(
        config.target,
        token=config.token,
        headers=config.headers,
        mock_config=mock_config_for(config) if is_mock else None,
        max_body_bytes=config.max_body_bytes,
    )


def offline_info(config: RunConfig) -> TargetInfo:
    """What the run would know of its target, without contacting it (for ``--dry-run``)."""
    if config.target in (None, "mock"):
        mock = mock_config_for(config)
        return TargetInfo(
            name="mock:in-process",
            model_url="http://127.0.0.1:0" + MOCK_MODEL_PATH,
            exposes_mock_controls=True,
            has_token=bool(config.token or mock.token),
            max_body_bytes=mock.max_body_bytes,
            is_mock=True,
        )
    return TargetInfo(
        name=public_url(config.target),
        model_url=config.target,
        has_token=bool(config.token),
        max_body_bytes=config.max_body_bytes,
    )


def plan(config: RunConfig, target_info: TargetInfo) -> list[CaseSpec]:
    """The run's cases in order (probe first); the same list for the same seed, profile and target kind."""
    from asr_conformance.conformance.engine.pacing import sent_last

    cases = plan_cases(
        get_profile(config.profile), target_info, seed=config.seed or 0, max_examples=config.max_examples
    )
    cases = [cases[0], *for_checks(config, cases[1:], target_info)]
    # The runner sends expensive implementation-defined cases last, one at a time (see pacing).
    return sorted(cases, key=lambda c: sent_last(c, target_info))  # stable: plan order otherwise


def for_checks(config: RunConfig, cases: list[CaseSpec], info: TargetInfo) -> list[CaseSpec]:
    """With ``--checks``, only the cases that can feed those checks; every case otherwise."""
    if config.checks is None:
        return cases
    from asr_conformance.conformance.engine.selection import feeding

    return feeding(cases, selected_checks(config), info)


def selected_checks(config: RunConfig) -> tuple[Check, ...]:
    return select(config.checks, config.exclude_checks, config.include_legacy)
