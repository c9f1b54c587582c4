"""Overview: what did we spend, on what, by whom, and are we heading past budget.

Above the fold: the total cost and its change against the previous period of the same length,
the daily trend, and the top five developers and teams with their share; token-type numbers and
the budget block further down.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, filters, fmt, ui

NO_EARLIER_DATA = "no earlier data"

f = filters.current()
st.title("Overview")
st.caption(f"{f.since} to {f.until} (UTC) · counted requests only, as in `llmledger report`")

totals = data.query("overview_totals", f)
previous = f.previous()
earlier = data.query("overview_totals", previous) if previous is not None else None


def change_text(now: Decimal, before: dict[str, Any] | None, days: int) -> str:
    """The total's change against the previous period of the same length, or "no earlier
    data" when that period has none (never "the change is the whole cost")."""
    if before is None or (not before["requests"] and not before["cost_usd"]):
        return NO_EARLIER_DATA
    was = before["cost_usd"]
    diff = now - was
    pct = f" ({float(diff / was) * 100:+.1f}%)" if was else ""
    sign = "+" if diff >= 0 else ""
    period = "day" if days == 1 else f"{fmt.count(days)} days"
    return f"{sign}{fmt.money(diff)}{pct} vs the previous {period}"


def top_five(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The five largest by cost, with their share of the whole selection's cost."""
    if frame.empty:
        return frame
    return ui.with_share(frame[[key, "cost_usd"]]).head(5)


change = change_text(totals["cost_usd"], earlier, f.days)
row = st.columns([2, 1, 1, 1])
row[0].metric(
    "Total cost",
    fmt.money(totals["cost_usd"]),
    delta=change,
    delta_color="off" if change == NO_EARLIER_DATA else "inverse",
    help=(
        f"Change against {previous.since} to {previous.until} (UTC)."
        if previous is not None
        else None
    ),
)
row[1].metric("Requests", fmt.count(totals["requests"]))
row[2].metric("Active developers", fmt.count(totals["active_developers"]))
row[3].metric(
    "Cost per active developer",
    fmt.money(totals["cost_per_active_developer_usd"]),
    help="Cost of named developers divided by how many made at least one request.",
)
if totals["unpriced_requests"]:
    st.warning(
        f"{fmt.count(totals['unpriced_requests'])} "
        + (
            "request uses a model with no price; its cost is"
            if totals["unpriced_requests"] == 1
            else "requests use a model with no price; their cost is"
        )
        + " not in these totals. See Data health."
    )

st.subheader("Daily cost")
left, right = st.columns(2)
with left:
    ui.stacked_cost(data.frame("daily_cost", f, "team"), "team", "By team")
with right:
    ui.stacked_cost(data.frame("daily_cost", f, "model"), "model", "By model")

left, right = st.columns(2)
with left:
    st.subheader("Top 5 developers")
    ui.table(top_five(data.frame("developer_table", f), "developer"), "top-developers")
with right:
    st.subheader("Top 5 teams")
    ui.table(top_five(data.frame("team_table", f), "team"), "top-teams")

row = st.columns(4)
row[0].metric(
    "Cache hit rate",
    fmt.percent(totals["cache_hit_rate"]),
    help="Cache-read tokens as a share of all prompt tokens (input + cache read + cache write).",
)
row[1].metric(
    "Saved by caching",
    fmt.money(totals["cache_saved_usd"]),
    help="What the same prompts would have cost at uncached input prices, minus what they cost.",
)
row[2].metric(
    "Unattributed share",
    fmt.percent(totals["unattributed_share"]),
    help=(
        f"{fmt.money(totals['unattributed_cost_usd'])} of cost has no developer (shared roles, "
        f"unmapped keys). {fmt.money(totals['unattributed_team_cost_usd'])} has no team "
        "(including named callers missing from the people directory). See Data health."
    ),
)
row[3].metric(
    "Errors / throttled",
    f"{fmt.count(totals['errors'])} / {fmt.count(totals['throttled'])}",
)

st.subheader("Tokens by type")
row = st.columns(5)
row[0].metric("Input tokens", fmt.tokens(totals["input_tokens"]))
row[1].metric("Output tokens", fmt.tokens(totals["output_tokens"]))
row[2].metric("Cache read tokens", fmt.tokens(totals["cache_read_tokens"]))
row[3].metric("Cache write 5m tokens", fmt.tokens(totals["cache_write_5m_tokens"]))
row[4].metric("Cache write 1h tokens", fmt.tokens(totals["cache_write_1h_tokens"]))

# Budgets are per team: compare each team's whole spend with its budget, whatever the
# developer, model, provider or source filters (the team filter still chooses the teams).
narrowed = [
    name
    for name, values in (
        ("developer", f.developers),
        ("model", f.models),
        ("provider", f.providers),
        ("source", f.sources),
    )
    if values
]
budgets = data.frame(
    "budget_status", replace(f, developers=(), models=(), providers=(), sources=())
)
st.subheader("Month to date against budget")
if narrowed:
    st.info(
        "Budgets compare each team's whole spend with its budget: the "
        + ", ".join(narrowed)
        + " filter"
        + ("s do" if len(narrowed) > 1 else " does")
        + " not apply to this block."
    )
if budgets.empty:
    st.caption("No spend or budgets for this month.")
else:
    as_of = budgets["as_of"].iloc[0]
    budgeted = budgets[budgets["budget_usd"].notna()]
    # headline, forecast and delta on one base: the teams with a budget (all teams if none)
    base = budgeted if not budgeted.empty else budgets
    mtd = base["mtd_cost_usd"].sum()
    forecast = base["forecast_usd"].sum()
    budget_total = budgeted["budget_usd"].sum() if not budgeted.empty else None
    ahead = forecast - budget_total if budget_total is not None else None
    row = st.columns(3)
    row[0].metric(f"Spend {as_of:%B} to {as_of:%d %b}", fmt.money(mtd))
    row[1].metric("Budget for the month", fmt.money(budget_total))
    row[2].metric(
        "Month-end forecast",
        fmt.money(forecast),
        delta=(
            None
            if ahead is None
            else f"{fmt.money(ahead)} vs budget"
            if ahead < 0
            else f"+{fmt.money(ahead)} vs budget"
        ),
        help="Spend, forecast and budget of the teams with a budget (each team's whole spend).",
        delta_color="inverse",
    )
    over = budgeted[budgeted["forecast_usd"] > budgeted["budget_usd"]]
    if not over.empty:
        st.error("Heading past budget: " + ", ".join(over["team"]))
    ui.table(
        budgets.drop(columns=["month_start"]),
        "budgets",
        caption="Forecast: month-to-date spend at its daily run rate to the month's end.",
    )
