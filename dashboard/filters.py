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
NOTICES_KEY = "llmledger_filter_notices"  # field -> (message, kind, the value it explains)
# date presets beside the picker, relative to the last day with data
PRESETS = ("This month", "Last month", "Last 7 days", "Last 30 days")


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _clamp(day: date, first: date, last: date) -> date:
    return min(max(day, first), last)


def _notices() -> dict[str, tuple[str, str, Any]]:
    value = st.session_state.setdefault(NOTICES_KEY, {})
    assert isinstance(value, dict)
    return value


def preset_range(name: str, first: date, last: date) -> tuple[date, date]:
    """A preset's dates, relative to the last day with data and within the data."""
    if name == "This month":
        since, until = last.replace(day=1), last
    elif name == "Last month":
        until = last.replace(day=1) - timedelta(days=1)
        since = until.replace(day=1)
    elif name == "Last 7 days":
        since, until = last - timedelta(days=6), last
    elif name == "Last 30 days":
        since, until = last - timedelta(days=29), last
    else:
        raise ValueError(f"no date preset {name!r}")
    return _clamp(since, first, last), _clamp(until, first, last)


def _preset(name: str, first: date, last: date) -> None:
    st.session_state["f_dates"] = preset_range(name, first, last)


def _init_dates(first: date, last: date) -> None:
    # Assign to a widget's state only when it must change: an assignment outranks what the
    # viewer just picked in the widget.
    key = "f_dates"
    if key not in st.session_state:
        asked_since = _parse_date(st.query_params.get("from"))
        asked_until = _parse_date(st.query_params.get("to"))
        until = asked_until or last
        since = asked_since or max(first, until - timedelta(days=DEFAULT_DAYS - 1))
        st.session_state[key] = (since, until)
        shown = (_clamp(min(since, until), first, last), _clamp(max(since, until), first, last))
        if (asked_since or asked_until) and shown != (since, until):
            _notices()["dates"] = (
                f"Dates {since} to {until} reach beyond the data ({first} to {last}): "
                f"showing {shown[0]} to {shown[1]}.",
                "info",
                shown,
            )
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


def _init_list(
    field: str,
    options: list[str],
    known: list[str] | None = None,
    why: str = "",
    *,
    echo: bool = True,
) -> None:
    """Keep the widget's values within ``options``. On the first run, values from the URL that
    are not there get a banner: unknown (not in ``known``, all values) or ``why``. Without
    ``echo`` (a viewer scoped to some teams) the banner does not repeat the values: a name
    outside the scope is never printed, whatever the link holds."""
    param, _, label = LIST_FILTERS[field]
    key = f"f_{field}"
    first_run = key not in st.session_state
    if first_run:
        st.session_state[key] = st.query_params.get_all(param)
    allowed = set(options)
    current = list(st.session_state[key])
    kept = [v for v in current if v in allowed]
    if kept != current:
        st.session_state[key] = kept
        if first_run:
            everything = set(known if known is not None else options)
            unknown = [v for v in current if v not in everything]
            elsewhere = [v for v in current if v in everything and v not in allowed]
            showing = "showing all" if not kept else "showing " + ", ".join(kept)
            if not echo:
                _notices()[field] = (
                    f"a {label.lower()} in the link is not among yours — {showing}",
                    "warning",
                    kept,
                )
                return
            parts = []
            if unknown:
                names = ", ".join(f"'{v}'" for v in unknown)
                parts.append(f"{label.lower()} {names} not found")
            if elsewhere:
                names = ", ".join(f"'{v}'" for v in elsewhere)
                parts.append(f"{label.lower()} {names} {why}".rstrip())
            _notices()[field] = ("; ".join(parts) + f" — {showing}", "warning", kept)


def notices() -> list[tuple[str, str]]:
    """(kind, message) banners for URL values the filters could not apply, while the filter
    still holds what the banner explains."""
    out = []
    for field, (message, kind, value) in list(_notices().items()):
        current = st.session_state.get("f_dates" if field == "dates" else f"f_{field}")
        current = tuple(current) if field == "dates" and current else current
        if current == value:
            out.append((kind, message))
        else:
            del _notices()[field]
    return out


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
    drill_downs = [k for k in st.session_state if isinstance(k, str) and k.startswith("p_")]
    for key in ["f_dates", *(f"f_{field}" for field in LIST_FILTERS), NOTICES_KEY, *drill_downs]:
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
    echo = viewer.allowed_teams is None
    choices: dict[str, list[str]] = {}
    for field, (_, option_key, _) in LIST_FILTERS.items():
        choices[field] = list(options[option_key])
        if field == "developers":  # only the selected teams' developers
            teams = set(st.session_state.get("f_teams") or ())
            teams_of: dict[str, list[str]] = options.get("developer_teams") or {}
            if teams:
                choices[field] = [d for d in choices[field] if teams & set(teams_of.get(d, ()))]
            _init_list(
                field,
                choices[field],
                list(options[option_key]),
                why="is not in " + ", ".join(sorted(teams)),
                echo=echo,
            )
        else:
            _init_list(field, choices[field], echo=echo)
    with st.sidebar:
        st.header("Filters")
        picked = st.date_input("Dates (UTC)", key="f_dates", min_value=first, max_value=last)
        presets = st.columns(2)
        for i, name in enumerate(PRESETS):
            presets[i % 2].button(
                name,
                key=f"preset-{name.lower().replace(' ', '-')}",
                on_click=_preset,
                args=(name, first, last),
                width="stretch",
            )
        lists: dict[str, list[str]] = {}
        for field, (_, _, label) in LIST_FILTERS.items():
            lists[field] = st.multiselect(
                label, choices[field], key=f"f_{field}", placeholder="All"
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
