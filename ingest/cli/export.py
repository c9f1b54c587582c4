"""`llmledger export billing|usage`: CSV for finance and audits, from the published snapshot."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Any

import click

from ingest.cli.common import LAKE_OPTION, app_context, as_date, open_lake
from ingest.context import AppContext
from ingest.errors import ConfigError, DataError


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_out(path: str, protected: dict[str, Path]) -> Path:
    """``--out`` as a file we may write: not a folder, not one of ``protected`` (the database,
    the snapshot and their side files), in a folder that exists. One-line errors, exit 2."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(
            f"--out {path} is a directory; name a file, e.g. --out {target / 'x.csv'}"
        )
    for what, file in protected.items():
        if _same_file(target, file):
            raise ConfigError(f"--out {path} is the {what} ({file}); choose another file")
    if not target.parent.is_dir():
        raise ConfigError(f"--out {path}: the folder {target.parent} does not exist; create it")
    return target


def _protected(app: AppContext) -> dict[str, Path]:
    db, snap = Path(app.db_path), Path(app.snapshot_path)
    return {
        "database": db,
        "database's write-ahead log": db.with_name(db.name + ".wal"),
        "run lock": db.with_name(db.name + ".lock"),
        "snapshot": snap,
        "snapshot's write-ahead log": snap.with_name(snap.name + ".wal"),
    }


def _unwritable(path: str, exc: OSError) -> ConfigError:
    return ConfigError(
        f"--out {path}: cannot write there ({exc.strerror or exc}); choose a path you can write to"
    )


