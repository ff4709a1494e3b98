"""The ``asr-conformance`` command line: a thin shell over the core packages.

Subcommands are loaded lazily so that ``asr-conformance mock`` never imports torch and
``asr-conformance spec`` never imports aiohttp. Each entry maps a command name to
``module:attribute`` of a click command; the core packages never import this module.
"""

from __future__ import annotations

import importlib

import click

from asr_conformance import __version__

#: command name -> "module:attribute" (a click.Command)
COMMANDS: dict[str, str] = {
    "spec": "asr_conformance.cli.spec_cmd:spec",
    "mock": "asr_conformance.cli.mock_cmd:mock",
    "run": "asr_conformance.cli.run_cmd:run",
    "checks": "asr_conformance.cli.checks_cmd:checks",
    "replay": "asr_conformance.cli.replay_cmd:replay",
    "update-expectations": "asr_conformance.cli.report_cmd:update_expectations",
    "report": "asr_conformance.cli.report_cmd:report",
    "reference": "asr_conformance.cli.reference_cmd:reference",
    "convert-ct2": "asr_conformance.cli.reference_cmd:convert_ct2",
    "compare": "asr_conformance.cli.compare_cmd:compare",
    "proxy": "asr_conformance.cli.compare_cmd:proxy",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not built yet / not installed: hide it
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="asr-conformance")
def main() -> None:
    """Conformance testing for the HF Inference API automatic-speech-recognition task."""
    from asr_conformance.conformance.settings import keep_hypothesis_storage_private

    keep_hypothesis_storage_private()  # no .hypothesis/ in the working directory


__all__ = ["COMMANDS", "main"]
