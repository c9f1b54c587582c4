"""`llmledger ingest`: every configured source, or one source ad hoc from flags."""

from __future__ import annotations

import sys
from datetime import date

import click

from ingest import pipeline
from ingest.errors import ConfigError

SINCE_UNTIL_HELP = "UTC date YYYY-MM-DD"


def date_options(func):  # type: ignore[no-untyped-def]
    """--since/--until on every ingest command, to backfill a window."""
    func = click.option(
        "--until",
        type=click.DateTime(["%Y-%m-%d"]),
        help=f"Read up to this {SINCE_UNTIL_HELP} (exclusive).",
    )(func)
    func = click.option(
        "--since",
        type=click.DateTime(["%Y-%m-%d"]),
        help=f"Read from this {SINCE_UNTIL_HELP} (backfill).",
    )(func)
    return func


def as_date(value: object) -> date | None:
    return value.date() if value is not None else None  # type: ignore[attr-defined]


@click.group(invoke_without_command=True)
@date_options
@click.pass_context
def ingest(ctx: click.Context, since: object, until: object) -> None:
    """Ingest every configured source incrementally, then build and publish.

    \b
    Example:
      llmledger --config llmledger.toml ingest
      llmledger --db ledger.duckdb ingest bedrock-files ./bedrock-logs
    """
    if ctx.invoked_subcommand is not None:
        return
    from ingest.cli import app_context

    app = app_context(ctx)
    sources = pipeline.configured_sources(app)
    if not sources:
        raise ConfigError(
            "no sources configured; add [[sources.<kind>]] tables to the config file "
            "or run one source ad hoc, e.g. `llmledger ingest bedrock-files DIR`"
        )
    from ingest.scheduler import run_lock

    with run_lock(app):  # one run at a time, shared with `llmledger run` (exit 1 if busy)
        con = app.connect()
        outcomes = [
            pipeline.ingest_one(app, con, kind, options, since=as_date(since), until=as_date(until))
            for kind, options in sources
        ]
        sys.exit(pipeline.finish(app, con, outcomes))


def run_ad_hoc(ctx: click.Context, kind: str, options: dict, since: object, until: object) -> None:
    """Shared body of the ad hoc source commands."""
    from ingest.cli import app_context
    from ingest.scheduler import run_lock

    app = app_context(ctx)
    with run_lock(app):  # one run at a time, shared with `llmledger run` (exit 1 if busy)
        con = app.connect()
        outcome = pipeline.ingest_one(
            app, con, kind, options, since=as_date(since), until=as_date(until)
        )
        sys.exit(pipeline.finish(app, con, [outcome]))
