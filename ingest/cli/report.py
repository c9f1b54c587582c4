"""`llmledger report`: cost and tokens by developer, team, model or day; `--reconcile`.

Reports read the published snapshot when it exists (so they never wait for, or block, the
ingest writer), else the main database read-only. Only counted events are reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from ingest.cli.common import (
    FORMATS,
    REPORT_COLUMNS,
    app_context,
    as_date,
    date_option,
    emit_rows,
    open_for_read,
    print_summary,
    require_tables,
)

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


@click.command()
@click.option(
    "--by",
    type=click.Choice(["developer", "team", "model", "day", "gateway"]),
    default="developer",
    show_default=True,
    help="Group by. gateway: per gateway and day, with p50/p95 of the gateway's overhead.",
)
@date_option("--since", "First UTC day included (YYYY-MM-DD).")
@date_option("--until", "UTC day the report stops before (YYYY-MM-DD, exclusive).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--team", multiple=True, help="Only this team (repeatable).")
@click.option("--developer", multiple=True, help="Only this developer (repeatable).")
@click.option("--model", multiple=True, help="Only this canonical model, e.g. claude-sonnet-4-5.")
@click.option(
    "--provider", multiple=True, help="Only this provider: bedrock, vertex, anthropic, ..."
)
@click.option("--source", multiple=True, help="Only this source: bedrock, vertex, litellm.")
@click.option(
    "--reconcile",
    is_flag=True,
    help="LiteLLM vs provider logs (matched, only-in-LiteLLM, only-in-provider) and "
    "why LiteLLM's spend differs from our cost.",
)
@click.pass_context
def report(
    ctx: click.Context,
    by: str,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    team: tuple[str, ...],
    developer: tuple[str, ...],
    model: tuple[str, ...],
    provider: tuple[str, ...],
    source: tuple[str, ...],
    reconcile: bool = False,
) -> None:
    """Cost and tokens per developer, team, model or day (counted requests only).

    csv and json carry exact costs (cost_usd as a decimal string, 12 places); the table shows
    money rounded to cents, the total and the unattributed and unpriced shares.

    \b
    Example:
      llmledger report --by team --since 2026-11-01 --until 2026-12-01
      llmledger report --by developer --team payments --format csv > payments.csv
      llmledger report --reconcile --since 2026-11-01
      llmledger report --by gateway --since 2026-11-01
    """
    from models import views

    if since and until and since >= until:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    if reconcile:
        return print_reconcile(ctx, since, until, fmt)
    app = app_context(ctx)
    if by == "gateway":
        return print_gateways(app, since, until, fmt)
    filters = {
        "team": list(team),
        "developer": list(developer),
        "model": list(model),
        "provider": list(provider),
        "source": list(source),
    }
    with open_for_read(app) as (con, where):
        require_tables(con, where, "usage_daily")
        rows = views.rows(views.report(con, by, as_date(since), as_date(until), **filters))
        total = views.totals(con, as_date(since), as_date(until), **filters)
    columns = (by, *REPORT_COLUMNS)
    if fmt != "table":
        emit_rows(rows, columns, fmt)
        return
    title = f"cost by {by}" + _range_text(since, until)
    emit_rows(rows, columns, "table", title=title)
    print_summary(total)


def print_gateways(app: Any, since: Any, until: Any, fmt: str) -> None:
    from models import views

    with open_for_read(app) as (con, where):
        require_tables(con, where, "usage_daily")
        rows = views.rows(views.gateway_report(con, as_date(since), as_date(until)))
    title = "" if fmt != "table" else "gateways by day" + _range_text(since, until)
    emit_rows(rows, views.GATEWAY_COLUMNS, fmt, title=title)


def _range_text(since: datetime | None, until: datetime | None) -> str:
    if since and until:
        return f", {since.date()} to {until.date()} (exclusive)"
    if since:
        return f", from {since.date()}"
    if until:
        return f", before {until.date()}"
    return ""


def print_reconcile(ctx: click.Context, since: Any, until: Any, fmt: str) -> None:
    """`llmledger report --reconcile`: LiteLLM beside the providers, and its spend beside ours.

    The rows are one table with a ``section`` column: ``requests`` (matched, only_in_litellm,
    only_in_provider: LiteLLM's spend, our cost of the LiteLLM rows and of the provider rows)
    and ``spend`` (why LiteLLM's spend differs from our cost: cost_usd and difference_usd).
    """
    from models import reconcile

    app = app_context(ctx)
    with open_for_read(app) as (con, where):
        require_tables(con, where, "usage_events", "gateway_matches")
        rows = reconcile.report_rows(con, as_date(since), as_date(until))
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
