"""The shared filters (sidebar), kept in the URL's query parameters so a view is a link.

``?from=2026-11-01&to=2026-11-20&team=data&team=search&model=claude-sonnet-4-5`` opens any page
with those filters. The widgets live in the entry script, so their values survive page changes;
every run writes them back to the URL.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import streamlit as st

from dashboard import data
from dashboard.access import Viewer
from models.views import Filters

DEFAULT_DAYS = 30
# Filters field -> (query parameter, option list in filter_options, label)
LIST_FILTERS = {
    "teams": ("team", "team", "Team"),
    "developers": ("developer", "developer", "Developer"),
    "models": ("model", "model", "Model"),
    "providers": ("provider", "provider", "Provider"),
    "sources": ("source", "source", "Source"),
}
STATE_KEY = "llmledger_filters"


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _clamp(day: date, first: date, last: date) -> date:
    return min(max(day, first), last)


def _init_dates(first: date, last: date) -> None:
    # Assign to a widget's state only when it must change: an assignment outranks what the
    # viewer just picked in the widget.
    key = "f_dates"
    if key not in st.session_state:
        since = _parse_date(st.query_params.get("from"))
        until = _parse_date(st.query_params.get("to"))
        until = until or last
        since = since or max(first, until - timedelta(days=DEFAULT_DAYS - 1))
        st.session_state[key] = (since, until)
    value = st.session_state[key]
    if not value:
        value = (first, last)
    elif isinstance(value, date):
        value = (value, value)
    since, until = _clamp(value[0], first, last), _clamp(value[-1], first, last)
    if since > until:
        since, until = until, since
    if tuple(value) != (since, until) and len(value) == 2:
        st.session_state[key] = (since, until)
    elif len(value) != 2 and key not in st.session_state:
        st.session_state[key] = (since, until)


def _init_list(field: str, options: list[str]) -> None:
    param = LIST_FILTERS[field][0]
    key = f"f_{field}"
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get_all(param)
    allowed = set(options)
    current = list(st.session_state[key])
    kept = [v for v in current if v in allowed]
    if kept != current:
        st.session_state[key] = kept


def _write_params(since: date, until: date, lists: dict[str, list[str]]) -> None:
    st.query_params["from"] = since.isoformat()
    st.query_params["to"] = until.isoformat()
    for field, values in lists.items():
        param = LIST_FILTERS[field][0]
        if values:
            st.query_params[param] = values
        elif param in st.query_params:
            del st.query_params[param]


def _reset() -> None:
    for key in ["f_dates", *(f"f_{field}" for field in LIST_FILTERS)]:
        st.session_state.pop(key, None)
    st.query_params.clear()


def sidebar(viewer: Viewer) -> Filters:
    """Render the filters in the sidebar and return them (also kept in session state)."""
    options: dict[str, Any] = data.query("filter_options", viewer.allowed_teams)
    first, last = options["first_day"], options["last_day"]
    if first is None or last is None:
        filters = Filters(allowed_teams=viewer.allowed_teams)
        st.session_state[STATE_KEY] = filters
        return filters
    _init_dates(first, last)
    for field, (_, option_key, _) in LIST_FILTERS.items():
        _init_list(field, options[option_key])
    with st.sidebar:
        st.header("Filters")
        picked = st.date_input("Dates (UTC)", key="f_dates", min_value=first, max_value=last)
        lists: dict[str, list[str]] = {}
        for field, (_, option_key, label) in LIST_FILTERS.items():
            lists[field] = st.multiselect(
                label, options[option_key], key=f"f_{field}", placeholder="All"
            )
        st.button("Reset filters", on_click=_reset)
        st.caption(f"Data from {first} to {last} (UTC).")
    if isinstance(picked, tuple) and picked:
        since, until = picked[0], picked[-1]
    else:  # a single date, or a range still being picked
        since = until = picked if isinstance(picked, date) else last
    _write_params(since, until, lists)
    filters = Filters(
        since=since,
        until=until,
        allowed_teams=viewer.allowed_teams,
        **{field: tuple(values) for field, values in lists.items()},
    )
    st.session_state[STATE_KEY] = filters
    return filters


def current() -> Filters:
    """The filters the entry script set for this run."""
    value = st.session_state.get(STATE_KEY)
    return value if isinstance(value, Filters) else Filters()


def page_choice(
    param: str, label: str, options: list[str], *, none_label: str | None = "—"
) -> str | None:
    """A page-local selectbox kept in the query parameter ``param`` (drill-downs).

    With ``none_label`` the first choice means "none" (returns None); without, the first
    option is the default.
    """
    choices = ([none_label] if none_label is not None else []) + list(options)
    if not choices:
        return None
    key = f"p_{param}"
    if key not in st.session_state:
        wanted = st.query_params.get(param)
        st.session_state[key] = wanted if wanted in options else choices[0]
    elif st.session_state[key] not in choices:
        st.session_state[key] = choices[0]
    picked = st.selectbox(label, choices, key=key)
    if none_label is not None and picked == none_label:
        if param in st.query_params:
            del st.query_params[param]
        return None
    st.query_params[param] = picked
    return str(picked)
