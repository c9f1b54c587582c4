"""Monthly budgets: the month a moment falls in, and the month-end forecast.

One projection for the dashboard's budget block (``models.views.budget_status``) and the
scheduler's budget alert (``ingest.scheduler.due_alerts``), so an alert never fires while the
dashboard shows the team on course: the month-to-date spend carried straight to the month's
end at the rate it ran from the month's first moment (UTC) to ``as_of``, the moment the spend
is counted up to.

The alert counts up to the run's own clock; the dashboard up to the end of the last day it
shows, and never past the moment its snapshot was published (or, without a record of that,
the end of the last day with data). A forecast is rounded to the micro-dollar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import duckdb

FORECAST_PLACES = Decimal("0.000001")


def month_bounds(as_of: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` of the UTC calendar month holding ``as_of``."""
    as_of = as_of.astimezone(UTC)
    start = datetime(as_of.year, as_of.month, 1, tzinfo=UTC)
    end = datetime(as_of.year + as_of.month // 12, as_of.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def elapsed_seconds(as_of: datetime) -> float:
    """Seconds of its month that have passed at ``as_of``."""
    start, _ = month_bounds(as_of)
    return (as_of.astimezone(UTC) - start).total_seconds()


def forecast(spend_usd: Decimal, as_of: datetime) -> Decimal:
    """Month-end spend at the month-to-date rate: ``spend x month length / time elapsed``.

    At the month's first moment nothing has elapsed; the forecast is the spend itself.
    """
    start, end = month_bounds(as_of)
    elapsed = elapsed_seconds(as_of)
    if elapsed <= 0:
        return Decimal(spend_usd).quantize(FORECAST_PLACES)
    length = (end - start).total_seconds()
    return (Decimal(spend_usd) * Decimal(length) / Decimal(elapsed)).quantize(FORECAST_PLACES)


def end_of_day(day: date) -> datetime:
    """The first moment after ``day`` (UTC): a day's data is complete up to here."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def dashboard_as_of(
    con: duckdb.DuckDBPyConnection, last_day_shown: date | None
) -> tuple[date, datetime] | None:
    """The day the dashboard's budget block counts to and the moment its forecast runs to:
    the last day shown, capped at the last day with data, and the moment the snapshot was
    published when that is earlier (today's spend is partial). ``None`` without data."""
    ((last,),) = con.execute("select max(day) from usage_daily").fetchall()
    if last is None:
        return None
    day = min(last_day_shown, last) if last_day_shown is not None else last
    moment = end_of_day(day)
    published = _published_at(con)
    if published is not None and published < moment:
        moment = max(published, datetime.combine(day, time(), tzinfo=UTC))
    return day, moment


def _published_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_name = 'snapshot_info'"
    ).fetchall()
    if not rows[0][0]:
        return None
    ((published,),) = con.execute("select max(published_at) from snapshot_info").fetchall()
    return published.astimezone(UTC) if isinstance(published, datetime) else None
