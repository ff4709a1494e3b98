"""pytest plugin: ``pytest --asr-target URL`` runs the conformance catalogue as pytest items.

One item per check, named by the check's stable id (``asr-conformance::timestamps_numeric``), so ``-k``,
``--deselect``, JUnit and CI test tabs all speak the suite's ids. The suite runs once per session (on the
first item, with only the checks still selected after ``-k``) and each item reports its check's verdict:

=====================  ===============================================================================
verdict                pytest outcome
=====================  ===============================================================================
PASS                   passed
FAIL at/above fail-on  failed, with the failing examples and their curl repro
FAIL below fail-on     xfailed ("warning-severity deviation")
ERROR                  failed ("the target broke")
SKIP / PRECONDITION    skipped, with the reason
listed in expectations xfailed, with the issue link (``--asr-expectations FILE``)
=====================  ===============================================================================

``--asr-target mock`` serves the in-process mock. Without ``--asr-target`` the plugin does nothing, and
importing it stays cheap: the suite is imported only when a target is given. Defaults come from
``[tool.asr-conformance]`` / ``asr-conformance.toml`` (see ``asr_conformance.conformance.settings``); flags
win.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from asr_conformance.conformance.reports.expectations import Expectations
    from asr_conformance.conformance.reports.tally import RunTally

CATALOGUE = "asr-conformance"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("asr-conformance", "ASR conformance suite")
    group.addoption(
        "--asr-target",
        metavar="URL",
        help="run the ASR conformance checks against this model URL ('mock': the in-process mock)",
    )
    group.addoption("--asr-profile", metavar="NAME", help="quick | default | thorough (default: default)")
    group.addoption("--asr-seed", type=int, metavar="N", help="seed of the generated cases")
    group.addoption(
        "--asr-max-examples", type=int, metavar="N", help="fuzz cases (profile's count otherwise)"
    )
    group.addoption("--asr-spec", choices=("served", "documented"), help="spec view (default: served)")
    group.addoption(
        "--asr-fail-on",
        choices=("error", "warning"),
        help="lowest severity that fails (default: error)",
    )
    group.addoption("--asr-token-env", metavar="VAR", help="environment variable holding the bearer token")
    group.addoption(
        "--asr-header", action="append", default=[], metavar="'Name: value'", help="extra request header"
    )
    group.addoption(
        "--asr-max-body-bytes", type=int, metavar="N", help="the target's body limit (enables the 413 check)"
    )
    group.addoption("--asr-report-dir", metavar="DIR", help="also write the reports (JUnit, JSONL, MD, HTML)")
    group.addoption(
        "--asr-expectations", metavar="FILE", help="known deviations of this target: they xfail, not fail"
    )
    group.addoption(
        "--asr-mock-violate",
        action="append",
        default=[],
        metavar="SWITCH",
        help="(mock target only) make the in-process mock deviate, to see a check fire",
    )


@dataclass
class SessionRun:
    """The one suite run of a session, done on first use and shared by every item."""

    options: dict[str, Any]
    selected: list[str] = field(default_factory=list)
    tally: RunTally | None = None
    error: str | None = None
    expectations: Expectations | None = None

    def ensure(self) -> None:
        if self.tally is not None or self.error is not None:
            return
        import asyncio

        from asr_conformance.conformance.engine.config import RunConfig
        from asr_conformance.conformance.engine.probe import TargetUnreachable
        from asr_conformance.conformance.engine.runner import run
        from asr_conformance.conformance.reports import open_writers
        from asr_conformance.conformance.reports.tally import RunTally

        token_env = self.options["token_env"]
        token = os.environ.get(token_env) if token_env else None
        if token_env and not token:
            self.error = f"--asr-token-env {token_env}: that environment variable is not set"
            return
        config = RunConfig(
            target=self.options["target"],
            token=token,
            token_env=token_env,
            headers=tuple(_header(h) for h in self.options["headers"]),
            profile=self.options["profile"],
            seed=self.options["seed"],
            max_examples=self.options["max_examples"],
            spec_view=self.options["spec"],
            fail_on=self.options["fail_on"],
            checks=tuple(self.selected),
            report_dir=Path(self.options["report_dir"]) if self.options["report_dir"] else None,
            mock_violate=tuple(self.options["violate"]),
            max_body_bytes=self.options["max_body_bytes"],
        )
        tally = RunTally()
        writers = open_writers(config.report_dir) if config.report_dir else []

        def on_event(event: Any) -> None:
            tally.add(event)
            for writer in writers:
                writer.handle(event)

        try:
            asyncio.run(run(config, on_event))
        except TargetUnreachable as exc:
            self.error = f"target unreachable: {exc}"
        finally:
            for writer in writers:
                writer.close()
        self.tally = tally


def _header(raw: str) -> tuple[str, str]:
    name, sep, value = raw.partition(":")
    if not sep or not name.strip():
        raise pytest.UsageError(f"--asr-header wants 'Name: value', not {raw!r}")
    return name.strip(), value.strip()


def _options(config: pytest.Config) -> dict[str, Any]:
    """Flags over the project's defaults over the suite's own."""
    from asr_conformance.conformance.settings import SettingsError, load_defaults

    try:
        defaults = load_defaults(config.rootpath)
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from exc

    def pick(flag: str, key: str, fallback: Any) -> Any:
        value = config.getoption(flag)
        return value if value not in (None, []) else defaults.get(key, fallback)

    return {
        "target": config.getoption("asr_target"),
        "profile": pick("asr_profile", "profile", "default"),
        "seed": pick("asr_seed", "seed", None),
        "max_examples": pick("asr_max_examples", "max_examples", None),
        "spec": pick("asr_spec", "spec", "served"),
        "fail_on": pick("asr_fail_on", "fail_on", "error"),
        "token_env": pick("asr_token_env", "token_env", None),
        "headers": pick("asr_header", "headers", []),
        "report_dir": pick("asr_report_dir", "report_dir", None),
        "expectations": pick("asr_expectations", "expectations", None),
        "violate": config.getoption("asr_mock_violate"),
        "max_body_bytes": pick("asr_max_body_bytes", "max_body_bytes", None),
    }


_RUN = pytest.StashKey[SessionRun]()


class Catalogue(pytest.Collector):
    """The parent of the check items (not a file: the catalogue comes from the check registry)."""

    def collect(self) -> list[pytest.Item]:
        from asr_conformance.conformance.checks import select

        return [CheckItem.from_parent(self, name=c.id, check_id=c.id, path=self.path) for c in select()]


class CheckFailed(Exception):
    """A check's verdict was FAIL or ERROR; the message is the report for the item."""


