"""`llmledger report`, `prices list|check|import-litellm`, `doctor` and `build`.

Reports read the published snapshot when it exists (so they never wait for, or block, the
ingest writer), else the main database read-only. Only counted events are reported.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import click
import duckdb

from ingest.context import AppContext
from ingest.errors import ConfigError, DataError, ExitCode, LedgerError

FORMATS = ("table", "csv", "json")
REPORT_COLUMNS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cost_usd",
)
CENT = Decimal("0.01")


# ---------------------------------------------------------------------------------------------
# Opening the data


@contextmanager
def open_for_read(
    app: AppContext, *, prefer_snapshot: bool = True
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """The published snapshot if there is one, else the main database, read-only."""
    from models import snapshot

    con: duckdb.DuckDBPyConnection | None = None
    where = ""
    candidates: list[tuple[str, Path]] = []
    if prefer_snapshot:
        candidates.append(("snapshot", app.snapshot_path))
    candidates.append(("database", app.db_path))
    if not prefer_snapshot:
        candidates.append(("snapshot", app.snapshot_path))
    busy: str | None = None
    for kind, path in candidates:
        if not path.is_file():
            continue
        try:
            con = snapshot.open_snapshot(path)
            where = f"{kind} {path}"
            break
        except duckdb.IOException as exc:  # the writer holds the lock; try the other file
            busy = f"{path}: {str(exc).splitlines()[0]}"
    if con is None:
        if busy:
            raise DataError(f"cannot read {busy}; wait for the running ingest to finish")
        raise ConfigError(
            f"no database at {app.db_path}; run `llmledger ingest` (or `llmledger demo`) first, "
            "or pass --db PATH"
        )
    try:
        yield con, where
    finally:
        con.close()


def _require(con: duckdb.DuckDBPyConnection, where: str, *tables: str) -> None:
    have = {
        str(r[0])
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
    }
    for table in tables:
        if table not in have:
            raise DataError(f"{where} has no {table} yet; run `llmledger build` first")


# ---------------------------------------------------------------------------------------------
# Output helpers


def _money_cents(value: Decimal | None) -> str:
    if value is None:
        return "unpriced"
    return f"${value.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def _console() -> Any:
    from rich.console import Console

    width = None if sys.stdout.isatty() else 200
    return Console(file=sys.stdout, width=width, highlight=False, soft_wrap=False)


def _plain(value: Any) -> Any:
    from models.views import money

    if isinstance(value, Decimal):
        return money(value, 12) if value.as_tuple().exponent == -12 else f"{value:f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def emit_rows(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, *, title: str = ""
) -> None:
    """Rows as csv / json (exact values) or a rich table (money in cents)."""
    if fmt == "json":
        click.echo(json.dumps([{c: _plain(r.get(c)) for c in columns} for r in rows], indent=2))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r.get(c) is None else _plain(r.get(c)) for c in columns])
        return
    from rich.table import Table

    table = Table(title=title or None, title_justify="left")
    for c in columns:
        numeric = bool(rows) and isinstance(rows[0].get(c), (int, Decimal))
        table.add_column(c, justify="right" if numeric else "left")
    for r in rows:
        table.add_row(*[_cell(c, r.get(c)) for c in columns])
    _console().print(table)


def _cell(column: str, value: Any) -> str:
    if column.endswith("_usd") and (isinstance(value, Decimal) or value is None):
        return _money_cents(value) if value is not None or column == "cost_usd" else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if value is None:
        return ""
    return str(_plain(value))


def _date_option(name: str, help_text: str):  # type: ignore[no-untyped-def]
    return click.option(name, type=click.DateTime(["%Y-%m-%d"]), help=help_text)


def _as_date(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


# ---------------------------------------------------------------------------------------------
# report


@click.command()
@click.option(
    "--by",
    type=click.Choice(["developer", "team", "model", "day"]),
    default="developer",
    show_default=True,
    help="Group by.",
)
@_date_option("--since", "First UTC day included (YYYY-MM-DD).")
@_date_option("--until", "UTC day the report stops before (YYYY-MM-DD, exclusive).")
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
    """
    from ingest.cli import app_context
    from models import views

    if since and until and since >= until:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    if reconcile:  # the LiteLLM reconciliation lives in ingest/cli_litellm.py
        from ingest.cli_litellm import print_reconcile

        return print_reconcile(ctx, since, until, fmt)
    app = app_context(ctx)
    filters = {
        "team": list(team),
        "developer": list(developer),
        "model": list(model),
        "provider": list(provider),
        "source": list(source),
    }
    with open_for_read(app) as (con, where):
        _require(con, where, "usage_daily")
        rows = views.rows(views.report(con, by, _as_date(since), _as_date(until), **filters))
        total = views.totals(con, _as_date(since), _as_date(until), **filters)
    columns = (by, *REPORT_COLUMNS)
    if fmt != "table":
        emit_rows(rows, columns, fmt)
        return
    title = f"cost by {by}" + _range_text(since, until)
    emit_rows(rows, columns, "table", title=title)
    _print_summary(total)


