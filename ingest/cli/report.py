"""`llmledger report`: cost and tokens by developer, team, model or day; `--reconcile`.

Reports read the published snapshot when it exists (so they never wait for, or block, the
ingest writer), else the main database read-only. Only counted events are reported.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import datetime
from typing import Any

import click

from ingest.cli.common import (
    FORMATS,
    LAKE_OPTION,
    REPORT_COLUMNS,
    app_context,
    as_date,
    console,
    date_option,
    emit_rows,
    explain_empty,
    money_cents,
    open_for_read,
    print_summary,
    require_tables,
)
from ingest.errors import DataError

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
    type=click.Choice(
        [
            "developer",
            "team",
            "model",
            "provider",
            "source",
            "cost_center",
            "day",
            "week",
            "month",
            "session",
            "account",
            "principal",
            "gateway",
        ]
    ),
    default=None,
    help="Group by [default: developer; with --bill: day]. A week is named by its Monday; "
    "session: Claude Code sessions from its telemetry (`ingest otel-files`); account and "
    "principal go with --bill; gateway: per gateway and day, with p50/p95 of its overhead.",
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
    "--wide",
    is_flag=True,
    help="Show every token column in the table even when the terminal is too narrow.",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="An empty result is not an error (by default it says what data exists, exit 1).",
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
@LAKE_OPTION
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
    wide: bool = False,
    allow_empty: bool = False,
    bill: bool = False,
    month: str | None = None,
    tolerance_pct: float = 2.0,
) -> None:
    """Cost and tokens per developer, team, model or day (counted requests only).

    csv and json carry exact costs (cost_usd as a decimal string, 12 places); the table shows
    money rounded to cents, the total and the unattributed and unpriced shares.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb report --by team --since 2026-11-01 --until 2026-12-01
      llmledger --db llmledger-demo.duckdb report --by developer --team payments --format csv > payments.csv
      llmledger --db llmledger-demo.duckdb report --reconcile --since 2026-11-01
      llmledger --db llmledger-demo.duckdb report --bill --month 2026-11 --by model --format json
      llmledger --db ledger.duckdb report --by gateway --since 2026-11-01
    """  # noqa: E501 - examples are whole command lines
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
    if by == "session":
        return print_sessions(ctx, since, until, fmt, team, developer)
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
        if not rows and not allow_empty:
            raise DataError(explain_empty(con, filters, as_date(since), as_date(until)))
        span = views.filter_options(con)
    columns = (by, *(("team",) if by == "developer" else ()), *REPORT_COLUMNS)
    if fmt != "table":
        emit_rows(rows, columns, fmt)
        return
    first, last = span["first_day"], span["last_day"]
    title = f"cost by {by}, " + _period_text(since, until, first, last)
    print_report_table(rows, by, total["cost_usd"], title=title, wide=wide)
    print_summary(total)


def print_gateways(app: Any, since: Any, until: Any, fmt: str) -> None:
    from models import views

    with open_for_read(app) as (con, where):
        require_tables(con, where, "usage_daily")
        rows = views.rows(views.gateway_report(con, as_date(since), as_date(until)))
    title = (
        ""
        if fmt != "table"
        else "gateways by day, " + _period_text(since, until, "the start", "now")
    )
    emit_rows(rows, views.GATEWAY_COLUMNS, fmt, title=title)


def _period_text(since: datetime | None, until: datetime | None, first: Any, last: Any) -> str:
    """The period always printed: what was asked, else the days the data covers."""
    if since and until:
        return f"{since.date()} to {until.date()} (exclusive)"
    if since:
        return f"{since.date()} to {last} (the latest data)"
    if until:
        return f"{first} (the earliest data) to {until.date()} (exclusive)"
    return f"all data: {first} to {last} (UTC)"


TOKEN_COLUMNS = REPORT_COLUMNS[1:-1]  # input ... cache_write_1h: what a narrow terminal drops


def print_report_table(
    rows: list[dict[str, Any]], by: str, total: Any, *, title: str, wide: bool
) -> None:
    """The report as a table that fits the terminal: name, cost, share and requests first;
    token columns only when they fit (or --wide). Names and numbers are never cut."""
    from rich.table import Table

    names = (by, "team") if by == "developer" else (by,)
    head = (*names, "cost_usd", "share", "requests")
    cells = [
        [
            *(_text(r.get(n)) for n in names),
            money_cents(r.get("cost_usd")),
            _share(r.get("cost_usd"), total),
            f"{r['requests']:,}",
        ]
        for r in rows
    ]
    tokens = [[f"{(r.get(c) or 0):,}" for c in TOKEN_COLUMNS] for r in rows]
    out = console()
    columns = os.environ.get("COLUMNS", "")
    if not sys.stdout.isatty() and columns.isdigit():
        out.width = int(columns)  # through a pipe: the width `COLUMNS=80 llmledger ...` asks for
    needed = _width(head + TOKEN_COLUMNS, [a + b for a, b in zip(cells, tokens, strict=True)])
    show_tokens = wide or needed <= out.width
    if wide and needed > out.width:
        out.width = needed  # the user asked for every column: wrap lines, never cut cells
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(head + (TOKEN_COLUMNS if show_tokens else ())):
        text = i < len(names)
        table.add_column(
            name,
            justify="left" if text else "right",
            no_wrap=not text,
            overflow="fold",  # a name too long for the terminal wraps; it is never cut with …
        )
    for i, row in enumerate(cells):
        table.add_row(*row, *(tokens[i] if show_tokens else ()))
    out.print(table)
    if not show_tokens:
        click.echo(f"(token columns hidden to fit {out.width} columns; --wide shows them)")


def _text(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def _share(cost: Any, total: Any) -> str:
    if cost is None or not total:
        return "—"
    return f"{cost / total * 100:.1f}%"


def _width(head: tuple[str, ...], rows: list[list[str]]) -> int:
    """Characters a rich table of these cells needs (borders and padding included)."""
    widths = [len(h) for h in head]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    return sum(widths) + 3 * len(widths) + 1


def print_sessions(
    ctx: click.Context,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    team: tuple[str, ...],
    developer: tuple[str, ...],
) -> None:
    """`llmledger report --by session`: one row per Claude Code session started in the range
    (its requests, errors, tokens, cost, the client's own estimate and active time)."""
    from datetime import timedelta

    from models import views

    end = as_date(until)
    last_day = end - timedelta(days=1) if end is not None else None
    filters = views.Filters(
        since=as_date(since), until=last_day, teams=tuple(team), developers=tuple(developer)
    )
    with open_for_read(app_context(ctx)) as (con, where):
        require_tables(con, where, "usage_daily")
        rows = views.rows(views.claude_code_sessions(con, filters))
    emit_rows(
        rows,
        views.SESSION_COLUMNS,
        fmt,
        title="Claude Code sessions, " + _period_text(since, until, "the start", "now"),
    )


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
