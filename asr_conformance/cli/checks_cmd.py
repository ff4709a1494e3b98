"""``asr-conformance checks``: list the check catalogue and explain one check."""

from __future__ import annotations

import sys

import click


@click.group()
def checks() -> None:
    """The checks that judge each exchange: ids, severities, evidence."""


@checks.command("list")
@click.option("--legacy/--no-legacy", default=True, show_default=True, help="Include legacy checks.")
def list_checks(legacy: bool) -> None:
    """Table of every check: id, severity, evidence, title."""
    from asr_conformance.conformance.checks import select
    from asr_conformance.conformance.checks.registry import is_legacy, severity_of

    rows = [
        (
            chk.id,
            "legacy" if is_legacy(chk) else str(severity_of(chk.evidence)),
            chk.evidence,
            chk.title,
        )
        for chk in select(include_legacy=legacy)
    ]
    header = ("ID", "SEVERITY", "EVIDENCE", "TITLE")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        padded = (cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        click.echo("  ".join([*padded, row[3]]))
    legacy_note = " (legacy ones run only when asked for, by id or with legacy included)" if legacy else ""
    click.echo(f"\n{len(rows)} checks{legacy_note}.")


@checks.command()
@click.argument("check_id")
def explain(check_id: str) -> None:
    """What CHECK_ID tests, where the spec says so, how much it weighs, and what makes it fire."""
    from asr_conformance.conformance.checks import get
    from asr_conformance.conformance.checks.registry import is_legacy, severity_of
    from asr_conformance.mock_server.violations import VIOLATIONS

    try:
        chk = get(check_id)
    except KeyError as exc:
        click.echo(f"error: {exc.args[0]}", err=True)
        sys.exit(2)
    legacy = "legacy (judged only on request; a warning then)"
    severity = legacy if is_legacy(chk) else severity_of(chk.evidence)
    click.echo(f"{chk.id}: {chk.title}")
    click.echo(f"  {chk.doc}")
    click.echo(f"  severity:  {severity}")
    click.echo(f"  evidence:  {chk.evidence}")
    click.echo(f"  spec ref:  {chk.spec_ref}{_describe_ref(chk.spec_ref)}")
    click.echo("  fired by (asr-conformance mock --violate NAME):")
    for switch in chk.fired_by:
        click.echo(f"    {switch}: {VIOLATIONS.get(switch, '(unknown switch)')}")


def _describe_ref(ref: str) -> str:
    """The erratum title or the table row description behind a spec reference."""
    from asr_conformance import spec

    for erratum in spec.errata():
        if erratum.id == ref:
            return f" — {erratum.title}"
    for row in spec.fields():
        if f"{row.table}:{row.path}" == ref:
            return f" — {row.table} table, {row.path}: {row.description}"
    return ""


__all__ = ["checks"]
