"""Shared display pieces: tables with a CSV download, and the charts.

Every table reads the same way (issue 10): the names first, then the cost and its share of the
shown total, then the rest; token columns only with the page's "Token detail" toggle; human
column labels (:data:`LABELS`), "—" for a missing value, thousands separators on counts, one
percentage precision. The CSV download keeps the exact data (the exports' conventions) and
names the page, the dates and the filters in its file name.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, filters, fmt
from models import exports

TOKEN_SUFFIX = "_tokens"
TOKENS_LIKE = ("tokens_per_minute", "quota_tokens", "peak_tokens_per_minute")
TOKEN_TOGGLE_KEY = "t_tokens"
SHARE = "share"
RATIO_COLUMNS = {
    "change_pct",
    "budget_used",
    "forecast_vs_budget",
    "share",
    "peak_utilisation",
    "utilisation",
    "cache_hit_rate",
    "unattributed_share",
}
MISSING = "—"

LABELS = {
    "cost_usd": "Cost (USD)",
    "share": "Share",
    "mtd_cost_usd": "Month to date (USD)",
    "budget_usd": "Budget (USD)",
    "forecast_usd": "Month-end forecast (USD)",
    "change_pct": "Change %",
    "change_usd": "Change (USD)",
    "previous_cost_usd": "Previous period (USD)",
    "previous_requests": "Previous requests",
    "minutes_above_80pct": "Minutes ≥ 80%",
    "peak_utilisation": "Peak utilisation",
    "cache_write_5m_tokens": "Cache write 5m tokens",
    "cache_write_1h_tokens": "Cache write 1h tokens",
    "identity_status": "Identity status",
    "last_seen_at": "Last seen (UTC)",
    "peak_minute": "Busiest minute (UTC)",
    "peak_tokens_minute": "Peak tokens at (UTC)",
    "peak_requests_minute": "Peak requests at (UTC)",
    "minutes_above_100pct": "Minutes > 100%",
    "throttled_above_100pct": "Throttled above 100%",
    "limit_kind": "Kind",
    "peak_tokens_per_minute": "Peak tokens/min",
    "peak_requests_per_minute": "Peak requests/min",
    "tokens_per_minute": "Limit tokens/min",
    "requests_per_minute": "Limit requests/min",
    "litellm_spend_usd": "LiteLLM spend (USD)",
}
# cell values a table shows in words (the CSV keeps the codes)
VALUE_LABELS = {
    "only_in_litellm": "Only in LiteLLM",
    "only_in_provider": "Only in the provider's logs",
    "named_not_in_directory": "Named, not in the directory",
    "logs_missing": "Logs missing",
    "unpriced_model": "Unpriced model",
    "contracted_discount": "Contracted discount",
    "price_book_wrong": "Price book wrong",
    "not_billed": "Not billed",
    "tokens_differ": "Tokens differ",
    "litellm_key": "LiteLLM key",
    "litellm_key_model": "LiteLLM key, one model",
    "litellm_team": "LiteLLM team",
    "litellm_team_model": "LiteLLM team, one model",
}
_SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
_WORDS = {"litellm": "LiteLLM", "usd": "(USD)", "pct": "%", "80pct": "80%", "id": "ID"}


def label(column: str) -> str:
    """A column's heading: ``cost_usd`` -> "Cost (USD)", ``only_in_litellm`` -> "Only in
    LiteLLM"."""
    if column in LABELS:
        return LABELS[column]
    if column in VALUE_LABELS:
        return VALUE_LABELS[column]
    words = [_WORDS.get(w, w) for w in column.split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


_label = label  # the old name


def value_label(value: Any) -> Any:
    """A snake_case code shown in words (``only_in_litellm`` -> "Only in LiteLLM")."""
    if isinstance(value, str) and _SNAKE.match(value):
        return VALUE_LABELS.get(value) or label(value)
    return value


def is_token_column(column: str) -> bool:
    return column.endswith(TOKEN_SUFFIX) and column not in TOKENS_LIKE


def token_toggle() -> bool:
    """The page's "Token detail" toggle: token columns show only when it is on."""
    return st.toggle(
        "Token detail",
        key=TOKEN_TOGGLE_KEY,
        help="Show the token columns (input, output, cache read and write) in the tables.",
    )


def _is_text(values: pd.Series) -> bool:
    return bool(
        pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype)
    )


