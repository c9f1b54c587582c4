"""Overview: what did we spend, on what, by whom, and are we heading past budget."""

from __future__ import annotations

import streamlit as st

from dashboard import data, filters, fmt, ui

f = filters.current()
st.title("Overview")
st.caption(f"{f.since} to {f.until} (UTC) · counted requests only, as in `llmledger report`")

totals = data.query("overview_totals", f)

row = st.columns(4)
row[0].metric("Total cost", fmt.money(totals["cost_usd"]))
row[1].metric("Requests", fmt.count(totals["requests"]))
row[2].metric("Active developers", fmt.count(totals["active_developers"]))
row[3].metric(
    "Cost per active developer",
    fmt.money(totals["cost_per_active_developer_usd"]),
    help="Cost of named developers divided by how many made at least one request.",
)

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
if totals["unpriced_requests"]:
    st.warning(
        f"{fmt.count(totals['unpriced_requests'])} requests use a model with no price; their "
        "cost is not in these totals. See Data health."
    )

budgets = data.frame("budget_status", f)
st.subheader("Month to date against budget")
if budgets.empty:
    st.caption("No spend or budgets for this month.")
else:
    as_of = budgets["as_of"].iloc[0]
    budgeted = budgets[budgets["budget_usd"].notna()]
    mtd = budgets["mtd_cost_usd"].sum()
    forecast = budgets["forecast_usd"].sum()
    budget_total = budgeted["budget_usd"].sum() if not budgeted.empty else None
    budgeted_forecast = budgeted["forecast_usd"].sum() if not budgeted.empty else None
    row = st.columns(3)
    row[0].metric(f"Spend {as_of:%B} to {as_of:%d %b}", fmt.money(mtd))
    row[1].metric("Budget for the month", fmt.money(budget_total))
    row[2].metric(
        "Month-end forecast",
        fmt.money(forecast),
        delta=(
            f"{fmt.money(budgeted_forecast - budget_total)} vs budget"
            if budget_total is not None
            else None
        ),
        help="Teams with a budget: their forecast against the sum of their budgets.",
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

st.subheader("Daily cost")
left, right = st.columns(2)
with left:
    ui.stacked_cost(data.frame("daily_cost", f, "team"), "team", "By team")
with right:
    ui.stacked_cost(data.frame("daily_cost", f, "model"), "model", "By model")
