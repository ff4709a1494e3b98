"""``asr-conformance spec``: generate the schemas and OpenAPI document, check them, summarise the spec."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click


@click.group()
def spec() -> None:
    """The spec as data: tables, errata, domains, generated schemas."""


def _in_checkout(spec_dir: Path) -> bool:
    """True when ``spec_dir`` is the spec/ folder of a source checkout (not an installed package)."""
    return (spec_dir.parent / "pyproject.toml").is_file() and "site-packages" not in spec_dir.parts


@spec.command()
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when outputs are stale.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write into this directory (openapi.json, generated/...). Required outside a source checkout.",
)
def generate(check: bool, out: Path | None) -> None:
    """Write the generated schemas and the OpenAPI document: into --out, or into spec/ of a checkout."""
    from asr_conformance.spec import generate as gen
    from asr_conformance.spec.loader import SPEC_DIR

    if check:
        diff = gen.check()
        if diff:
            sys.stdout.write(diff)
            click.echo("spec: generated files are stale; run `asr-conformance spec generate`.", err=True)
            sys.exit(1)
        click.echo("spec: generated files are up to date.")
        return
    if out is None:
        if not _in_checkout(SPEC_DIR):
            raise click.UsageError(
                f"the spec is installed at {SPEC_DIR}, which is never rewritten: give --out DIR"
            )
        changed = gen.write()
    else:
        changed = []
        for path, text in gen.outputs().items():
            dest = out / path.relative_to(SPEC_DIR)
            if not dest.exists() or dest.read_text() != text:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text)
                changed.append(dest)
    for path in changed:
        click.echo(f"wrote {path}")
    click.echo(f"spec: {len(changed)} file(s) changed.")


@spec.command()
def summary() -> None:
    """Print what the spec holds: fields per table, errata, domain sizes."""
    from asr_conformance import spec as s

    u = s.UPSTREAM
    click.echo(f"upstream: {u.repo}/{u.path} @ {u.commit[:8]} ({u.date})")
    per_table = Counter(f.table for f in s.fields())
    click.echo("fields: " + ", ".join(f"{t} {n}" for t, n in per_table.items()))
    click.echo("errata:")
    for e in s.errata():
        sev = e.severity or "on request"
        click.echo(f"  {e.id:<4} [{e.evidence.value}, {sev}] {e.title}")
    doms = s.domains()
    totals: Counter[str] = Counter()
    for d in doms.values():
        totals["must_accept"] += len(d.must_accept)
        totals["must_reject"] += len(d.must_reject)
        totals["implementation_defined"] += len(d.implementation_defined)
    click.echo(f"domains: {len(doms)} paths; " + ", ".join(f"{k} {n}" for k, n in totals.items()))
    click.echo(f"response header rules: {len(s.response_headers())}")