class CheckItem(pytest.Item):
    """One check of the catalogue."""

    def __init__(self, *, check_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_id = check_id

    def runtest(self) -> None:
        session_run = self.config.stash[_RUN]
        session_run.ensure()
        if session_run.error:
            raise CheckFailed(session_run.error)
        from asr_conformance.conformance.model import Outcome, Severity

        assert session_run.tally is not None
        tally = session_run.tally.checks.get(self.check_id)
        if tally is None:
            pytest.skip("not run: the run ended before this check judged anything")
        verdict = tally.verdict
        if verdict in (Outcome.SKIP, Outcome.PRECONDITION_FAILED):
            reasons = "; ".join(r for r, _ in tally.reasons.most_common(2)) or "not exercised"
            pytest.skip(f"{verdict.value}: {reasons}")
        if verdict == Outcome.PASS:
            return
        expected = session_run.expectations
        if expected is not None and verdict.value.upper() in expected.expected(self.check_id):
            entry = expected.checks.get(self.check_id)
            pytest.xfail(f"known deviation ({verdict.value}): {entry.issue if entry else ''}".strip())
        threshold = Severity(session_run.options["fail_on"])
        if verdict == Outcome.FAIL and tally.severity.rank < threshold.rank:
            pytest.xfail(f"{tally.severity}-severity deviation, below --asr-fail-on {threshold}")
        raise CheckFailed(_explain(tally, session_run.tally))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{CATALOGUE}::{self.check_id}"


def _explain(tally: Any, run: Any) -> str:
    from asr_conformance.conformance.model import Outcome
    from asr_conformance.conformance.reports.text import example_lines

    info = tally.info()
    head = "the target broke" if tally.verdict == Outcome.ERROR else f"{tally.severity}-severity failure"
    lines = [
        f"{info.id}: {info.title} — {head}",
        f"  {info.doc}" if info.doc else "",
        f"  spec {info.spec_ref} ({info.evidence}) · {tally.counts[Outcome.FAIL]} failed, "
        f"{tally.counts[Outcome.ERROR]} errored of {tally.total} results",
    ]
    for ex in tally.examples.values():
        lines += ["", *example_lines(ex, run)]
    return "\n".join(line for line in lines if line != "")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Add the catalogue to what the session collects, so items are counted, ``-k``-filtered, listed."""
    report = yield
    config = collector.config
    if isinstance(collector, pytest.Session) and config.getoption("asr_target") and _RUN not in config.stash:
        config.stash[_RUN] = _session_run(config)
        # an explicit id: "asr-conformance::<check id>", not "::asr-conformance::..." under the session
        report.result.append(
            Catalogue.from_parent(collector, name=CATALOGUE, nodeid=CATALOGUE, path=config.rootpath)
        )
    return report


def _session_run(config: pytest.Config) -> SessionRun:
    options = _options(config)
    session_run = SessionRun(options)
    if options["expectations"]:
        from asr_conformance.conformance.reports import expectations

        try:
            session_run.expectations = expectations.load(Path(options["expectations"]))
        except expectations.ExpectationsError as exc:
            raise pytest.UsageError(str(exc)) from exc
    return session_run


def pytest_collection_finish(session: pytest.Session) -> None:
    """Run only the checks still selected (after ``-k`` / ``--deselect``)."""
    session_run = session.config.stash.get(_RUN, None)
    if session_run is not None:
        session_run.selected = [i.check_id for i in session.items if isinstance(i, CheckItem)]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session_run = config.stash.get(_RUN, None)
    if session_run is None or session_run.tally is None:
        return
    tally = session_run.tally
    stamp = tally.stamp()
    terminalreporter.write_sep("-", "asr-conformance")
    terminalreporter.write_line(
        f"{tally.cases} cases against {stamp['target']} · profile {stamp['profile']} · "
        f"seed {stamp['seed']} · spec {stamp['spec_view']} · asr-conformance {stamp['suite_version']}"
    )
    if session_run.options["report_dir"]:
        terminalreporter.write_line(f"reports in {session_run.options['report_dir']}")