def _is_name(frame: pd.DataFrame, column: str) -> bool:
    if column.endswith("_usd") or column in RATIO_COLUMNS:
        return False
    values = frame[column].dropna()
    if values.empty:
        return _is_text(frame[column])
    first = values.iloc[0]
    return isinstance(first, (str, date, datetime, pd.Timestamp)) and not isinstance(first, bool)


def with_share(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each row's share of the shown total cost (when it has a cost column)."""
    if "cost_usd" not in frame.columns or SHARE in frame.columns:
        return frame
    costs = [float(v) for v in frame["cost_usd"] if v is not None and v == v]
    total = sum(costs)
    out = frame.copy()
    out[SHARE] = [
        float(v) / total if total and v is not None and v == v else None for v in frame["cost_usd"]
    ]
    return out


def column_order(
    frame: pd.DataFrame, *, tokens: bool, lead: Sequence[str] | None = None
) -> list[str]:
    """Names first, then cost and share, then the rest; token columns only with ``tokens``.
    ``lead`` names the columns that come first instead (a table whose key figure is not a
    cost, such as the rate limits' peak utilisation)."""
    if lead is not None:
        first = [c for c in lead if c in frame.columns]
        rest = [c for c in frame.columns if c not in first]
        return first + [c for c in rest if tokens or not is_token_column(c)]
    names = [c for c in frame.columns if _is_name(frame, c)]
    lead = [c for c in ("cost_usd", SHARE) if c in frame.columns]
    rest = [c for c in frame.columns if c not in names and c not in lead]
    if not tokens:
        rest = [c for c in rest if not is_token_column(c)]
    return names + lead + rest


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _display(column: str, value: Any) -> str:
    if _missing(value):
        return MISSING
    if column.endswith("_usd"):
        return fmt.money(value)
    if column in RATIO_COLUMNS:
        return fmt.percent(value)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return fmt.count(value) if value == int(value) else f"{value:,}"
    if isinstance(value, float):
        return fmt.count(value) if value.is_integer() else f"{value:,.4g}"
    return str(value_label(value))


def shown_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """What the table displays: money as floats, ratios in percent points, codes in words, and
    a column with a missing value as text with "—" in its place."""
    shown = fmt.money_float(frame)
    for column in shown.columns:
        values = frame[column]
        has_missing = bool(values.isna().any())
        if has_missing:
            shown[column] = [_display(column, v) for v in values]
        elif column in RATIO_COLUMNS:
            shown[column] = shown[column].astype("float64") * 100
        elif _is_text(values):
            shown[column] = [value_label(v) for v in values]
    return shown


def column_config(frame: pd.DataFrame, shown: pd.DataFrame | None = None) -> dict[str, object]:
    shown = frame if shown is None else shown
    config: dict[str, object] = {}
    for column in frame.columns:
        text = label(column)
        if column in shown.columns and _is_text(shown[column]):
            config[column] = st.column_config.Column(text)
        elif column.endswith("_usd"):
            config[column] = st.column_config.NumberColumn(text, format="dollar")
        elif column.endswith(TOKEN_SUFFIX) or column in TOKENS_LIKE:
            config[column] = st.column_config.NumberColumn(text, format="compact")
        elif column in RATIO_COLUMNS:  # shown in percent points: one decimal, as the metrics
            config[column] = st.column_config.NumberColumn(text, format="%.1f%%")
        elif pd.api.types.is_integer_dtype(frame[column].dtype):
            config[column] = st.column_config.NumberColumn(text, format="localized")
        else:
            config[column] = st.column_config.Column(text)
    return config


def file_name(name: str) -> str:
    """``llmledger-<page table>-<from>_<to>[-<filter>-<values>...].csv`` for the current
    filters, e.g. ``llmledger-developers-2026-11-01_2026-11-30-team-payments.csv``."""
    f = filters.current()
    parts = ["llmledger", name]
    if f.since is not None and f.until is not None:
        parts.append(f"{f.since.isoformat()}_{f.until.isoformat()}")
    for field, (param, _, _) in filters.LIST_FILTERS.items():
        values = getattr(f, field)
        if values:
            parts.append(param + "-" + "+".join(values))
    text = "-".join(parts)
    return re.sub(r"[^A-Za-z0-9._+@-]+", "_", text) + ".csv"


def empty_text() -> str:
    """Why a table is empty: the filters that left nothing, e.g. "Nothing for team data and
    model claude-opus-4-6 from 2026-11-01 to 2026-11-06."."""
    f = filters.current()
    parts = []
    for field, (_, _, name) in filters.LIST_FILTERS.items():
        values = getattr(f, field)
        if values:
            parts.append(f"{name.lower()} " + ", ".join(values))
    text = "Nothing for " + " and ".join(parts) if parts else "Nothing"
    if f.since is not None and f.until is not None:
        text += f" from {f.since} to {f.until}"
    return text + "."


def table(
    frame: pd.DataFrame,
    name: str,
    *,
    caption: str | None = None,
    lead: Sequence[str] | None = None,
) -> None:
    """A sortable table (names, cost and share first; money as money, tokens in K/M; token
    columns with the page's toggle) and its exact data as a CSV download."""
    if frame.empty:
        st.caption(caption or empty_text())
        return
    full = with_share(frame)
    shown = shown_frame(full)
    tokens = bool(st.session_state.get(TOKEN_TOGGLE_KEY, False))
    st.dataframe(
        shown,
        column_config=column_config(full, shown),  # type: ignore[arg-type]
        column_order=column_order(full, tokens=tokens, lead=lead),
        hide_index=True,
        width="stretch",
    )
    st.download_button(
        "Download CSV",
        _cached_csv(frame),
        file_name=file_name(name),
        mime="text/csv",
        key=f"csv-{name}",
    )
    if caption:
        st.caption(caption)


def _csv_value(value: Any) -> Any:
    """The exports' number conventions: exact decimals in plain notation (never ``0E-12``), a
    whole number without ``.0``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


@st.cache_data(show_spinner=False, max_entries=256)
def _cached_csv(frame: pd.DataFrame) -> bytes:
    """:func:`csv_bytes`, kept by the frame's content: a page rerun (any widget, a page
    switch) offers the same bytes without writing them again."""
    return csv_bytes(frame)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame's exact values as CSV, written by the exports' writer (formulas neutralised,
    RFC 4180 quoting), as every CSV the tool produces."""
    out = io.BytesIO()
    cells = frame.astype(object).where(frame.notna(), None)
    rows = ([_csv_value(v) for v in row] for row in cells.itertuples(index=False))
    exports.write_rows([str(c) for c in frame.columns], rows, out)
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


def days_ago(newest: datetime, now: datetime | None = None) -> str:
    """ "today", "1 day ago", "12 days ago" (UTC calendar days)."""
    today = (now or datetime.now(UTC)).date()
    days = (today - newest.date()).days
    if days <= 0:
        return "today"
    return "1 day ago" if days == 1 else f"{fmt.count(days)} days ago"


def freshness_text(newest: datetime | None, now: datetime | None = None) -> str:
    """ "Data as of 2026-11-06 14:05 UTC (27 days ago)": the newest record the viewer can see."""
    if newest is None:
        return "No data yet."
    return f"Data as of {newest:%Y-%m-%d %H:%M} UTC ({days_ago(newest, now)})"


def freshness(allowed_teams: tuple[str, ...] | None) -> None:
    """The freshness line every page shows, under the page's content header."""
    newest = data.query("data_freshness", allowed_teams)
    st.caption(freshness_text(newest if isinstance(newest, datetime) else None))
