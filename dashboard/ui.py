"""Shared display pieces: tables with a CSV download, and the charts."""

from __future__ import annotations

import io
import re

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import fmt
from models import exports

TOKEN_SUFFIX = "_tokens"
TOKENS_LIKE = ("tokens_per_minute", "quota_tokens", "peak_tokens_per_minute")
RATIO_COLUMNS = {
    "change_pct",
    "budget_used",
    "forecast_vs_budget",
    "share",
    "peak_utilisation",
    "utilisation",
    "cache_hit_rate",
}


LABELS = {
    "mtd_cost_usd": "Month to date (USD)",
    "budget_usd": "Budget (USD)",
    "forecast_usd": "Month-end forecast (USD)",
    "change_pct": "Change %",
    "change_usd": "Change (USD)",
    "minutes_above_80pct": "Minutes ≥ 80%",
    "peak_utilisation": "Peak utilisation",
}


def _label(column: str) -> str:
    if column in LABELS:
        return LABELS[column]
    text = re.sub(r"_usd$", " (USD)", column)
    text = text.replace("_pct", " %").replace("80pct", "80%").replace("_", " ")
    return text[:1].upper() + text[1:]


def column_config(frame: pd.DataFrame) -> dict[str, object]:
    config: dict[str, object] = {}
    for column in frame.columns:
        label = _label(column)
        if column.endswith("_usd"):
            config[column] = st.column_config.NumberColumn(label, format="dollar")
        elif column.endswith(TOKEN_SUFFIX) or column in TOKENS_LIKE:
            config[column] = st.column_config.NumberColumn(label, format="compact")
        elif column in RATIO_COLUMNS:
            config[column] = st.column_config.NumberColumn(label, format="percent")
        else:
            config[column] = st.column_config.Column(label)
    return config


def table(frame: pd.DataFrame, name: str, *, caption: str | None = None) -> None:
    """A sortable table (money as money, tokens in K/M) and its exact data as a CSV download."""
    if frame.empty:
        st.caption(caption or "Nothing in this selection.")
        return
    shown = fmt.money_float(frame)
    for column in shown.columns:
        if column in RATIO_COLUMNS:
            shown[column] = shown[column].astype("float64")
    st.dataframe(shown, column_config=column_config(frame), hide_index=True, width="stretch")
    st.download_button(
        "Download CSV",
        csv_bytes(frame),
        file_name=f"llmledger-{name}.csv",
        mime="text/csv",
        key=f"csv-{name}",
    )
    if caption:
        st.caption(caption)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame's exact values as CSV, written by the exports' writer (formulas neutralised,
    RFC 4180 quoting), as every CSV the tool produces."""
    out = io.BytesIO()
    cells = frame.astype(object).where(frame.notna(), None)
    exports.write_rows([str(c) for c in frame.columns], cells.itertuples(index=False), out)
    return out.getvalue()


def stacked_cost(frame: pd.DataFrame, by: str, title: str) -> None:
    """Daily cost as bars stacked by ``by``."""
    if frame.empty:
        st.caption("No cost in this selection.")
        return
    data = fmt.money_float(frame[["day", by, "cost_usd"]])
    chart = (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(day):T", title=None),
            y=alt.Y("sum(cost_usd):Q", title="Cost (USD)", axis=alt.Axis(format="$,.2~f")),
            color=alt.Color(f"{by}:N", title=by.capitalize()),
            tooltip=[
                alt.Tooltip("day:T"),
                alt.Tooltip(f"{by}:N"),
                alt.Tooltip("sum(cost_usd):Q", title="cost", format="$,.2f"),
            ],
        )
    )
    st.altair_chart(chart, width="stretch")


def share_area(frame: pd.DataFrame, by: str, value: str, title: str) -> None:
    """Each ``by``'s share of ``value`` per day (a normalised stacked area)."""
    if frame.empty:
        st.caption("Nothing in this selection.")
        return
    data = fmt.money_float(frame[["day", by, value]])
    chart = (
        alt.Chart(data, title=title)
        .mark_area()
        .encode(
            x=alt.X("yearmonthdate(day):T", title=None),
            y=alt.Y(f"sum({value}):Q", stack="normalize", title="Share", axis=alt.Axis(format="%")),
            color=alt.Color(f"{by}:N", title=by.capitalize()),
            tooltip=[
                alt.Tooltip("day:T"),
                alt.Tooltip(f"{by}:N"),
                alt.Tooltip(f"sum({value}):Q", title=value, format=",.2f"),
            ],
        )
    )
    st.altair_chart(chart, width="stretch")
