"""`llmledger doctor`: the config, the price book, the database and its data, as one list.

The checks over the data are ``models.doctor.data_findings``; this module adds the ones that
need the configuration (the price book it makes, the configured sources, the database path)
and renders every finding as one line.
"""

from __future__ import annotations

import sys

import click

from ingest.cli.common import app_context, effective_price_book, open_for_read
from ingest.context import AppContext
from ingest.errors import ExitCode, LedgerError
from models.doctor import Finding

LABELS = {"ok": "ok", "warn": "warning", "fail": "FAIL", "info": ""}


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check the config, the database, every source's last run, prices and identities.

    Exit 1 when a check fails (no readable database, models not built, a data check with bad
    rows); unpriced models, unmapped identities, rejected records and failed source runs are
    warnings (exit 0).

    \b
    Example:
      llmledger --config llmledger.toml doctor
    """
    findings = diagnose(app_context(ctx))
    for finding in findings:
        click.echo(f"{LABELS[finding.level]:<8} {finding.message}")
    failures = sum(f.level == "fail" for f in findings)
    warnings = sum(f.level == "warn" for f in findings)
    click.echo(f"{failures} failed, {warnings} warnings")
    if failures:
        sys.exit(int(ExitCode.DATA))


def diagnose(app: AppContext) -> list[Finding]:
    """Every finding, in the order shown: config, price book, database, then its data."""
    from ingest import pipeline
    from models.doctor import data_findings

    cfg_path = app.config.path
    found = [
        Finding(
            "ok", "config", f"config: {cfg_path}" if cfg_path else "config: none given (defaults)"
        )
    ]
    try:
        book, warnings = effective_price_book(app)
        book.close()
        found.append(Finding("ok", "prices", "price book builds"))
        found += [Finding("warn", "prices", w) for w in warnings]
    except LedgerError as exc:
        found.append(Finding("fail", "prices", f"price book: {exc}"))
    configured = pipeline.configured_sources(app)
    try:
        with open_for_read(app, prefer_snapshot=False) as (con, where):
            found.append(Finding("ok", "database", f"reachable: {where}"))
            found += data_findings(con, where, configured_sources=len(configured))
    except LedgerError as exc:
        found.append(Finding("fail", "database", f"database: {exc}"))
    return found