def _range_text(since: datetime | None, until: datetime | None) -> str:
    if since and until:
        return f", {since.date()} to {until.date()} (exclusive)"
    if since:
        return f", from {since.date()}"
    if until:
        return f", before {until.date()}"
    return ""


def _print_summary(total: dict[str, Any]) -> None:
    cost = total["cost_usd"]
    unattributed = total["unattributed_cost_usd"]
    share = (unattributed / cost * 100) if cost else Decimal(0)
    lines = [
        f"total: {_money_cents(cost)} over {total['requests']:,} requests",
        f"unattributed (no developer): {_money_cents(unattributed)} "
        f"({share.quantize(Decimal('0.1'))}%), {total['unattributed_requests']:,} requests",
    ]
    if total["unpriced_requests"]:
        lines.append(
            f"unpriced: {total['unpriced_requests']:,} requests have no price and are not in "
            "the costs (see `llmledger prices check`)"
        )
    saved = total["uncached_cost_usd"] - cost if total["uncached_cost_usd"] else Decimal(0)
    if saved > 0:
        lines.append(f"prompt caching saved: {_money_cents(saved)}")
    for line in lines:
        click.echo(line)


def print_demo_report(app: AppContext) -> None:
    """The demo's closing report: cost by team, as a table on stdout."""
    from models import views

    with open_for_read(app) as (con, where):
        _require(con, where, "usage_daily")
        rows = views.rows(views.report(con, "team"))
        total = views.totals(con)
    emit_rows(rows, ("team", *REPORT_COLUMNS), "table", title="cost by team")
    _print_summary(total)


# ---------------------------------------------------------------------------------------------
# prices


@click.group()
def prices() -> None:
    """The price book: list it, check for unpriced models, import LiteLLM's prices.

    \b
    Example:
      llmledger prices list --provider bedrock --model claude-sonnet-4-5
      llmledger prices check
      llmledger prices import-litellm model_prices_and_context_window.json
    """


def effective_price_book(app: AppContext) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """The price book as the current config and imports make it, in an in-memory database."""
    from models import pricing, reference, runner

    mem = duckdb.connect()
    mem.execute("set timezone = 'UTC'")
    try:
        reference.load_all(mem, price_overrides=app.config.section("prices").get("overrides", []))
    except reference.ReferenceDataError as exc:
        raise ConfigError(str(exc)) from None
    runner.create_macros(mem)
    mem.execute(pricing.IMPORTED_DDL)
    if app.db_path.is_file():
        try:
            mem.execute(f"attach '{_sql_quote(str(app.db_path))}' as main_db (read_only)")
            has = mem.execute(
                "select count(*) from information_schema.tables "
                "where table_catalog = 'main_db' and table_name = 'price_book_imported'"
            ).fetchone()
            if has and has[0]:
                mem.execute(
                    "insert into price_book_imported select * from main_db.price_book_imported"
                )
            mem.execute("detach main_db")
        except duckdb.Error as exc:
            app.log("prices", f"warning: imported prices not read ({str(exc).splitlines()[0]})")
    litellm_file = app.config.section("prices").get("litellm_file")
    if litellm_file:
        try:
            pricing.import_litellm(mem, app.config.resolve(litellm_file))
        except pricing.PriceDataError as exc:
            raise ConfigError(f"prices.litellm_file: {exc}") from None
    warnings = pricing.build_price_book(mem)
    return mem, warnings


def _sql_quote(text: str) -> str:
    return text.replace("'", "''")


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
@_date_option("--at", "Entries in force on this UTC day (default: now).")
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
      llmledger prices list --provider bedrock --model us.anthropic.claude-sonnet-4-5-20250929-v1:0
      llmledger prices list --all --format csv > price_book.csv
    """
    from ingest.cli import app_context
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
    _console().print(table)


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
      llmledger prices check || echo "some models have no price"
    """
    from ingest.cli import app_context
    from models import views

    app = app_context(ctx)
    with open_for_read(app, prefer_snapshot=False) as (con, where):
        _require(con, where, "usage_events")
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
    from ingest.cli import app_context
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


# ---------------------------------------------------------------------------------------------
# build


