"""`llmledger report`: cost and tokens by developer, team, model or day; `--reconcile`.

Reports read the published snapshot when it exists (so they never wait for, or block, the
ingest writer), else the main database read-only. Only counted events are reported.
"""

from __future__ import annotations

import re
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
    type=click.Choice(["developer", "team", "model", "day", "account", "principal"]),
    default=None,
    help="Group by (default developer; with --bill: day, model, account or principal, "
    "default day).",
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
@click.option(
    "--bill",
    is_flag=True,
    help="The estimate against the provider's bill for --month (exit 1 past --tolerance-pct).",
)
@click.option("--month", metavar="YYYY-MM", help="The bill month (with --bill).")
@click.option(
    "--tolerance-pct",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="With --bill: a group whose difference passes this percentage fails (exit 1).",
)
@click.pass_context
def report(
    ctx: click.Context,
    by: str | None,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    team: tuple[str, ...],
    developer: tuple[str, ...],
    model: tuple[str, ...],
    provider: tuple[str, ...],
    source: tuple[str, ...],
    reconcile: bool = False,
    bill: bool = False,
    month: str | None = None,
    tolerance_pct: float = 2.0,
) -> None:
    """Cost and tokens per developer, team, model or day (counted requests only).

    csv and json carry exact costs (cost_usd as a decimal string, 12 places); the table shows
    money rounded to cents, the total and the unattributed and unpriced shares.

    \b
    Example:
      llmledger report --by team --since 2026-11-01 --until 2026-12-01
      llmledger report --by developer --team payments --format csv > payments.csv
      llmledger report --reconcile --since 2026-11-01
      llmledger report --bill --month 2026-11 --by model --format json
    """
    from models import views

    if since and until and since >= until:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    if reconcile:
        return print_reconcile(ctx, since, until, fmt)
    if bill:
        return print_bill(ctx, month, by or "day", fmt, tolerance_pct)
    if month is not None:
        raise click.BadParameter("--month goes with --bill", param_hint="--month")
    by = by or "developer"
    if by in ("account", "principal"):
        raise click.BadParameter(f"--by {by} goes with --bill", param_hint="--by")
    app = app_context(ctx)
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


def print_bill(ctx: click.Context, month: str | None, by: str, fmt: str, tolerance: float) -> None:
    """`llmledger report --bill`: our estimate beside the bill per day, model, account or
    principal; exit 1 when a group's difference passes the tolerance."""
    import sys
    from decimal import Decimal

    from models import bills, views

    if not month or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise click.BadParameter("--bill needs --month YYYY-MM", param_hint="--month")
    if by not in bills.BY:
        raise click.BadParameter(
            f"--bill groups by {', '.join(bills.BY)}, not {by}", param_hint="--by"
        )
    app = app_context(ctx)
    with open_for_read(app) as (con, where):
        require_tables(con, where, "bill_check", "bill_lines")
        rows = views.rows(views.bill_check(con, month, by))
    keys = {"day": ("day",), "model": ("provider", "model"), "account": ("provider", "account")}
    key = keys.get(by, ("provider", "principal", "developer"))
    columns = (
        *key,
        "our_cost_usd",
        "billed_cost_usd",
        "difference_usd",
        "difference_pct",
        *bills.TOKEN_PAIRS,
        "credits_usd",
        "reason",
        "suggested_override",
    )
    limit = Decimal(str(tolerance))
    failing = [r for r in rows if bills.failed(r, limit)]
    if fmt != "table":
        emit_rows(rows, columns, fmt)
    else:
        if not rows:
            click.echo(f"no bill loaded for {month}", err=True)
        short = (*key, "our_cost_usd", "billed_cost_usd", "difference_usd", "difference_pct")
        emit_rows(rows, (*short, "reason"), "table", title=f"estimate vs bill, {month}, by {by}")
        for text in sorted(
            {str(r["suggested_override"]) for r in rows if r.get("suggested_override")}
        ):
            click.echo("to make estimates match the contracted rate, add to the config:\n" + text)
    if failing:
        click.echo(
            f"{len(failing)} group(s) differ from the bill by more than {tolerance:g}%",
            err=True,
        )
        sys.exit(1)
