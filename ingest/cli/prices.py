"""`llmledger prices list|check|import-litellm`: the effective price book and unpriced models."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ingest.cli.common import (
    FORMATS,
    app_context,
    console,
    date_option,
    effective_price_book,
    emit_rows,
    open_for_read,
    require_tables,
)
from ingest.errors import ConfigError, ExitCode


@click.group()
def prices() -> None:
    """The price book: list it, check for unpriced models, import LiteLLM's prices.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb prices list --provider bedrock --model claude-sonnet-4-5
      llmledger --db llmledger-demo.duckdb prices check || echo "some models have no price"
      llmledger prices import-litellm model_prices_and_context_window.json
    """


PRICE_COLUMNS = (
    "provider",
    "model",
    "pricing_scope",
    "pricing_tier",
    "is_batch",
    "valid_from",
    "valid_to",
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cache_write_5m_usd_per_mtok",
    "cache_write_1h_usd_per_mtok",
    "cache_read_usd_per_mtok",
    "price_version",
)


@prices.command("list")
@click.option("--provider", help="Only this provider (bedrock, vertex, anthropic, ...).")
@click.option("--model", help="Only this model (any id form; it is canonicalised).")
@date_option("--at", "Entries in force on this UTC day (default: now).")
@click.option("--all", "show_all", is_flag=True, help="Every version, not only those in force.")
@click.option("--batch/--no-batch", default=False, show_default=True, help="Include batch rates.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def prices_list(
    ctx: click.Context,
    provider: str | None,
    model: str | None,
    at: datetime | None,
    show_all: bool,
    batch: bool,
    fmt: str,
) -> None:
    """The effective price book (built-in, LiteLLM imports, config overrides), USD per MTok.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb prices list --model us.anthropic.claude-sonnet-4-5-20250929-v1:0
      llmledger --db llmledger-demo.duckdb prices list --all --format csv > price_book.csv
    """  # noqa: E501 - examples are whole command lines
    from models import pricing

    app = app_context(ctx)
    mem, warnings = effective_price_book(app)
    when = None if show_all else (at.replace(tzinfo=UTC) if at else datetime.now(UTC))
    rows = pricing.list_prices(mem, at=when, provider=provider, model=model)
    if not batch:
        rows = [r for r in rows if not r["is_batch"]]
    mem.close()
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    if fmt == "table":
        _price_table(rows)
    else:
        emit_rows(rows, PRICE_COLUMNS, fmt)


def _price_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="price book (USD per million tokens)", title_justify="left")
    headers = (
        "provider",
        "model",
        "scope",
        "tier",
        "batch",
        "valid from",
        "input",
        "output",
        "write 5m",
        "write 1h",
        "read",
        "price_version",
    )
    for i, h in enumerate(headers):
        table.add_column(h, justify="right" if 6 <= i <= 10 else "left")
    for r in rows:
        rates = [r[c] for c in PRICE_COLUMNS if c.endswith("_mtok")]
        table.add_row(
            r["provider"],
            r["model"],
            r["pricing_scope"],
            r["pricing_tier"],
            "yes" if r["is_batch"] else "no",
            r["valid_from"].date().isoformat(),
            *["-" if v is None else f"{v.normalize():f}" for v in rates],
            r["price_version"],
        )
    console().print(table)


@prices.command("check")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def prices_check(ctx: click.Context, fmt: str) -> None:
    """List models seen in the usage data without a price; exit 1 when there are any.

    Unpriced requests have a NULL cost (never $0). Price them with
    `llmledger prices import-litellm FILE`, [[prices.overrides]] or
    [bedrock.application_profiles], then run `llmledger build`.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb prices check || echo "some models have no price"
    """
    from models import views

    app = app_context(ctx)
    with open_for_read(app, prefer_snapshot=False) as (con, where):
        require_tables(con, where, "usage_events")
        rows = views.rows(views.unpriced_model_ids(con))
    columns = (
        "provider",
        "model",
        "pricing_scope",
        "requests",
        "model_ids",
        "first_seen_at",
        "last_seen_at",
    )
    if not rows:
        if fmt == "table":
            click.echo("every model in the usage data has a price")
        else:
            emit_rows([], columns, fmt)
        return
    emit_rows(rows, columns, fmt, title="unpriced models (cost NULL)")
    click.echo(
        f"{len(rows)} unpriced model(s): import LiteLLM's prices (`llmledger prices "
        "import-litellm FILE`), add [[prices.overrides]] or map [bedrock.application_profiles], "
        "then run `llmledger build`",
        err=True,
    )
    sys.exit(int(ExitCode.DATA))


@prices.command("import-litellm")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-build", is_flag=True, help="Only store the prices; do not rebuild the models.")
@click.pass_context
def prices_import_litellm(ctx: click.Context, file: Path, no_build: bool) -> None:
    """Import LiteLLM's model_prices_and_context_window.json into the database.

    Imported prices are used only for models the built-in book does not know (overrides in the
    config still win). A new import replaces the previous one. Then the models are rebuilt and
    the snapshot published.

    \b
    Example:
      curl -sO https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json
      llmledger prices import-litellm model_prices_and_context_window.json
    """
    from ingest import pipeline
    from models import pricing, runner

    app = app_context(ctx)
    con = app.connect()
    try:
        runner.create_macros(con)
        try:
            result = pricing.import_litellm(con, file)
        except pricing.PriceDataError as exc:
            raise ConfigError(str(exc)) from None
        app.log(
            "prices_imported",
            f"imported {result.rows_imported} price rows for {len(result.models)} models from "
            f"{file} ({result.skipped} of {result.entries_read} entries skipped)",
            rows=result.rows_imported,
            models=len(result.models),
            skipped=result.skipped,
        )
        if not no_build:
            pipeline.build(app, con)
            pipeline.publish(app, con)
    finally:
        con.close()
