"""Teams and developers: who spent it, and how that changed against the previous period."""

from __future__ import annotations

from dataclasses import replace

import altair as alt
import streamlit as st

from dashboard import data, filters, fmt, ui

f = filters.current()
st.title("Teams and developers")
previous = f.previous()
st.caption(
    f"{f.since} to {f.until} (UTC), compared with {previous.since} to {previous.until}"
    if previous
    else "All data"
)

ui.token_toggle()
teams = data.frame("team_table", f)
st.subheader("Teams")
ui.table(teams, "teams")

team = filters.page_choice(
    "team_detail",
    "Show a team's developers",
    list(teams["team"]) if not teams.empty else [],
    none_label="All teams",
)
scope = replace(f, teams=(team,)) if team else f
developers = data.frame("developer_table", scope)
st.subheader(f"Developers in {team}" if team else "Developers")
ui.table(developers, f"developers-{team}" if team else "developers")

developer = filters.page_choice(
    "developer_detail",
    "Show a developer's usage",
    list(developers["developer"]) if not developers.empty else [],
    none_label="Nobody",
)
if developer:
    st.subheader(developer)
    daily = data.frame("developer_daily", f, developer)
    mix = data.frame("developer_models", f, developer)
    row = st.columns(3)
    row[0].metric(f"{developer}: cost", fmt.money(mix["cost_usd"].sum() if not mix.empty else 0))
    row[1].metric(
        f"{developer}: requests", fmt.count(mix["requests"].sum() if not mix.empty else 0)
    )
    row[2].metric(
        f"{developer}: output tokens",
        fmt.tokens(mix["output_tokens"].sum() if not mix.empty else 0),
    )
    left, right = st.columns([2, 1])
    with left:
        ui.stacked_cost(daily, "model", "Daily cost by model")
    with right:
        if not mix.empty:
            pie = fmt.money_float(mix[["model", "cost_usd"]])
            st.altair_chart(
                alt.Chart(pie, title="Model mix (cost)")
                .mark_arc(innerRadius=40)
                .encode(
                    theta="cost_usd:Q",
                    color="model:N",
                    tooltip=["model:N", alt.Tooltip("cost_usd:Q", format="$,.2f")],
                ),
                width="stretch",
            )
    ui.table(mix, f"developer-models-{developer}")
    ui.table(daily, f"developer-daily-{developer}")

sessions = data.frame("claude_code_sessions", scope)
if not sessions.empty:
    st.subheader("Claude Code sessions")
    ui.table(
        sessions,
        "claude-code-sessions",
        caption="From Claude Code's own telemetry: requests, cost (the provider's record where "
        "one matched) and active time per session, newest first.",
    )
