"""Rate limits: how close each quota runs to its limit, when, and who drives the peaks."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, filters, fmt, ui

f = filters.current()
st.title("Rate limits")
st.caption(
    f"{f.since} to {f.until} (UTC) · per minute, against each configured quota and each LiteLLM "
    "key and team limit. Bedrock's rule: quota tokens = input + cache writes + output × 5 for "
    "Claude 3.7 and later (× 1 otherwise); cache reads do not count. LiteLLM limits count every "
    "token. Limits are shared, so only the date filter applies to their usage."
)

summary = data.frame("quota_summary", f)
if not data.is_admin():
    st.caption(
        "Your teams' LiteLLM key and team limits. Shared quotas count everyone's traffic, so "
        "only the dashboard's admins see them."
    )
if summary.empty and not data.is_admin():
    st.info("No rate limits for your teams.")
    st.stop()
if summary.empty:
    st.info(
        "No quotas configured. Add [[quotas]] tables to the config (provider, region, model, "
        "scope, tokens_per_minute, requests_per_minute); LiteLLM key and team limits show up "
        "here once the LiteLLM source is ingested."
    )
    st.stop()

top = summary.iloc[0]
row = st.columns(3)
row[0].metric(
    "Highest peak utilisation", fmt.percent(top["peak_utilisation"]), help=f"{top['quota']}"
)
row[1].metric("Minutes at or above 80%", fmt.count(summary["minutes_above_80pct"].sum()))
row[2].metric("Throttled requests", fmt.count(summary["throttled_requests"].sum()))
ui.table(
    summary,
    "quotas",
    lead=[
        "quota",
        "peak_utilisation",
        "minutes_above_80pct",
        "throttled_requests",
        "peak_minute",
        "peak_tokens_per_minute",
        "tokens_per_minute",
        "peak_requests_per_minute",
        "requests_per_minute",
    ],
)

quota = filters.page_choice("quota", "Quota", list(summary["quota"]), none_label=None) or str(
    top["quota"]
)
st.subheader(quota)

timeline = data.frame("quota_timeline", f, quota)
if timeline.empty:
    st.caption("No traffic against this quota in the selection.")
else:
    bars = (
        alt.Chart(timeline)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdatehours(hour):T", title=None),
            y=alt.Y(
                "peak_utilisation:Q",
                title="Busiest minute, share of limit",
                axis=alt.Axis(format="%"),
            ),
            color=alt.condition(
                alt.datum.peak_utilisation >= 0.8, alt.value("#d62728"), alt.value("#1f77b4")
            ),
            tooltip=[
                alt.Tooltip("hour:T", format="%Y-%m-%d %H:00"),
                alt.Tooltip("peak_utilisation:Q", format=".1%"),
                alt.Tooltip("peak_tokens_per_minute:Q", format=",d"),
                alt.Tooltip("peak_requests_per_minute:Q", format=",d"),
                alt.Tooltip("throttled_requests:Q", format=",d"),
            ],
        )
    )
    rules = (
        alt.Chart(pd.DataFrame({"limit": [0.8, 1.0]}))
        .mark_rule(strokeDash=[4, 4])
        .encode(y="limit:Q", color=alt.value("#d62728"))
    )
    st.altair_chart(
        (bars + rules).properties(title="Peak utilisation per hour (UTC)"), width="stretch"
    )

    heat = data.frame("quota_heatmap", f, quota)
    st.altair_chart(
        alt.Chart(heat, title="Peak utilisation by hour of day (UTC) and day")
        .mark_rect()
        .encode(
            x=alt.X(
                "hour_of_day:O",
                title="Hour of day (UTC)",
                scale=alt.Scale(domain=list(range(24))),
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("yearmonthdate(day):O", title=None),
            color=alt.Color(
                "peak_utilisation:Q",
                title="Peak",
                scale=alt.Scale(scheme="orangered", domain=[0, 1]),
                legend=alt.Legend(format="%"),
            ),
            tooltip=[
                alt.Tooltip("day:T"),
                "hour_of_day:O",
                alt.Tooltip("peak_utilisation:Q", format=".1%"),
                alt.Tooltip("throttled_requests:Q", format=",d"),
            ],
        )
        .properties(height=max(160, 16 * heat["day"].nunique())),
        width="stretch",
    )

st.subheader("Who drove the peak minutes")
drivers = data.frame("peak_drivers", f, quota)
ui.table(
    drivers,
    "peak-drivers",
    lead=["developer", "team", "share", "peak_minutes"],
    caption="Developers behind the 20 busiest minutes of this limit, and their share of them.",
)
