"""`llmledger doctor`: the config, the price book, the database and its data, as one list.

The checks over the data are ``models.doctor.data_findings``; this module adds the ones that
need the configuration (the price book it makes, the configured sources, the database path)
and renders every finding as one line.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ingest.cli.common import app_context, effective_price_book, open_for_read
from ingest.context import AppContext
from ingest.errors import ExitCode, LedgerError

if TYPE_CHECKING:  # models.doctor imports pyarrow: every command would pay for it at start-up
    from models.doctor import Finding

LABELS = {"ok": "ok", "warn": "warning", "fail": "FAIL", "info": ""}


STALE_ENV = "LLMLEDGER_STALE_AFTER_HOURS"


@click.command()
@click.option(
    "--stale-after",
    "stale_after",
    type=click.IntRange(min=0),
    metavar="HOURS",
    envvar=STALE_ENV,
    help="Warn about a source whose newest record is older than this (env "
    f"{STALE_ENV}; default [doctor] stale_after_hours, else 36; 0: never).",
)
@click.pass_context
def doctor(ctx: click.Context, stale_after: int | None) -> None:
    """Check the config, the database, every source's last run, prices and identities.

    Exit 1 when a check fails (no readable database, models not built, a data check with bad
    rows); unpriced models, unmapped identities, rejected records and failed source runs are
    warnings (exit 0), and so is a source whose newest record is older than --stale-after hours.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb --config sample_data/llmledger.toml doctor
      llmledger --db llmledger-demo.duckdb doctor --stale-after 0
    """
    findings = diagnose(app_context(ctx), stale_after)
    for finding in findings:
        click.echo(f"{LABELS[finding.level]:<8} {finding.message}")
    failures = sum(f.level == "fail" for f in findings)
    warnings = sum(f.level == "warn" for f in findings)
    click.echo(f"{failures} failed, {warnings} warnings")
    if failures:
        sys.exit(int(ExitCode.DATA))


def stale_after_hours(app: AppContext, given: int | None = None) -> float:
    """--stale-after, else [doctor] stale_after_hours, else the default (36)."""
    from models.doctor import DEFAULT_STALE_AFTER_HOURS

    if given is not None:
        return float(given)
    configured = app.config.section("doctor").get("stale_after_hours")
    return float(configured) if configured is not None else DEFAULT_STALE_AFTER_HOURS


def diagnose(app: AppContext, stale_after: int | None = None) -> list[Finding]:
    """Every finding, in the order shown: config, price book, database, then its data."""
    from ingest import pipeline
    from models.doctor import Finding, data_findings

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
            found += data_findings(
                con,
                where,
                configured_sources=len(configured),
                stale_after_hours=stale_after_hours(app, stale_after),
            )
    except LedgerError as exc:
        found.append(Finding("fail", "database", f"database: {exc}"))
    return found