@click.command()
@click.pass_context
def build(ctx: click.Context) -> None:
    """Re-run the models (reference data, price book, staging, marts), run the data checks,
    publish the snapshot. Exit 1 when a data check finds bad rows.

    \b
    Example:
      llmledger --config llmledger.toml build
    """
    from ingest import pipeline
    from ingest.cli import app_context
    from models import runner

    app = app_context(ctx)
    con = app.connect()
    try:
        result = pipeline.build(app, con)
        checks = runner.run_checks(con)
        pipeline.publish(app, con)
    finally:
        con.close()
    app.log(
        "built",
        f"built {len(result.staging)} staging views and {len(result.marts)} marts: "
        f"{result.events:,} usage events",
        events=result.events,
    )
    failed = [c for c in checks if not c.ok]
    for check in failed:
        app.log(
            "check_failed", f"check {check.name}: {check.rows} bad rows, e.g. {check.sample[:3]}"
        )
    if failed:
        sys.exit(int(ExitCode.DATA))


# ---------------------------------------------------------------------------------------------
# doctor


class _Doctor:
    def __init__(self) -> None:
        self.failures = 0
        self.warnings = 0

    def ok(self, text: str) -> None:
        click.echo(f"ok       {text}")

    def warn(self, text: str) -> None:
        self.warnings += 1
        click.echo(f"warning  {text}")

    def fail(self, text: str) -> None:
        self.failures += 1
        click.echo(f"FAIL     {text}")

    def info(self, text: str) -> None:
        click.echo(f"         {text}")


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
    from ingest import pipeline
    from ingest.cli import app_context
    from models import runner, views

    app = app_context(ctx)
    doc = _Doctor()
    cfg_path = app.config.path
    doc.ok(f"config: {cfg_path}" if cfg_path else "config: none given (defaults)")
    try:
        _, warnings = effective_price_book(app)
        doc.ok("price book builds")
        for w in warnings:
            doc.warn(w)
    except LedgerError as exc:
        doc.fail(f"price book: {exc}")
    configured = pipeline.configured_sources(app)
    try:
        with open_for_read(app, prefer_snapshot=False) as (con, where):
            doc.ok(f"reachable: {where}")
            _doctor_data(doc, con, where, configured, views, runner)
    except LedgerError as exc:
        doc.fail(f"database: {exc}")
    click.echo(f"{doc.failures} failed, {doc.warnings} warnings")
    if doc.failures:
        sys.exit(int(ExitCode.DATA))


def _doctor_data(
    doc: _Doctor,
    con: duckdb.DuckDBPyConnection,
    where: str,
    configured: list[tuple[str, dict[str, Any]]],
    views: Any,
    runner: Any,
) -> None:
    have = {
        str(r[0])
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
    }
    if "ingest_runs" in have:
        health = views.rows(views.source_runs(con)) if "usage_events" in have else []
        for h in health:
            text = (
                f"source {h['source']}: last success {_when(h['last_success_at'])}, "
                f"newest record {_when(h.get('newest_record_at'))}"
            )
            if h["last_status"] != "ok":
                doc.warn(f"{text}; last run {h['last_status']}: {h['last_message']}")
            else:
                doc.ok(text)
        ran = {str(h["source"]) for h in health}
        if configured and not ran:
            doc.warn(f"{len(configured)} configured source(s) never ran; run `llmledger ingest`")
    if "usage_events" not in have:
        doc.fail(f"{where} has no usage_events; run `llmledger build`")
        return
    from models import vertex_health

    for level, text in vertex_health.doctor_findings(con):
        getattr(doc, level)(text)
    unpriced = views.rows(views.unpriced_model_ids(con))
    if unpriced:
        doc.warn(f"{len(unpriced)} unpriced model(s) (cost NULL); see `llmledger prices check`")
        for u in unpriced:
            doc.info(
                f"{u['provider']} {u['model']} ({u['pricing_scope']}): {u['requests']:,} requests"
            )
    else:
        doc.ok("every model is priced")
    unmapped = views.rows(views.unattributed_principals(con))
    if unmapped:
        total = sum(int(u["requests"]) for u in unmapped)
        doc.warn(
            f"{len(unmapped)} principal(s) resolve to developer 'unattributed' ({total:,} requests)"
        )
        for u in unmapped[:20]:
            doc.info(
                f"{u['source']} {u['principal'] or '(no principal)'} (team {u['team']}): "
                f"{u['requests']:,} requests"
            )
    else:
        doc.ok("every principal resolves to a developer")
    if "rejected_records" in have:
        rejected = views.rows(views.rejected_by_source(con))
        if rejected:
            doc.warn(f"{sum(int(r['records']) for r in rejected):,} rejected record(s)")
            for r in rejected:
                doc.info(f"{r['source']}: {r['reason']}: {r['records']:,}")
        else:
            doc.ok("no rejected records")
    if {"usage_daily", "identity_map", "price_book"} <= have:
        for check in runner.run_checks(con):
            if check.ok:
                continue
            doc.fail(f"data check {check.name}: {check.rows} bad rows, e.g. {check.sample[:2]}")


def _when(value: Any) -> str:
    if value is None:
        return "never"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)


COMMANDS: list[click.Command] = [report, prices, doctor, build]
