"""One month-end projection: the dashboard's budget block and the budget alert agree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fixtures_models import PEOPLE_CSV, add_bedrock, build, new_ledger

from ingest import scheduler
from models import budgets, views


def test_forecast_is_the_month_to_date_rate_carried_to_month_end() -> None:
    noon = datetime(2026, 11, 5, 12, tzinfo=UTC)
    assert budgets.forecast(Decimal("22.5"), noon) == Decimal("150")  # 22.5 x 30 / 4.5
    assert budgets.forecast(Decimal("1.6"), datetime(2026, 11, 7, tzinfo=UTC)) == Decimal("8")
    assert budgets.forecast(Decimal("5"), datetime(2026, 11, 1, tzinfo=UTC)) == Decimal("5")
    assert budgets.month_bounds(datetime(2026, 12, 31, 23, tzinfo=UTC)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "published_at",
    [
        None,  # no publish record: the last day with data counts as complete
        datetime(2026, 11, 5, 12, tzinfo=UTC),  # published at noon: today's spend is partial
        datetime(2026, 11, 5, 0, 7, tzinfo=UTC),
    ],
)
def test_dashboard_and_alert_project_the_same(tmp_path: Path, published_at: datetime) -> None:
    con = new_ledger()
    for i, day in enumerate(("2026-11-01", "2026-11-03", "2026-11-05")):
        add_bedrock(
            con,
            f"r{i}",
            principal="arn:aws:iam::1:user/alice@corp.example",
            at=f"{day}T09:00:00Z",
            input_tokens=1_000_000,
            output_tokens=100_000 * (i + 1),
        )
    build(con, tmp_path, people=PEOPLE_CSV, budgets=[{"team": "payments", "monthly_usd": 20}])
    con.execute("create table snapshot_info (published_at timestamptz)")
    if published_at is not None:
        con.execute("insert into snapshot_info values (?)", [published_at])
    con.execute(scheduler.ALERTS_DDL)
    now = published_at or datetime(2026, 11, 6, tzinfo=UTC)

    shown = views.budget_status(con, views.Filters(until=date(2026, 11, 10))).to_pylist()
    (payments,) = [r for r in shown if r["team"] == "payments"]
    alerts = scheduler.due_alerts(con, now, forecast_min_days=0)

    assert payments["as_of"] == date(2026, 11, 5)
    assert {a.forecast_usd for a in alerts} == {payments["forecast_usd"]}
    assert {a.spend_usd for a in alerts} == {payments["mtd_cost_usd"]}
    assert payments["forecast_usd"] == budgets.forecast(payments["mtd_cost_usd"], now)
    # the alert fires on the forecast exactly when the dashboard shows the team heading past it
    fired = "forecast_100%" in {a.threshold for a in alerts} or "100%" in {
        a.threshold for a in alerts
    }
    assert fired == (payments["forecast_usd"] >= payments["budget_usd"])
