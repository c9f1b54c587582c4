"""What the command modules share: the lazy app context, opening the data, output formats,
date options and the effective price book.

Command modules import this module, never ``ingest.cli`` (the root group) or each other, so
the command line has no import cycle.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TypeVar

import click
import duckdb

from ingest.context import AppContext
from ingest.errors import ConfigError, DataError, SourceUnavailable

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
SMALL_MONEY_DIGITS = 4  # significant digits shown for an amount below half a cent
SINCE_UNTIL_HELP = "UTC date YYYY-MM-DD"

F = TypeVar("F", bound=Callable[..., Any])


# ---------------------------------------------------------------------------------------------
# The application context


class LazyContext:
    """Resolves the configuration only when a command needs it, so --help never fails."""

    def __init__(self, db: str | None, config_path: str | None, log_json: bool, quiet: bool):
        self._args = (db, config_path, log_json, quiet)
        self._app: AppContext | None = None

    def get(self) -> AppContext:
        if self._app is None:
            db, config_path, log_json, quiet = self._args
            self._app = AppContext.create(db, config_path, log_json=log_json, quiet=quiet)
        return self._app


def app_context(ctx: click.Context) -> AppContext:
    root = ctx.find_root().obj
    assert isinstance(root, LazyContext)
    return root.get()


# ---------------------------------------------------------------------------------------------
# Opening the data


@contextmanager
def open_for_read(
    app: AppContext, *, prefer_snapshot: bool = True
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """The published snapshot if there is one, else the main database, read-only; the lake
    when the command was given ``--lake DIR``."""
    from models import snapshot

    if app.lake is not None:
        lake_con = open_lake(app)
        try:
            yield lake_con, f"lake {app.lake}"
        finally:
            lake_con.close()
        return
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
            con = snapshot.open_snapshot(
                path, memory_limit=app.memory_limit, temp_directory=app.temp_directory
            )
            where = f"{kind} {path}"
            break
        except duckdb.IOException as exc:  # the writer holds the lock; try the other file
            if "not a valid DuckDB database" in str(exc):
                raise ConfigError(
                    f"{path} is not a DuckDB database; pass the database `llmledger ingest` "
                    "wrote with --db PATH"
                ) from None
            busy = f"{path}: {str(exc).splitlines()[0]}"
    if con is None:
        if busy:
            raise DataError(f"cannot read {busy}; wait for the running ingest to finish")
        seen = nearby_databases(app.db_path)
        hint = f"; databases here: {', '.join(seen)}" if seen else ""
        raise ConfigError(
            f"no database at {app.db_path}; run `llmledger ingest` (or `llmledger demo`) first, "
            f"or pass --db PATH{hint}"
        )
    try:
        yield con, where
    finally:
        con.close()


def nearby_databases(db_path: Path) -> list[str]:
    """Main databases (not snapshots) in the current folder and beside ``db_path``."""
    found: list[str] = []
    for folder in dict.fromkeys([Path("."), db_path.parent]):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.duckdb")):
            if path.name.endswith(".snapshot.duckdb") or path.name.startswith("."):
                continue
            try:
                with path.open("rb") as head:
                    if head.read(12)[8:12] != b"DUCK":  # DuckDB's magic bytes
                        continue
            except OSError:
                continue
            name = str(path) if folder != Path(".") else path.name
            if name not in found:
                found.append(name)
    return found[:10]


def explain_empty(
    con: duckdb.DuckDBPyConnection,
    filters: dict[str, list[str]],
    since: date | None,
    until: date | None,
) -> str:
    """Why a report or export found nothing, naming what the data does hold."""
    from models import views

    have = views.filter_options(con)
    for field, wanted in filters.items():
        missing = [v for v in wanted if v not in have.get(field, [])]
        if missing:
            known = have.get(field, [])
            listed = ", ".join(known[:12]) + (
                f" (and {len(known) - 12} more)" if len(known) > 12 else ""
            )
            return (
                f"no {field} {', '.join(repr(m) for m in missing)} in the data; "
                f"{field}s: {listed or 'none'}"
            )
    first, last = have["first_day"], have["last_day"]
    if first is None:
        return "the database holds no requests yet; run `llmledger ingest` first"
    window = (
        f"between {since or 'the start'} and {until or 'the end'} (exclusive)"
        if since or until
        else ""
    )
    what = "no counted requests match these filters" + (f" {window}" if window else "")
    return f"{what}; the data covers {first} to {last}"


def _set_lake(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        app_context(ctx).lake = value if value.startswith("s3://") else Path(value)


LAKE_OPTION = click.option(
    "--lake",
    metavar="DIR|s3://BUCKET/PREFIX",
    expose_value=False,
    callback=_set_lake,
    help="Read a lake `llmledger lake export` wrote instead of the database (an S3 lake is "
    "synced to a local cache first, downloading only changed partitions).",
)


def open_lake(app: AppContext) -> duckdb.DuckDBPyConnection:
    """``app.lake`` as an in-memory connection of views named like the marts (models.lake);
    a folder that is not a lake is a one-line error (exit 2)."""
    from models import lake

    assert app.lake is not None
    try:
        folder = app.lake if isinstance(app.lake, Path) else _sync_lake(app, app.lake)
        return lake.open_lake(
            folder, memory_limit=app.memory_limit, temp_directory=app.temp_directory
        )
    except lake.LakeError as exc:
        raise ConfigError(str(exc)) from None


def _sync_lake(app: AppContext, url: str) -> Path:
    """An S3 lake's local copy (models.lake.sync_s3), brought up to date; S3 errors are a
    source-unavailable error (exit 3)."""
    from ingest import aws
    from models import lake

    cache = lake.default_cache(url)
    with s3_unavailable(
        "lake", f"cannot read {url}", "Check the bucket exists and the credentials may read it"
    ):
        summary = lake.sync_s3(url, aws.client("s3"), cache)
    app.log(
        "lake_synced",
        f"lake {url}: {summary.downloaded} file(s) downloaded, {summary.kept} unchanged, "
        f"{summary.removed} removed (local copy {cache})",
        downloaded=summary.downloaded,
        kept=summary.kept,
        removed=summary.removed,
    )
    return cache


@contextmanager
def s3_unavailable(source: str, problem: str, fix: str) -> Iterator[None]:
    """An S3 (botocore) error inside as one line, exit 3: ``source: problem (AWS's first
    line). fix``."""
    import botocore.exceptions

    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise SourceUnavailable(source, f"{problem} ({str(exc).splitlines()[0]})", fix) from None


def require_tables(con: duckdb.DuckDBPyConnection, where: str, *tables: str) -> None:
    have = {
        str(r[0])
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
    }
    for table in tables:
        if table not in have:
            raise DataError(f"{where} has no {table} yet; run `llmledger build` first")


def effective_price_book(app: AppContext) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """The price book as the current config and imports make it, in an in-memory database."""
    from models import pricing

    section = app.config.section("prices")
    litellm_file = section.get("litellm_file")
    try:
        book = pricing.effective_price_book(
            section.get("overrides", []),
            db_path=app.db_path,
            litellm_file=app.config.resolve(litellm_file) if litellm_file else None,
        )
    except pricing.PriceConfigError as exc:
        raise ConfigError(str(exc)) from None
    if book.imported_unread:
        app.log("prices", f"warning: imported prices not read ({book.imported_unread})")
    return book.con, book.warnings


# ---------------------------------------------------------------------------------------------
# Output


def money_cents(value: Decimal | None) -> str:
    """Money for a table: cents, except that a non-zero amount never reads as $0.00.

    Below half a cent it shows four significant digits ($0.0002662, $-0.00001234); the exact
    value stays in --format json/csv.
    """
    if value is None:
        return "unpriced"
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP)
    if cents or not value:
        return f"${cents:,.2f}"
    small = abs(value)
    places = max(2, -small.adjusted() + SMALL_MONEY_DIGITS - 1)
    shown = small.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return ("$-" if value < 0 else "$") + f"{shown:f}".rstrip("0")


def console() -> Any:
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
    if fmt == "csv":  # the exports' writer: formulas neutralised, CR/LF inside a field quoted
        from models.exports import write_rows

        buffer = io.BytesIO()
        write_rows(
            columns, ([_plain(r.get(c)) for c in columns] for r in rows), buffer, line_end="\n"
        )
        click.echo(buffer.getvalue().decode("utf-8"), nl=False)
        return
    from rich.table import Table

    table = Table(title=title or None, title_justify="left")
    for c in columns:
        numeric = bool(rows) and isinstance(rows[0].get(c), (int, Decimal))
        table.add_column(c, justify="right" if numeric else "left")
    for r in rows:
        table.add_row(*[_cell(c, r.get(c)) for c in columns])
    console().print(table)


def _cell(column: str, value: Any) -> str:
    if column.endswith("_usd") and (isinstance(value, Decimal) or value is None):
        return money_cents(value) if value is not None or column == "cost_usd" else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if value is None:
        return ""
    return str(_plain(value))


def print_summary(total: dict[str, Any]) -> None:
    """The lines under a report table: total, unattributed and unpriced shares, caching."""
    cost = total["cost_usd"]
    unattributed = total["unattributed_cost_usd"]
    share = (unattributed / cost * 100) if cost else Decimal(0)
    lines = [
        f"total: {money_cents(cost)} over {total['requests']:,} requests",
        f"unattributed (no developer): {money_cents(unattributed)} "
        f"({share.quantize(Decimal('0.1'))}%), {total['unattributed_requests']:,} requests",
    ]
    if total["unpriced_requests"]:
        lines.append(
            f"unpriced: {total['unpriced_requests']:,} requests have no price and are not in "
            "the costs (see `llmledger prices check`)"
        )
    saved = total["uncached_cost_usd"] - cost if total["uncached_cost_usd"] else Decimal(0)
    if saved > 0:
        lines.append(f"prompt caching saved: {money_cents(saved)}")
    for line in lines:
        click.echo(line)


# ---------------------------------------------------------------------------------------------
# Dates


def date_option(name: str, help_text: str) -> Callable[[F], F]:
    return click.option(name, type=click.DateTime(["%Y-%m-%d"]), help=help_text)


def date_options(func: F) -> F:
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


def as_date(value: Any) -> date | None:
    """A --since/--until value (a datetime from click, or None) as a date."""
    return value.date() if value is not None else None