@contextmanager
def _output(path: str, protected: dict[str, Path]) -> Iterator[IO[bytes]]:
    """``-`` is stdout; a file is written beside its final name and renamed into place, so a
    failed export never leaves half a file behind."""
    if path == "-":
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    target = check_out(path, protected)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise _unwritable(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _snapshot(ctx: click.Context):  # type: ignore[no-untyped-def]
    """The published snapshot, read-only: exports never block (or wait for) a running ingest."""
    from models import snapshot

    app = app_context(ctx)
    if app.lake is not None:
        return app, open_lake(app)
    path = app.snapshot_path
    if not path.is_file():
        raise ConfigError(
            f"no published snapshot at {path}; run `llmledger ingest` (or `llmledger run --once`)"
            " first, or pass the --db the ingest used"
        )
    return app, snapshot.open_snapshot(
        path, memory_limit=app.memory_limit, temp_directory=app.temp_directory
    )


def _discounts(app):  # type: ignore[no-untyped-def]
    from models import exports

    try:
        return exports.parse_discounts(app.config.section("prices").get("discounts", []))
    except exports.ExportError as exc:
        raise ConfigError(f"{app.config.path}: {exc}") from None


def _report(app, kind: str, summary, out: str) -> None:  # type: ignore[no-untyped-def]
    where = "stdout" if out == "-" else out
    app.log(
        "exported",
        f"{kind}: {summary.rows} rows to {where}; list {summary.list_cost_usd.normalize():f} USD, "
        f"contracted {summary.contracted_cost_usd.normalize():f} USD over {summary.requests} "
        f"requests; {len(summary.price_versions)} price-book version(s)",
        rows=summary.rows,
        list_cost_usd=str(summary.list_cost_usd),
        contracted_cost_usd=str(summary.contracted_cost_usd),
        requests=summary.requests,
        price_versions=summary.price_versions,
    )
    if summary.unpriced_requests:
        app.log(
            "unpriced",
            f"warning: {summary.unpriced_requests} request(s) have no price "
            f"({', '.join(summary.unpriced_models)}): their cost is left out of the totals "
            "(and their rows out of a FOCUS file, whose costs cannot be empty); "
            "see `llmledger prices check`",
            unpriced_requests=summary.unpriced_requests,
            models=summary.unpriced_models,
        )
    if summary.as_billed is not None:
        _report_as_billed(app, summary)


def _report_as_billed(app, summary) -> None:  # type: ignore[no-untyped-def]
    for scale in summary.as_billed:
        app.log(
            "as_billed",
            f"as billed: {scale.provider} estimate {scale.estimate_usd.normalize():f} USD "
            f"scaled to its invoice {scale.invoice_usd.normalize():f} USD",
            provider=scale.provider,
            estimate_usd=str(scale.estimate_usd),
            invoice_usd=str(scale.invoice_usd),
        )
    if summary.unbilled_providers:
        app.log(
            "not_billed",
            "warning: no bill loaded for the month for "
            f"{', '.join(summary.unbilled_providers)}: their rows keep the estimate "
            "(load one with `llmledger ingest aws-cur-files|gcp-billing-files ...`)",
            providers=summary.unbilled_providers,
        )
    if summary.unscaled_models:
        app.log(
            "unscaled",
            "warning: unpriced requests cannot be scaled to the bill "
            f"({', '.join(summary.unscaled_models)}): their cost stays empty and the invoice is "
            "spread over the priced rows; see `llmledger prices check`",
            models=summary.unscaled_models,
        )


def _require_data(con, start: Any, end: Any, what: str) -> None:  # type: ignore[no-untyped-def]
    """An export of a period with no requests says which months hold data (exit 1) and
    writes no file, unless --allow-empty."""
    ((found,),) = con.execute(
        "select count(*) from usage_events where occurred_at >= ? and occurred_at < ?",
        [start, end],
    ).fetchall()
    if found:
        return
    months = [
        str(r[0])
        for r in con.execute(
            "select distinct strftime(occurred_at at time zone 'UTC', '%Y-%m') from usage_events "
            "order by 1"
        ).fetchall()
    ]
    held = ", ".join(months) if months else "none yet"
    raise DataError(
        f"no requests in {what}; months with data: {held} (--allow-empty writes the empty file)"
    )


ALLOW_EMPTY = click.option(
    "--allow-empty", is_flag=True, help="Write the file even when the period has no requests."
)


def _run_export(app, func, out: str):  # type: ignore[no-untyped-def]
    from models import exports

    try:
        with _output(out, _protected(app)) as stream:
            return func(stream)
    except exports.ExportError as exc:
        raise DataError(str(exc)) from None
    except BrokenPipeError:  # `... --out - | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        sys.exit(0)


def _month(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from models import exports

    try:
        exports.month_bounds(value)
    except exports.ExportError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.group()
def export() -> None:
    """CSV exports for finance (billing) and audits (usage), from the published snapshot.

    \b
    Files are UTF-8 CSV (RFC 4180, CRLF line ends, no BOM), one header row, no totals row.
    Money is exact (trailing zeros trimmed, never rounded). Text that a spreadsheet could run
    as a formula (= + - @ at the start, unless it is a number) gets a leading apostrophe.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb export billing --month 2026-11 --format focus --out nov-focus.csv
      llmledger --db llmledger-demo.duckdb export usage --since 2026-11-01 --until 2026-12-01 --out nov-requests.csv
    """  # noqa: E501 - examples are whole command lines


@export.command("billing")
@click.option(
    "--month", required=True, metavar="YYYY-MM", callback=_month, help="Calendar month (UTC)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["simple", "focus"]),
    default="simple",
    show_default=True,
    help="simple: one row per cost center x team x developer x "
    "model x provider; focus: FinOps FOCUS 1.2 rows per day x token type.",
)
@click.option(
    "--grain",
    type=click.Choice(["detail", "day"]),
    default="detail",
    show_default=True,
    help="focus only: detail splits rows by source and project too; day gives one row per "
    "day x developer x model x token type (x unit price), with its cents (x_ChargeUSD).",
)
@click.option(
    "--out", default="-", show_default=True, metavar="FILE|-", help="Output file, or - for stdout."
)
@click.option(
    "--as-billed",
    is_flag=True,
    help="State costs as billed: each provider's estimate scaled to its invoice for the month, "
    "where a bill is loaded (simple: billed_cost_usd, billed_charge_usd; focus: BilledCost, "
    "EffectiveCost, x_CostSource).",
)
@ALLOW_EMPTY
@LAKE_OPTION
@click.pass_context
def billing(
    ctx: click.Context,
    month: str,
    fmt: str,
    grain: str,
    out: str,
    as_billed: bool,
    allow_empty: bool,
) -> None:
    """Chargeback for one month: list and contracted cost of counted requests.

    \b
    Contracted cost applies [[prices.discounts]] (provider, optional model, discount_pct,
    valid_from). Each row names the price-book version(s) it used.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb export billing --month 2026-11 --out nov.csv
      llmledger --db llmledger-demo.duckdb export billing --month 2026-11 --format focus --out nov-focus.csv
      llmledger --db llmledger-demo.duckdb export billing --month 2026-11 --format focus --grain day --out nov-day.csv
      llmledger --db llmledger-demo.duckdb export billing --month 2026-11 --as-billed --out nov-as-billed.csv
    """  # noqa: E501 - examples are whole command lines
    from models import exports

    if grain != "detail" and fmt != "focus":
        raise ConfigError(f"--grain {grain} applies to --format focus; drop it or add that")
    app, con = _snapshot(ctx)
    try:
        if not allow_empty:
            start, end = exports.month_bounds(month)  # checked by the option's callback
            _require_data(con, start, end, month)
        discounts = _discounts(app)
        if fmt == "simple":
            summary = _run_export(
                app,
                lambda s: exports.billing_simple(con, month, s, discounts, as_billed=as_billed),
                out,
            )
        else:
            accounts = exports.parse_billing_accounts(
                app.config.section("export").get("billing_accounts", [])
            )
            summary = _run_export(
                app,
                lambda s: exports.billing_focus(
                    con, month, s, discounts, accounts, as_billed=as_billed, grain=grain
                ),
                out,
            )
    finally:
        con.close()
    _report(app, f"billing {fmt} {month}", summary, out)


@export.command("usage")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this UTC date.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Up to this UTC date (exclusive).")
@click.option(
    "--out", default="-", show_default=True, metavar="FILE|-", help="Output file, or - for stdout."
)
@ALLOW_EMPTY
@LAKE_OPTION
@click.pass_context
def usage(ctx: click.Context, since: object, until: object, out: str, allow_empty: bool) -> None:
    """Every request in the period, for audits: streamed, never held in memory at once.

    \b
    All requests are listed, counted or not (the `counted` column says which); billing totals
    are the sum of cost_usd where counted is true.

    \b
    Example:
      llmledger --db llmledger-demo.duckdb export usage --since 2026-11-01 --until 2026-12-01 --out nov-requests.csv
      llmledger --db llmledger-demo.duckdb export usage --since 2026-11-01 --out - | gzip > nov.csv.gz
    """  # noqa: E501 - examples are whole command lines
    from models import exports

    app, con = _snapshot(ctx)
    try:
        if not allow_empty:
            low = as_date(since) or date(2000, 1, 1)
            high = as_date(until) or date(3000, 1, 1)
            what = f"{as_date(since) or 'the start'} to {as_date(until) or 'now'}"
            _require_data(con, low, high, what)
        discounts = _discounts(app)
        summary = _run_export(
            app,
            lambda s: exports.usage_detail(con, as_date(since), as_date(until), s, discounts),
            out,
        )
    finally:
        con.close()
    _report(app, "usage", summary, out)
