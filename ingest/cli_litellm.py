"""Ad hoc LiteLLM commands: `ingest litellm|litellm-api|litellm-files`, `report --reconcile`."""

from __future__ import annotations

from typing import Any

import click

from ingest.cli_ingest import date_options, run_ad_hoc


def register(group: click.Group) -> None:
    """Add this family's `ingest <source>` commands to the ingest group."""
    group.add_command(litellm)
    group.add_command(litellm_api)
    group.add_command(litellm_files)


@click.command("litellm")
@click.option(
    "--dsn-env",
    default="LITELLM_DATABASE_URL",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the proxy database's PostgreSQL DSN.",
)
@click.option(
    "--name",
    default=None,
    metavar="NAME",
    help="A name for this proxy (its cursor; several proxies can be ingested).",
)
@click.option(
    "--overlap-minutes",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Re-read this far before the cursor: the proxy writes rows late.",
)
@date_options
@click.pass_context
def litellm(
    ctx: click.Context,
    dsn_env: str,
    name: str | None,
    overlap_minutes: int,
    since: object,
    until: object,
) -> None:
    """Ingest a LiteLLM proxy's spend logs, keys, teams and users from its PostgreSQL.

    A read-only role is enough. The DSN is read from $LITELLM_DATABASE_URL (or --dsn-env NAME),
    never from the command line or the config file.

    \b
    Example:
      export LITELLM_DATABASE_URL=postgresql://reader@litellm-db:5432/litellm
      llmledger --db ledger.duckdb ingest litellm
    """
    options = {"dsn_env": dsn_env, "overlap_minutes": overlap_minutes}
    if name:
        options["name"] = name
    run_ad_hoc(ctx, "litellm", options, since, until)


@click.command("litellm-api")
@click.option("--url", required=True, metavar="URL", help="The proxy's base URL.")
@click.option(
    "--key-env",
    default="LITELLM_MASTER_KEY",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the proxy's master key (or an admin key).",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=1000,
    show_default=True,
    help="Rows per /spend/logs/v2 page (the API allows 1-1000).",
)
@click.option(
    "--overlap-minutes",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Re-read this far before the cursor: the proxy writes rows late.",
)
@date_options
@click.pass_context
def litellm_api(
    ctx: click.Context,
    url: str,
    key_env: str,
    page_size: int,
    overlap_minutes: int,
    since: object,
    until: object,
) -> None:
    """Ingest a LiteLLM proxy's spend logs, keys, teams and users through its REST API.

    For when the database is out of reach. Reads /spend/logs/v2 in narrow time slices (its
    totals are capped at 10,000 rows and its pages have no tie-breaker).

    \b
    Example:
      export LITELLM_MASTER_KEY=sk-...
      llmledger --db ledger.duckdb ingest litellm-api --url https://litellm.internal:4000
    """
    options = {
        "url": url,
        "key_env": key_env,
        "page_size": page_size,
        "overlap_minutes": overlap_minutes,
    }
    run_ad_hoc(ctx, "litellm_api", options, since, until)


@click.command("litellm-files")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@date_options
@click.pass_context
def litellm_files(ctx: click.Context, path: str, since: object, until: object) -> None:
    """Ingest CSV dumps of a LiteLLM proxy's tables from a folder.

    The folder holds LiteLLM_SpendLogs.csv and optionally LiteLLM_VerificationToken.csv,
    LiteLLM_TeamTable.csv, LiteLLM_UserTable.csv (and their Deleted/Deprecated tables), each as
    written by COPY "<table>" TO STDOUT WITH (FORMAT csv, HEADER true).

    \b
    Example:
      llmledger --db ledger.duckdb ingest litellm-files sample_data/litellm
    """
    from pathlib import Path

    run_ad_hoc(ctx, "litellm_files", {"path": str(Path(path).resolve())}, since, until)


RECONCILE_COLUMNS = (
    "section",
    "group",
    "provider",
    "requests",
    "reported_cost_usd",
    "litellm_cost_usd",
    "provider_cost_usd",
    "cost_usd",
    "difference_usd",
)


def print_reconcile(ctx: click.Context, since: Any, until: Any, fmt: str) -> None:
    """`llmledger report --reconcile`: LiteLLM beside the providers, and its spend beside ours.

    The rows are one table with a ``section`` column: ``requests`` (matched, only_in_litellm,
    only_in_provider: LiteLLM's spend, our cost of the LiteLLM rows and of the provider rows)
    and ``spend`` (why LiteLLM's spend differs from our cost: cost_usd and difference_usd).
    """
    from ingest.cli import app_context
    from ingest.cli_reports import _require, emit_rows, open_for_read
    from models import reconcile, views

    app = app_context(ctx)
    since_day = since.date() if since is not None else None
    until_day = until.date() if until is not None else None
    with open_for_read(app) as (con, where):
        _require(con, where, "usage_events", "gateway_matches")
        requests = views.rows(reconcile.summary(con, since_day, until_day))
        causes = views.rows(reconcile.differences(con, since_day, until_day))
    rows = [{"section": "requests", "group": r["category"], **r} for r in requests]
    rows += [{"section": "spend", "group": r["cause"], **r} for r in causes]
    if fmt != "table":
        emit_rows(rows, RECONCILE_COLUMNS, fmt)
        return
    emit_rows(
        [r for r in rows if r["section"] == "requests"],
        (
            "group",
            "provider",
            "requests",
            "reported_cost_usd",
            "litellm_cost_usd",
            "provider_cost_usd",
        ),
        "table",
        title="LiteLLM vs provider logs (reported = LiteLLM spend; cost = our price book)",
    )
    emit_rows(
        [r for r in rows if r["section"] == "spend"],
        ("group", "provider", "requests", "reported_cost_usd", "cost_usd", "difference_usd"),
        "table",
        title="why LiteLLM's spend differs from our cost (successful LiteLLM requests)",
    )
