"""The rate-limit page's words and charts: what a peak means in absolute numbers, why a minute
passed 100% of its limit, and the charts with their 80% and 100% lines labelled."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import fmt
from models.views import Filters

NEAR_COLOUR = "#d62728"  # at or above 80%
OVER_COLOUR = "#6a3d9a"  # above 100%: past the limit, a colour the 0-100% scale never reaches
CALM_COLOUR = "#1f77b4"
OVER_BAND = "above 100%: limit exceeded"
LINES = ((0.8, "80% of the limit"), (1.0, "100%: the limit"))

# what exceeded its limit, by quota_limits.limit_kind
KIND_WORDS = {
    "quota": "the account quota",
    "litellm_key": "a LiteLLM key limit",
    "litellm_key_model": "a LiteLLM key's limit on one model",
    "litellm_team": "a LiteLLM team limit",
    "litellm_team_model": "a LiteLLM team's limit on one model",
}


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)


def at_minute(value: Any) -> str | None:
    """``at 2026-11-18 15:04 UTC``; None for a limit without traffic."""
    if not present(value) or value is pd.NaT:
        return None
    return f"at {pd.Timestamp(value).tz_convert('UTC'):%Y-%m-%d %H:%M} UTC"


def _plural(n: int, word: str) -> str:
    """``1 minute``, ``14 minutes``, ``no requests``."""
    return ("no" if n == 0 else fmt.count(n)) + f" {word}" + ("" if n == 1 else "s")


def above_limit_text(kind: str, minutes: int, throttled: int) -> str:
    """Why a limit shows more than 100%: it was exceeded, and what was throttled meanwhile."""
    what = KIND_WORDS.get(kind, "the limit")
    return (
        f"Above 100% in {_plural(int(minutes), 'minute')}: {what} was exceeded; "
        f"{_plural(int(throttled), 'request')} throttled in those minutes."
    )


def cell_note(minutes_above: int, throttled: int) -> str:
    """A heatmap cell's explanation (its tooltip)."""
    if minutes_above:
        return (
            f"limit exceeded in {_plural(minutes_above, 'minute')}; "
            f"{_plural(throttled, 'request')} throttled"
        )
    return f"{_plural(throttled, 'request')} throttled" if throttled else ""


def _notes(frame: pd.DataFrame) -> list[str]:
    return [
        cell_note(int(m or 0), int(t or 0))
        for m, t in zip(frame["minutes_above_100pct"], frame["throttled_requests"], strict=True)
    ]


def shared_quota_text(f: Filters) -> str:
    """Why the team and developer filters do not narrow an account quota."""
    which = [name for name, on in (("team", f.teams), ("developer", f.developers)) if on]
    subject = (
        f"The {which[0]} filter does not"
        if len(which) == 1
        else "The team and developer filters do not"
    )
    return (
        f"{subject} narrow an account quota: it is shared by everyone calling the model, so "
        "its peaks are everyone's traffic. It narrows the LiteLLM limits listed and “Who drove "
        "the peak minutes” below."
    )


def _lines() -> alt.LayerChart:
    """Dashed 80% and 100% rules, each with its label (in the spec, not in a dataset)."""
    layers: list[Any] = []
    for value, text in LINES:
        layers.append(
            alt.Chart(alt.Data(values=[{}]))
            .mark_rule(strokeDash=[4, 4], color=OVER_COLOUR if value >= 1 else NEAR_COLOUR)
            .encode(y=alt.datum(value))
        )
        layers.append(
            alt.Chart(alt.Data(values=[{}]))
            .mark_text(
                text=text,
                align="left",
                baseline="bottom",
                dx=4,
                dy=-2,
                color=OVER_COLOUR if value >= 1 else NEAR_COLOUR,
            )
            .encode(y=alt.datum(value), x=alt.value(0))
        )
    return alt.layer(*layers)


def timeline(frame: pd.DataFrame, title: str) -> None:
    """The busiest minute of each hour against the limit, with the 80% and 100% lines."""
    shown = frame.assign(note=_notes(frame))
    bars = (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdatehours(hour):T", title=None),
            y=alt.Y(
                "peak_utilisation:Q",
                title="Busiest minute, share of limit",
                axis=alt.Axis(format="%"),
            ),
            color=alt.when(alt.datum.peak_utilisation > 1)
            .then(alt.value(OVER_COLOUR))
            .when(alt.datum.peak_utilisation >= 0.8)
            .then(alt.value(NEAR_COLOUR))
            .otherwise(alt.value(CALM_COLOUR)),
            tooltip=[
                alt.Tooltip("hour:T", format="%Y-%m-%d %H:00"),
                alt.Tooltip("peak_utilisation:Q", format=".1%"),
                alt.Tooltip("peak_tokens_per_minute:Q", format=",d"),
                alt.Tooltip("peak_requests_per_minute:Q", format=",d"),
                alt.Tooltip("throttled_requests:Q", format=",d"),
                alt.Tooltip("note:N", title="Above 100%"),
            ],
        )
    )
    st.altair_chart(alt.layer(bars, _lines()).properties(title=title), width="stretch")


def heatmap(frame: pd.DataFrame, title: str) -> None:
    """Peak utilisation by day and hour; cells past 100% in their own colour, explained."""
    shown = frame.assign(
        note=_notes(frame),
        band=[OVER_BAND if u > 1 else "" for u in frame["peak_utilisation"]],
    )
    base = alt.Chart(shown).encode(
        x=alt.X(
            "hour_of_day:O",
            title="Hour of day (UTC)",
            scale=alt.Scale(domain=list(range(24))),
            axis=alt.Axis(labelAngle=0),
        ),
        y=alt.Y("yearmonthdate(day):O", title=None),
        tooltip=[
            alt.Tooltip("day:T"),
            "hour_of_day:O",
            alt.Tooltip("peak_utilisation:Q", format=".1%"),
            alt.Tooltip("throttled_requests:Q", format=",d"),
            alt.Tooltip("note:N", title="Note"),
        ],
    )
    within = (
        base.transform_filter(alt.datum.peak_utilisation <= 1)
        .mark_rect()
        .encode(
            color=alt.Color(
                "peak_utilisation:Q",
                title="Peak",
                scale=alt.Scale(scheme="orangered", domain=[0, 1]),
                legend=alt.Legend(format="%"),
            )
        )
    )
    over = (
        base.transform_filter(alt.datum.peak_utilisation > 1)
        .mark_rect()
        .encode(
            color=alt.Color(
                "band:N",
                title=None,
                scale=alt.Scale(domain=[OVER_BAND], range=[OVER_COLOUR]),
            )
        )
    )
    st.altair_chart(
        alt.layer(within, over)
        .resolve_scale(color="independent")
        .properties(title=title, height=max(160, 16 * shown["day"].nunique())),
        width="stretch",
    )
    over_cells = shown[shown["band"] == OVER_BAND]
    if not over_cells.empty:
        st.caption(
            f"Purple cells: hours whose busiest minute passed the limit "
            f"({_plural(int(over_cells['minutes_above_100pct'].sum()), 'minute')}, "
            f"{_plural(int(over_cells['throttled_requests'].sum()), 'request')} throttled in "
            "those hours)."
        )
