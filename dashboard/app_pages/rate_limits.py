"""Rate limits: how close each quota runs to its limit, when, and who drives the peaks.

The page opens on the account's (provider) quota with the highest peak, not on one developer's
LiteLLM key: the cards say in absolute numbers how close it came ("1.99M of 2.0M TPM at
2026-11-18 15:04 UTC") before any chart is drawn.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, filters, fmt, limits, ui

f = filters.current()
st.title("Rate limits")

summary = data.frame("quota_summary", f)  # account quotas first, then LiteLLM's limits
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

quota = filters.page_choice("quota", "Limit", list(summary["quota"]), none_label=None) or str(
    summary["quota"].iloc[0]
)
limit: Any = summary[summary["quota"] == quota].iloc[0]
kind = str(limit["limit_kind"])

cards = st.columns(4)
if limits.present(limit["tokens_per_minute"]):
    cards[0].metric(
        "Peak tokens",
        fmt.peak_of_limit(limit["peak_tokens_per_minute"], limit["tokens_per_minute"], "TPM"),
        limits.at_minute(limit["peak_tokens_minute"]),
        delta_color="off",
        delta_arrow="off",
        help="The busiest minute's tokens against the limit's tokens per minute.",
    )
if limits.present(limit["requests_per_minute"]):
    cards[1].metric(
        "Peak requests",
        fmt.peak_of_limit(limit["peak_requests_per_minute"], limit["requests_per_minute"], "RPM"),
        limits.at_minute(limit["peak_requests_minute"]),
        delta_color="off",
        delta_arrow="off",
        help="The busiest minute's requests against the limit's requests per minute.",
    )
cards[2].metric(
    "Minutes at or above 80%",
    fmt.count(limit["minutes_above_80pct"]),
    help=f"Highest: {fmt.percent(limit['peak_utilisation'])} of the limit.",
)
cards[3].metric("Throttled requests", fmt.count(limit["throttled_requests"]))
if limit["minutes_above_100pct"]:
    st.warning(
        limits.above_limit_text(
            kind, limit["minutes_above_100pct"], limit["throttled_above_100pct"]
        )
    )
if f.developers or f.teams:
    if kind == "quota":
        st.info(limits.shared_quota_text(f))
    else:
        st.caption("Only the LiteLLM limits of the chosen teams and developers are listed.")
if not data.is_admin():
    st.caption(
        "Your teams' LiteLLM key and team limits. Shared quotas count everyone's traffic, so "
        "only the dashboard's admins see them."
    )
st.caption(
    f"{f.since} to {f.until} (UTC) · per minute, against each configured quota and each LiteLLM "
    "key and team limit. Bedrock's rule: quota tokens = input + cache writes + output × 5 for "
    "Claude 3.7 and later (× 1 otherwise); cache reads do not count. LiteLLM limits count every "
    "token."
)

timeline = data.frame("quota_timeline", f, quota)
if timeline.empty:
    st.caption("No traffic against this limit in the selection.")
else:
    limits.timeline(timeline, "Peak utilisation per hour (UTC)")
    heat = data.frame("quota_heatmap", f, quota)
    limits.heatmap(heat, "Peak utilisation by hour of day (UTC) and day")

st.subheader("Who drove the peak minutes")
drivers = data.frame("peak_drivers", f, quota)
ui.table(
    drivers,
    "peak-drivers",
    lead=["developer", "team", "share", "peak_minutes"],
    caption=None  # empty: the table says which filters left nothing
    if drivers.empty
    else "Developers behind the 20 busiest minutes of this limit, and their share of them.",
)

st.subheader("All limits")
ui.table(
    pd.DataFrame(summary),
    "quotas",
    lead=[
        "quota",
        "limit_kind",
        "peak_utilisation",
        "minutes_above_80pct",
        "minutes_above_100pct",
        "throttled_requests",
        "peak_minute",
        "peak_tokens_per_minute",
        "tokens_per_minute",
        "peak_requests_per_minute",
        "requests_per_minute",
    ],
)
