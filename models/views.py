"""The read API over the marts: `llmledger report`, `llmledger doctor`, exports and the dashboard.

One result type: every query returns a ``pyarrow.Table`` (the dashboard turns it into a frame,
the CLI into rows with :func:`rows`), except headline figures, a dict of scalars. Every function
takes an open connection (the published snapshot, or the main database read-only). Money stays
DECIMAL (``Decimal`` in rows), rounded only when shown. The rollups read ``usage_daily`` and
``usage_minute``; only drill-downs and the doctor's lists touch ``usage_events``. The dashboard's
headline totals are :func:`totals`, the numbers `llmledger report` sums to, so the screen and the
CLI agree by construction.

Two ways to name dates: :func:`report` and :func:`totals` take ``since``/``until`` (UTC days,
``until`` exclusive); the dashboard's ``Filters`` hold inclusive days (what a date picker gives;
``until`` is the last day shown).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from models import bills, budgets, claude_code_health, reconcile, tables, vertex_health
from models.redact import redact_sql
from models.tables import rows as rows  # re-exported: the CLI's shape of a table

TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)
UNATTRIBUTED = "unattributed"
NEAR_LIMIT = 0.8  # a minute at or above 80% of a quota counts as "near the limit"
NO_TEAM = "\x00no team"  # a team name nothing has: an empty access scope matches no row


@dataclass(frozen=True)
class Filters:
    """The shared filters: a date range (inclusive) and value lists; empty means everything.

    ``allowed_teams`` is the access scope: ``None`` for everything (admins, or sign-in off),
    else the only teams this viewer may see, applied on top of every other filter.
    """

    since: date | None = None
    until: date | None = None
    teams: tuple[str, ...] = ()
    developers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    allowed_teams: tuple[str, ...] | None = None

    @property
    def days(self) -> int:
        if self.since is None or self.until is None:
            return 0
        return (self.until - self.since).days + 1

    def previous(self) -> Filters | None:
        """The period of the same length just before this one."""
        if self.since is None or self.until is None:
            return None
        until = self.since - timedelta(days=1)
        return replace(self, since=until - timedelta(days=self.days - 1), until=until)

    def report_range(self) -> tuple[date | None, date | None]:
        """``(since, until)`` as :func:`report` takes them (``until`` exclusive)."""
        until = self.until + timedelta(days=1) if self.until is not None else None
        return self.since, until

    def report_filters(self) -> dict[str, Any]:
        """The keyword filters :func:`report` takes for the same selection, with the
        access scope folded into ``team``."""
        out: dict[str, Any] = {}
        teams = list(self.teams)
        if self.allowed_teams is not None:
            allowed = set(self.allowed_teams)
            teams = [t for t in teams if t in allowed] if teams else sorted(allowed)
            if not teams:
                teams = [NO_TEAM]
        for name, values in (
            ("team", teams),
            ("developer", self.developers),
            ("model", self.models),
            ("provider", self.providers),
            ("source", self.sources),
        ):
            if values:
                out[name] = list(values)
        return out


@dataclass(frozen=True)
class Scope:
    """Who is reading: the one thing that decides what a viewer of the dashboard may see.

    ``teams`` is ``None`` for every team, else the only teams whose rows (developers, keys,
    figures) this reader may see; ``admin`` may read the company-wide operational tables (data
    health, reconciliation, source runs, shared quotas). :func:`read` applies it.
    """

    teams: tuple[str, ...] | None = None
    admin: bool = True

    def restrict(self, f: Filters) -> Filters:
        """``f`` within this scope: the scope, not the caller, sets ``allowed_teams``."""
        return replace(f, allowed_teams=self.teams)


EVERYONE = Scope()  # sign-in off: one user who sees everything
NOBODY = Scope(teams=(), admin=False)  # before sign-in: nothing


class NotAllowed(PermissionError):
    """The reader's scope does not cover this query."""


# name -> (function, access): "filters" (scoped through its Filters argument, in SQL),
# "teams" (its first argument is the allowed teams), "admin" (company-wide), "any" (the
# sign-in lookup itself). A function not listed here cannot be read through :func:`read`.
_READS: dict[str, tuple[Callable[..., Any], str]] = {}
_Query = TypeVar("_Query", bound=Callable[..., Any])


def _read(access: str) -> Callable[[_Query], _Query]:
    def register(function: _Query) -> _Query:
        _READS[function.__name__] = (function, access)
        return function

    return register


def read(scope: Scope, con: duckdb.DuckDBPyConnection, name: str, *args: Any, **kwargs: Any) -> Any:
    """The scoped read API: ``name(con, *args, **kwargs)`` as ``scope`` may see it (the
    dashboard's only way to data; the CLI, run by whoever holds the database, reads directly).

    Every ``Filters`` argument is narrowed to the scope's teams (filtered in SQL by
    ``_where``); company-wide queries raise :class:`NotAllowed` for a non-admin, and so does
    any query not registered for it (fail closed).
    """
    entry = _READS.get(name)
    if entry is None:
        raise NotAllowed(f"{name} is not part of the scoped read API")
    function, access = entry
    if access == "admin" and not scope.admin:
        raise NotAllowed(f"{name} is company-wide: for admins only")
    if access == "teams":
        args = (scope.teams, *args[1:])
    elif access == "filters":
        if not any(isinstance(a, Filters) for a in (*args, *kwargs.values())):
            raise NotAllowed(f"{name} needs Filters to be scoped")
        args = tuple(scope.restrict(a) if isinstance(a, Filters) else a for a in args)
        kwargs = {k: scope.restrict(v) if isinstance(v, Filters) else v for k, v in kwargs.items()}
    return function(con, *args, **kwargs)


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return " and ".join(self.clauses) if self.clauses else "true"


def _where(
    f: Filters,
    *,
    time_col: str = "day",
    minute: bool = False,
    counted: bool = True,
    dates: bool = True,
    identity: bool = True,
    prefix: str = "",
) -> _Where:
    w = _Where()
    p = prefix
    if counted:
        w.add(f"{p}counted")
    if dates and f.since is not None:
        w.add(f"{p}{time_col} >= ?", f.since)
    if dates and f.until is not None:
        if minute:  # a timestamptz column: strictly before the next day (UTC)
            w.add(f"{p}{time_col} < ?", f.until + timedelta(days=1))
        else:
            w.add(f"{p}{time_col} <= ?", f.until)
    columns: list[tuple[str, Sequence[str]]] = [
        ("model", f.models),
        ("provider", f.providers),
        ("source", f.sources),
    ]
    if identity:
        columns += [("team", f.teams), ("developer", f.developers)]
    for column, values in columns:
        if values:
            w.add(f"list_contains(?::varchar[], {p}{column})", list(values))
    if identity and f.allowed_teams is not None:
        w.add(f"list_contains(?::varchar[], {p}team)", list(f.allowed_teams))
    return w


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pa.Table:
    return tables.fetch_table(con, sql, params)


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchall()
    return bool(rows[0][0])


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ?", [table]
    ).fetchall()
    return {str(r[0]) for r in rows}


def _sums(prefix: str = "", *, zero_cost: bool = True) -> str:
    """Requests, tokens by type and cost. Per group (``zero_cost=False``) a group whose every
    request is unpriced keeps a NULL cost rather than a silent $0."""
    tokens = ", ".join(f"coalesce(sum({prefix}{c}), 0)::bigint as {c}" for c in TOKEN_COLUMNS)
    cost = f"sum({prefix}cost_usd)"
    if zero_cost:
        cost = f"coalesce({cost}, 0)"
    return (
        f"coalesce(sum({prefix}requests), 0)::bigint as requests, {tokens}, "
        f"{cost}::decimal(38, 12) as cost_usd"
    )


# --------------------------------------------------------------------------- report (CLI)

GROUPS = (
    "developer",
    "team",
    "model",
    "day",
    "provider",
    "source",
    "cost_center",
    "week",
    "month",
)
# Periods: the group's key as text (a week is named by its Monday), ordered by time.
PERIOD_KEYS = {
    "day": "cast(day as varchar)",
    "week": "cast(cast(date_trunc('week', day) as date) as varchar)",
    "month": "strftime(day, '%Y-%m')",
}
FILTERS = ("team", "developer", "model", "provider", "source", "cost_center")
METRICS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cost_usd",
)


def _report_where(
    since: date | None, until: date | None, filters: Mapping[str, Any]
) -> tuple[str, list[Any]]:
    clauses = ["counted"]
    params: list[Any] = []
    if since is not None:
        clauses.append("day >= ?")
        params.append(_as_date(since))
    if until is not None:
        clauses.append("day < ?")  # until is exclusive
        params.append(_as_date(until))
    for name in FILTERS:
        value = filters.get(name)
        if value is None or len(value) == 0:
            continue
        values = [value] if isinstance(value, str) else list(value)
        clauses.append(f"{name} in ({', '.join('?' for _ in values)})")
        params.extend(values)
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValueError(f"unknown report filter {sorted(unknown)[0]!r}; use one of {FILTERS}")
    return " and ".join(clauses), params


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def report(
    con: duckdb.DuckDBPyConnection,
    by: str,
    since: date | None = None,
    until: date | None = None,
    **filters: Any,
) -> pa.Table:
    """Counted usage grouped by ``by`` over days ``[since, until)`` (UTC), from usage_daily.

    One row per group, columns: ``by`` (``day`` as text ``YYYY-MM-DD``, ``week`` as its Monday,
    ``month`` as ``YYYY-MM``; ``developer`` is followed by ``team``), ``requests``,
    ``input_tokens``, ``output_tokens``, ``cache_read_tokens``, ``cache_write_5m_tokens``,
    ``cache_write_1h_tokens``, ``cost_usd`` (decimal with 12 places; NULL when every request of
    the group is unpriced). Filters: team, developer, model, provider, source, cost_center (a
    value or a list). Ordered by day for ``day``, else by cost (highest first) then name.
    """
    if by not in GROUPS:
        raise ValueError(f"cannot group by {by!r}; use one of {', '.join(GROUPS)}")
    where, params = _report_where(since, until, filters)
    key = PERIOD_KEYS.get(by, by)
    order = "1" if by in PERIOD_KEYS else "cost_usd desc nulls last, 1"
    # a developer's team(s) beside the name (a move between teams shows both; more: 'N teams')
    team = (
        "case when count(distinct team) > 2 then count(distinct team) || ' teams' "
        "else string_agg(distinct team, '; ' order by team) end as team,\n               "
        if by == "developer"
        else ""
    )
    return _arrow(
        con,
        f"""
        select {key} as {by},
               {team}cast(sum(requests) as bigint) as requests,
               cast(sum(input_tokens) as bigint) as input_tokens,
               cast(sum(output_tokens) as bigint) as output_tokens,
               cast(sum(cache_read_tokens) as bigint) as cache_read_tokens,
               cast(sum(cache_write_5m_tokens) as bigint) as cache_write_5m_tokens,
               cast(sum(cache_write_1h_tokens) as bigint) as cache_write_1h_tokens,
               cast(sum(cost_usd) as decimal(38, 12)) as cost_usd
        from usage_daily
        where {where}
        group by 1
        order by {order}
        """,
        params,
    )


def totals(
    con: duckdb.DuckDBPyConnection,
    since: date | None = None,
    until: date | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """Totals over the same selection as :func:`report`, plus the unpriced and unattributed
    shares (requests and cost) that every view shows."""
    where, params = _report_where(since, until, filters)
    cur = con.execute(
        f"""
        select cast(coalesce(sum(requests), 0) as bigint) as requests,
               cast(coalesce(sum(input_tokens), 0) as bigint) as input_tokens,
               cast(coalesce(sum(output_tokens), 0) as bigint) as output_tokens,
               cast(coalesce(sum(cache_read_tokens), 0) as bigint) as cache_read_tokens,
               cast(coalesce(sum(cache_write_5m_tokens), 0) as bigint) as cache_write_5m_tokens,
               cast(coalesce(sum(cache_write_1h_tokens), 0) as bigint) as cache_write_1h_tokens,
               cast(coalesce(sum(cost_usd), 0) as decimal(38, 12)) as cost_usd,
               cast(coalesce(sum(unpriced_requests), 0) as bigint) as unpriced_requests,
               cast(coalesce(sum(requests) filter (where developer = 'unattributed'), 0)
                    as bigint) as unattributed_requests,
               cast(coalesce(sum(cost_usd) filter (where developer = 'unattributed'), 0)
                    as decimal(38, 12)) as unattributed_cost_usd,
               cast(coalesce(sum(uncached_cost_usd), 0) as decimal(38, 12))
                    as uncached_cost_usd
        from usage_daily
        where {where}
        """,
        params,
    )
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def money(value: Decimal | None, places: int = 12) -> str | None:
    """A Decimal as a plain decimal string with ``places`` places (never exponent form)."""
    if value is None:
        return None
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


# --------------------------------------------------------------------------- filter choices


@_read("teams")
def filter_options(
    con: duckdb.DuckDBPyConnection, allowed_teams: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The values each filter can take, the teams each developer's usage falls in, and the
    first and last day with data."""
    scope = _where(Filters(allowed_teams=allowed_teams), counted=False)
    out: dict[str, Any] = {}
    for column in ("team", "developer", "model", "provider", "source"):
        rows = con.execute(
            f"select distinct {column} from usage_daily where {scope.sql} and {column} is not null "
            f"order by 1",
            scope.params,
        ).fetchall()
        out[column] = [str(r[0]) for r in rows]
    pairs = con.execute(
        f"select distinct developer, team from usage_daily where {scope.sql} "
        "and developer is not null and team is not null order by 1, 2",
        scope.params,
    ).fetchall()
    teams_of: dict[str, list[str]] = {}
    for developer, team in pairs:
        teams_of.setdefault(str(developer), []).append(str(team))
    out["developer_teams"] = teams_of  # the teams each developer's usage falls in
    ((first, last),) = con.execute(
        f"select min(day), max(day) from usage_daily where {scope.sql}", scope.params
    ).fetchall()
    out["first_day"], out["last_day"] = first, last
    return out


@_read("any")
def managed_teams(con: duckdb.DuckDBPyConnection, viewer: str) -> tuple[str, ...]:
    """Teams whose people the directory puts under ``viewer`` (matched on email or name)."""
    if not _has_table(con, "ref_people"):
        return ()
    rows = con.execute(
        "select distinct team from ref_people where team is not null and manager is not null "
        "and lower(trim(manager)) = lower(trim(?)) order by team",
        [viewer],
    ).fetchall()
    return tuple(str(r[0]) for r in rows)


# --------------------------------------------------------------------------- overview


@_read("filters")
def overview_totals(con: duckdb.DuckDBPyConnection, f: Filters) -> dict[str, Any]:
    """The overview's headline figures (counted events only).

    Cost, requests, tokens by type, unpriced requests and the uncached cost are
    :func:`totals` for the same selection, the numbers `llmledger report` sums to;
    the rest (active developers, errors, the unattributed team's cost) is added here.
    """
    since, until = f.report_range()
    cursor = con.cursor()  # its own result set, finished or not, stays out of our way
    try:
        out: dict[str, Any] = dict(totals(cursor, since, until, **f.report_filters()))
    finally:
        cursor.close()
    w = _where(f)
    rows = con.execute(
        f"""
        select
            coalesce(sum(case when status = 'error' then requests end), 0)::bigint as errors,
            coalesce(sum(case when status = 'throttled' then requests end), 0)::bigint
                as throttled,
            count(distinct case when developer <> '{UNATTRIBUTED}' and requests > 0
                           then developer end) as active_developers,
            coalesce(sum(case when developer <> '{UNATTRIBUTED}' then cost_usd end), 0)
                ::decimal(38, 12) as attributed_cost_usd,
            coalesce(sum(case when team = '{UNATTRIBUTED}' then cost_usd end), 0)
                ::decimal(38, 12) as unattributed_team_cost_usd
        from usage_daily where {w.sql}
        """,
        w.params,
    ).fetchall()
    names = [d[0] for d in con.description or []]
    out.update(zip(names, rows[0], strict=True))
    cost: Decimal = out["cost_usd"]
    prompt = (
        out["input_tokens"]
        + out["cache_read_tokens"]
        + out["cache_write_5m_tokens"]
        + out["cache_write_1h_tokens"]
    )
    out["cache_hit_rate"] = out["cache_read_tokens"] / prompt if prompt else None
    # uncached_cost_usd covers priced requests only, as cost_usd does
    out["cache_saved_usd"] = out["uncached_cost_usd"] - cost
    out["cost_per_active_developer_usd"] = (
        (out["attributed_cost_usd"] / out["active_developers"]).quantize(Decimal("1e-12"))
        if out["active_developers"]
        else None
    )
    # as `llmledger report` counts it: cost with no developer (shared roles, unmapped keys)
    out["unattributed_share"] = float(out["unattributed_cost_usd"] / cost) if cost else None
    return out


@_read("filters")
def daily_cost(con: duckdb.DuckDBPyConnection, f: Filters, by: str) -> pa.Table:
    """Cost per day and team (or model, provider, source, developer): the stacked charts."""
    if by not in {"team", "model", "provider", "source", "developer"}:
        raise ValueError(f"cannot group by {by!r}")
    w = _where(f)
    return _arrow(
        con,
        f"""
        select day, {by}, {_sums()}
        from usage_daily where {w.sql}
        group by day, {by} order by day, {by}
        """,
        w.params,
    )


@_read("filters")
def budget_status(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    """Month-to-date spend per team against its monthly budget, with a month-end forecast.

    The month is the one holding the last selected day (capped at the last day with data); the
    forecast is ``models.budgets.forecast``, the projection the budget alert uses.
    """
    as_of = budgets.dashboard_as_of(con, f.until)
    if as_of is None:
        return pa.table({"team": pa.array([], pa.string())})
    day, moment = as_of
    month_start = day.replace(day=1)
    mtd = replace(f, since=month_start, until=day)
    w = _where(mtd)
    ref_budgets = (
        "select team, monthly_usd from ref_budgets"
        if _has_table(con, "ref_budgets")
        else ("select null::varchar as team, null::decimal(18, 2) as monthly_usd where false")
    )
    scope = _where(
        replace(f, since=None, until=None, developers=(), models=(), providers=(), sources=()),
        counted=False,
        prefix="b.",
    )
    table = _arrow(
        con,
        f"""
        with spend as (
            select team, coalesce(sum(cost_usd), 0)::decimal(38, 12) as mtd_cost_usd
            from usage_daily where {w.sql} group by team
        ),
        budgets as ({ref_budgets}),
        final as (
            select coalesce(s.team, b.team) as team,
                   ?::date as month_start, ?::date as as_of,
                   coalesce(s.mtd_cost_usd, 0)::decimal(38, 12) as mtd_cost_usd,
                   b.monthly_usd::decimal(38, 12) as budget_usd
            from spend s full outer join budgets b using (team)
            where s.team is not null or ({scope.sql})
        )
        select * from final order by mtd_cost_usd desc, team
        """,
        w.params + [month_start, day] + scope.params,
    )
    spend = table.column("mtd_cost_usd").to_pylist()
    budget = table.column("budget_usd").to_pylist()
    forecast = [budgets.forecast(s, moment) for s in spend]
    table = table.append_column(
        "forecast_usd", pa.array(forecast, type=table.schema.field("mtd_cost_usd").type)
    )
    used = [_ratio(s, b) for s, b in zip(spend, budget, strict=True)]
    ahead = [_ratio(x, b) for x, b in zip(forecast, budget, strict=True)]
    table = table.append_column("budget_used", pa.array(used, pa.float64()))
    return table.append_column("forecast_vs_budget", pa.array(ahead, pa.float64()))


def _ratio(value: Decimal, budget: Decimal | None) -> float | None:
    # as DuckDB divides decimals: in double precision
    return float(value) / float(budget) if budget is not None and budget > 0 else None


# --------------------------------------------------------------------------- teams, developers


def _compare(con: duckdb.DuckDBPyConnection, f: Filters, keys: list[str]) -> pa.Table:
    """Totals per key over the period, beside the previous period of the same length."""
    cur = _where(f)
    prev_f = f.previous()
    prev = _where(prev_f) if prev_f is not None else _Where(["false"], [])
    key_list = ", ".join(keys)
    return _arrow(
        con,
        f"""
        with current_period as (
            select {key_list}, {_sums()},
                coalesce(sum(case when status = 'error' then requests end), 0)::bigint as errors,
                coalesce(sum(case when status = 'throttled' then requests end), 0)::bigint
                    as throttled,
                count(distinct developer) as developers
            from usage_daily where {cur.sql} group by {key_list}
        ),
        previous_period as (
            select {key_list}, coalesce(sum(cost_usd), 0)::decimal(38, 12) as previous_cost_usd,
                   coalesce(sum(requests), 0)::bigint as previous_requests
            from usage_daily where {prev.sql} group by {key_list}
        ),
        final as (
            select c.*, p.previous_cost_usd, p.previous_requests,
                   c.cost_usd - coalesce(p.previous_cost_usd, 0) as change_usd,
                   case when p.previous_cost_usd > 0
                        then (c.cost_usd / p.previous_cost_usd - 1)::double end as change_pct
            from current_period c left join previous_period p using ({key_list})
        )
        select * from final order by cost_usd desc, {key_list}
        """,
        cur.params + prev.params,
    )


@_read("filters")
def team_table(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    return _compare(con, f, ["team"])


@_read("filters")
def developer_table(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    return _compare(con, f, ["developer", "team"]).drop_columns(["developers"])


@_read("filters")
def developer_daily(con: duckdb.DuckDBPyConnection, f: Filters, developer: str) -> pa.Table:
    f = replace(f, developers=(developer,))
    return daily_cost(con, f, "model")


@_read("filters")
def developer_models(con: duckdb.DuckDBPyConnection, f: Filters, developer: str) -> pa.Table:
    return model_table(con, replace(f, developers=(developer,)))


# --------------------------------------------------------------------------- models, providers


@_read("filters")
def model_table(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    w = _where(f)
    return _arrow(
        con,
        f"""
        select model, {_sums(zero_cost=False)},
               coalesce(sum(unpriced_requests), 0)::bigint as unpriced_requests
        from usage_daily where {w.sql} group by model order by cost_usd desc nulls last, model
        """,
        w.params,
    )


@_read("filters")
def provider_table(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    """Bedrock vs Vertex vs LiteLLM: per source (where it was read) and provider (who served)."""
    w = _where(f)
    return _arrow(
        con,
        f"""
        select source, provider, {_sums()},
               coalesce(sum(case when status = 'error' then requests end), 0)::bigint as errors,
               coalesce(sum(case when status = 'throttled' then requests end), 0)::bigint
                   as throttled
        from usage_daily where {w.sql}
        group by source, provider order by cost_usd desc, source, provider
        """,
        w.params,
    )


@_read("filters")
def scope_premium(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    """What routing through geographic / regional endpoints cost beyond global prices.

    Per day, model and scope, the cost scaled by the price book's ratio of the global price to
    this scope's (standard input rates, valid that day). The premium is the same ratio on every
    token class and tier (bedrock.md 5.3), so this holds for long-context and batch rows too.
    A model with no global price shows no premium (NULL).
    """
    w = _where(f, prefix="u.")
    return _arrow(
        con,
        f"""
        with usage as (
            select u.day, u.provider, u.model, u.pricing_scope,
                   sum(u.requests) as requests, sum(u.cost_usd) as cost_usd
            from usage_daily u where {w.sql}
            group by all
        ),
        prices as (
            select provider, model, pricing_scope, valid_from, valid_to, input_usd_per_mtok
            from price_book where pricing_tier = 'standard' and not is_batch
        ),
        rated as (
            select u.*,
                   case when u.pricing_scope = 'global' then u.cost_usd
                        when own.input_usd_per_mtok > 0 and g.input_usd_per_mtok is not null
                        then (u.cost_usd * cast(g.input_usd_per_mtok / own.input_usd_per_mtok
                                                as decimal(18, 12)))::decimal(38, 12)
                   end as at_global_price_usd
            from usage u
            left join prices own
              on own.provider = u.provider and own.model = u.model
             and own.pricing_scope = u.pricing_scope
             and u.day >= own.valid_from and (own.valid_to is null or u.day < own.valid_to)
            left join prices g
              on g.provider = u.provider and g.model = u.model and g.pricing_scope = 'global'
             and u.day >= g.valid_from and (g.valid_to is null or u.day < g.valid_to)
        ),
        final as (
            select provider, model, pricing_scope,
                   sum(requests)::bigint as requests,
                   sum(cost_usd)::decimal(38, 12) as cost_usd,
                   sum(at_global_price_usd)::decimal(38, 12) as at_global_price_usd
            from rated group by provider, model, pricing_scope
        )
        select *, (cost_usd - at_global_price_usd)::decimal(38, 12) as premium_usd
        from final order by cost_usd desc nulls last, provider, model, pricing_scope
        """,
        w.params,
    )


@_read("filters")
def litellm_vs_ours(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    """LiteLLM's own spend figure against our price-book cost, per day and model."""
    w = _where(f)
    return _arrow(
        con,
        f"""
        with final as (
            select day, model, coalesce(sum(requests), 0)::bigint as requests,
                   coalesce(sum(reported_cost_usd), 0)::decimal(38, 12) as litellm_spend_usd,
                   coalesce(sum(cost_usd), 0)::decimal(38, 12) as our_cost_usd
            from usage_daily where {w.sql} and source = 'litellm'
            group by day, model
        )
        select *, (litellm_spend_usd - our_cost_usd)::decimal(38, 12) as difference_usd
        from final order by day, model
        """,
        w.params,
    )


@_read("admin")
def gateway_reconciliation(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    """Requests the LiteLLM proxy forwarded: matched in the provider's logs (the provider copy
    not counted), only in LiteLLM, only in the provider's logs (``models.reconcile.summary``,
    as `llmledger report --reconcile` shows it). Date range only; reads usage_events."""
    if not _has_table(con, "gateway_matches"):
        return pa.table({})
    since, until = f.report_range()
    return _events_table(lambda cursor: reconcile.summary(cursor, since, until), con)


@_read("admin")
def litellm_differences(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    """Why LiteLLM's spend differs from our cost, per cause (``models.reconcile.differences``).
    Date range only; reads usage_events."""
    since, until = f.report_range()
    return _events_table(lambda cursor: reconcile.differences(cursor, since, until), con)


def _events_table(fetch: Any, con: duckdb.DuckDBPyConnection) -> pa.Table:
    """A reconciliation table on its own cursor (empty, no columns, without usage_events)."""
    if not _has_table(con, "usage_events"):
        return pa.table({})
    cursor = con.cursor()
    try:
        table: pa.Table = fetch(cursor)
    finally:
        cursor.close()
    return table if table.num_rows else pa.table({})


# --------------------------------------------------------------------------- rate limits
#
# The limits are ``quota_limits`` (the configured quotas plus LiteLLM key and team limits, built
# by the LiteLLM models) when the snapshot has it, else ``ref_quotas``. A configured quota is
# measured on ``usage_minute_quota`` (usage_minute without the people; Bedrock's burndown is in
# ``quota_tokens``); a LiteLLM key or team limit on the LiteLLM rows of ``usage_minute`` for that
# key's developer or that team, counting every token. Quotas are shared by everyone calling the
# model, so only the date range applies (team or developer filters would understate how close
# the account runs to its limits); the peak-minute drivers honour the access scope.

_NO_LIMITS = """
    select null::varchar as source, null::varchar as limit_kind, null::varchar as provider,
           null::varchar as region, null::varchar as model, null::varchar as scope,
           null::bigint as tokens_per_minute, null::bigint as requests_per_minute,
           null::bigint as tokens_per_day, null::varchar as name, null::varchar as developer,
           null::varchar as team, null::varchar as token_basis
    where false
"""


def _limit_source(con: duckdb.DuckDBPyConnection) -> str:
    if _has_table(con, "quota_limits"):
        return """
            select source, limit_kind, provider, region, model, scope,
                   cast(tokens_per_minute as bigint) as tokens_per_minute,
                   cast(requests_per_minute as bigint) as requests_per_minute,
                   cast(tokens_per_day as bigint) as tokens_per_day, name, developer, team,
                   token_basis
            from quota_limits
        """
    if _has_table(con, "ref_quotas"):
        return """
            select null::varchar as source, 'quota' as limit_kind, provider, region, model,
                   scope, cast(tokens_per_minute as bigint) as tokens_per_minute,
                   cast(requests_per_minute as bigint) as requests_per_minute,
                   null::bigint as tokens_per_day, name, null::varchar as developer,
                   null::varchar as team, 'quota_tokens' as token_basis
            from ref_quotas
        """
    return _NO_LIMITS


def _minute_source(con: duckdb.DuckDBPyConnection) -> str:
    if _has_table(con, "usage_minute_quota"):
        return "usage_minute_quota"
    return f"""(
        select minute_at, source, provider, region, model, pricing_scope,
               sum(requests) as requests, sum(throttled_requests) as throttled_requests,
               sum(quota_tokens) as quota_tokens, sum({_TOTAL_TOKENS}) as total_tokens
        from usage_minute group by all
    )"""


_TOTAL_TOKENS = (
    "input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens"
    " + output_tokens"
)
_TOTAL_TOKENS_U = (
    "u.input_tokens + u.cache_read_tokens + u.cache_write_5m_tokens + u.cache_write_1h_tokens"
    " + u.output_tokens"
)


def _limits_cte(con: duckdb.DuckDBPyConnection, f: Filters | None = None) -> tuple[str, list[Any]]:
    """``limit_list``: one row per limit with a unique display name (``quota``), and its
    parameters (they come first: every query starts with this CTE).

    With an access scope (``f.allowed_teams``), only the LiteLLM key and team limits of those
    teams: a shared quota's usage is everybody's traffic, a company-wide figure for admins.
    The team and developer filters narrow LiteLLM's limits (see :func:`_litellm_limit_filter`);
    account quotas stay whole."""
    visible, params = "true", []
    if f is not None and f.allowed_teams is not None:
        visible = "source = 'litellm' and list_contains(?::varchar[], team)"
        params = [list(f.allowed_teams)]
    if f is not None:
        narrow, narrow_params = _litellm_limit_filter(f)
        visible = f"({visible}) and ({narrow})"
        params += narrow_params
    sql = f"""
        limit_source as ({_limit_source(con)}),
        limit_named as (
            select *,
                   coalesce(name, provider || ' ' || model || coalesce(' ' || scope, '')
                                  || coalesce(' ' || region, '')) as base_name
            from limit_source
        ),
        limit_list as (
            select * exclude (base_name),
                   base_name || case when count(*) over (partition by base_name) > 1
                       then ' #' || row_number() over (
                           partition by base_name order by source nulls first, limit_kind,
                           provider, region, model, scope, developer, team)
                       else '' end as quota
            from limit_named
            where tokens_per_minute is not null or requests_per_minute is not null
        ),
        visible_limits as (select * from limit_list where {visible})
    """
    return sql, params


def _litellm_limit_filter(f: Filters) -> tuple[str, list[Any]]:
    """The team and developer filters on the limit list: a LiteLLM key limit is one
    developer's, a team limit one team's, so they narrow to the chosen people (a team limit
    stays when the team is chosen or one of its developers is). Account quotas are shared by
    everyone calling the model, so they stay, whole (the page says so)."""
    if not f.developers and not f.teams:
        return "true", []
    clauses, params = ["source is null"], []
    if f.developers:
        devs = list(f.developers)
        clauses.append("(developer is not null and list_contains(?::varchar[], developer))")
        clauses.append(
            "(developer is null and team in (select distinct team from usage_daily"
            " where list_contains(?::varchar[], developer)))"
        )
        params += [devs, devs]
        if f.teams:  # both: the chosen developers within the chosen teams
            clauses = [
                clauses[0],
                f"(({clauses[1]} or {clauses[2]}) and list_contains(?::varchar[], team))",
            ]
            params.append(list(f.teams))
    else:
        clauses.append("list_contains(?::varchar[], team)")
        params.append(list(f.teams))
    return " or ".join(clauses), params


def _quota_minutes_sql(
    con: duckdb.DuckDBPyConnection, f: Filters, quota: str | None = None
) -> tuple[str, list[Any]]:
    """CTEs ending in ``quota_minutes``: per limit and minute, tokens, requests, throttles and
    utilisation (the larger of tokens/TPM and requests/RPM). ``quota`` restricts to one limit."""
    dates = Filters(since=f.since, until=f.until)
    wq = _where(dates, time_col="u.minute_at", minute=True, counted=False, identity=False)
    wl = _where(dates, time_col="u.minute_at", minute=True, counted=False, identity=False)
    only = "where quota = ?" if quota is not None else ""
    one = [quota] if quota is not None else []
    if not _has_litellm_limits(con):  # then usage_minute itself is never read
        wl = _Where(["false"], [])
    limits, scope = _limits_cte(con, f)
    sql = f"""
        with {limits},
        chosen as (select * from visible_limits {only}),
        config_minutes as (
            select q.quota, u.minute_at as minute,
                   sum(case when q.token_basis = 'total_tokens' then u.total_tokens
                            else u.quota_tokens end)::bigint as tokens,
                   sum(u.requests)::bigint as requests,
                   sum(u.throttled_requests)::bigint as throttled
            from {_minute_source(con)} u
            join chosen q
              on q.source is null and u.provider = q.provider and u.model = q.model
             and (q.region is null or u.region = q.region)
             and (q.scope is null or u.pricing_scope = q.scope)
            where {wq.sql}
            group by q.quota, u.minute_at
        ),
        litellm_rows as (
            select u.* from usage_minute u where u.source = 'litellm' and {wl.sql}
        ),
        litellm_minutes as (
            select q.quota, u.minute_at as minute,
                   sum(case when q.token_basis = 'quota_tokens' then u.quota_tokens
                            else {_TOTAL_TOKENS_U} end)::bigint as tokens,
                   sum(u.requests)::bigint as requests,
                   sum(u.throttled_requests)::bigint as throttled
            from litellm_rows u
            join chosen q
              on q.source = 'litellm' and q.developer = u.developer
             and (q.model is null or u.model = q.model)
            group by q.quota, u.minute_at
            union all
            select q.quota, u.minute_at as minute,
                   sum(case when q.token_basis = 'quota_tokens' then u.quota_tokens
                            else {_TOTAL_TOKENS_U} end)::bigint as tokens,
                   sum(u.requests)::bigint as requests,
                   sum(u.throttled_requests)::bigint as throttled
            from litellm_rows u
            join chosen q
              on q.source = 'litellm' and q.developer is null and q.team = u.team
             and (q.model is null or u.model = q.model)
            group by q.quota, u.minute_at
        ),
        per_minute as (
            select m.*, q.tokens_per_minute, q.requests_per_minute
            from (select * from config_minutes union all select * from litellm_minutes) m
            join chosen q using (quota)
        ),
        quota_minutes as (
            select *,
                   greatest(coalesce(tokens / nullif(tokens_per_minute, 0), 0),
                            coalesce(requests / nullif(requests_per_minute, 0), 0))
                       as utilisation
            from per_minute
        )
    """
    return sql, scope + one + wq.params + wl.params


def _has_litellm_limits(con: duckdb.DuckDBPyConnection) -> bool:
    if not _has_table(con, "quota_limits"):
        return False
    rows = con.execute(
        "select count(*) from quota_limits where source = 'litellm' "
        "and (tokens_per_minute is not null or requests_per_minute is not null)"
    ).fetchall()
    return bool(rows[0][0])


@_read("admin")
def quotas(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every limit (configured quotas, LiteLLM key and team limits) with its display name."""
    limits, _ = _limits_cte(con)
    return _arrow(
        con,
        f"""
        with {limits}
        select quota, limit_kind, provider, region, model, scope, developer, team,
               tokens_per_minute, requests_per_minute, tokens_per_day
        from limit_list order by quota
        """,
    )


# account quotas first: what the company's traffic runs into, then LiteLLM's own limits
_LIMIT_KIND_ORDER = """case coalesce(limit_kind, 'quota') when 'quota' then 0
    when 'litellm_team' then 1 when 'litellm_team_model' then 2 when 'litellm_key' then 3
    else 4 end"""


@_read("filters")
def quota_summary(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    """Per limit: peak tokens and requests per minute and the minutes they happened, peak
    utilisation, minutes >= 80% and > 100%, throttled requests (all, and in the minutes above
    100%) and the busiest minute. The account's (provider) quotas come first, then LiteLLM's
    team limits, then its key limits; within each, the highest peak first."""
    sql, params = _quota_minutes_sql(con, f)
    return _arrow(
        con,
        f"""
        {sql},
        agg as (
            select quota, max(tokens) as peak_tokens_per_minute,
                   max(requests) as peak_requests_per_minute,
                   max(utilisation) as peak_utilisation,
                   count(*) filter (where utilisation >= {NEAR_LIMIT}) as minutes_above_80pct,
                   count(*) filter (where utilisation > 1) as minutes_above_100pct,
                   coalesce(sum(throttled), 0)::bigint as throttled_requests,
                   coalesce(sum(throttled) filter (where utilisation > 1), 0)::bigint
                       as throttled_above_100pct,
                   first(minute order by utilisation desc, minute) as peak_minute,
                   first(minute order by tokens desc, minute) as peak_tokens_minute,
                   first(minute order by requests desc, minute) as peak_requests_minute
            from quota_minutes group by quota
        ),
        final as (
            select q.quota, coalesce(q.limit_kind, 'quota') as limit_kind, q.provider,
                   q.region, q.model, q.scope, q.developer, q.team,
                   q.tokens_per_minute, q.requests_per_minute,
                   coalesce(a.peak_tokens_per_minute, 0) as peak_tokens_per_minute,
                   coalesce(a.peak_requests_per_minute, 0) as peak_requests_per_minute,
                   coalesce(a.peak_utilisation, 0) as peak_utilisation,
                   coalesce(a.minutes_above_80pct, 0) as minutes_above_80pct,
                   coalesce(a.minutes_above_100pct, 0) as minutes_above_100pct,
                   coalesce(a.throttled_requests, 0) as throttled_requests,
                   coalesce(a.throttled_above_100pct, 0) as throttled_above_100pct,
                   a.peak_minute, a.peak_tokens_minute, a.peak_requests_minute
            from chosen q left join agg a using (quota)
        )
        select * from final
        order by {_LIMIT_KIND_ORDER}, peak_utilisation desc, quota
        """,
        params,
    )


@_read("filters")
def quota_timeline(con: duckdb.DuckDBPyConnection, f: Filters, quota: str) -> pa.Table:
    """Per hour: the busiest minute's tokens, requests and utilisation, the minutes above 100%
    of the limit, and the throttles."""
    sql, params = _quota_minutes_sql(con, f, quota)
    return _arrow(
        con,
        f"""
        {sql}
        select date_trunc('hour', minute) as hour,
               max(tokens) as peak_tokens_per_minute,
               max(requests) as peak_requests_per_minute,
               max(utilisation) as peak_utilisation,
               count(*) filter (where utilisation > 1) as minutes_above_100pct,
               sum(throttled)::bigint as throttled_requests
        from quota_minutes group by hour order by hour
        """,
        params,
    )


@_read("filters")
def quota_heatmap(con: duckdb.DuckDBPyConnection, f: Filters, quota: str) -> pa.Table:
    """Peak utilisation per day and hour of day (UTC), with the minutes above 100% of the
    limit and the throttled requests in that hour."""
    sql, params = _quota_minutes_sql(con, f, quota)
    return _arrow(
        con,
        f"""
        {sql}
        select minute::date as day, hour(minute) as hour_of_day,
               max(utilisation) as peak_utilisation,
               count(*) filter (where utilisation > 1) as minutes_above_100pct,
               sum(throttled)::bigint as throttled_requests
        from quota_minutes group by day, hour_of_day order by day, hour_of_day
        """,
        params,
    )


@_read("filters")
def peak_minutes(
    con: duckdb.DuckDBPyConnection, f: Filters, quota: str, top_minutes: int = 20
) -> list[Any]:
    """The limit's ``top_minutes`` busiest minutes (highest utilisation, earliest first)."""
    sql, params = _quota_minutes_sql(con, f, quota)
    rows = con.execute(
        f"{sql} select minute from quota_minutes order by utilisation desc, minute limit ?",
        params + [top_minutes],
    ).fetchall()
    return [r[0] for r in rows]


@_read("filters")
def peak_drivers(
    con: duckdb.DuckDBPyConnection, f: Filters, quota: str, top_minutes: int = 20
) -> pa.Table:
    """Who used the limit in its ``top_minutes`` busiest minutes, and how much of it.

    Two steps, so the scan of usage_minute filters on a short list of constant minutes (read
    column by column) rather than joining it whole.
    """
    minutes = peak_minutes(con, f, quota, top_minutes)
    if not minutes:
        minutes = [None]  # no traffic: an empty answer with the usual columns
    scope = _where(f, counted=False, dates=False, prefix="u.")
    in_list = ", ".join("?" for _ in minutes)
    config_join = """
        q.source is null and u.provider = q.provider and u.model = q.model
        and (q.region is null or u.region = q.region)
        and (q.scope is null or u.pricing_scope = q.scope)"""
    limits, limit_params = _limits_cte(con, f)
    return _arrow(
        con,
        f"""
        with {limits},
        chosen as (select * from visible_limits where quota = ?),
        peak_rows as materialized (
            select minute_at, source, provider, region, model, pricing_scope, developer, team,
                   requests, throttled_requests, quota_tokens, {_TOTAL_TOKENS} as total_tokens
            from usage_minute where minute_at in ({in_list})
        ),
        matched as (
            select u.*, q.token_basis from peak_rows u join chosen q on {config_join}
            union all
            select u.*, q.token_basis from peak_rows u join chosen q
              on q.source = 'litellm' and u.source = 'litellm' and q.developer = u.developer
             and (q.model is null or u.model = q.model)
            union all
            select u.*, q.token_basis from peak_rows u join chosen q
              on q.source = 'litellm' and u.source = 'litellm' and q.developer is null
             and q.team = u.team and (q.model is null or u.model = q.model)
        ),
        final as (
            select u.developer, u.team,
                   count(distinct u.minute_at) as peak_minutes,
                   sum(case when u.token_basis = 'total_tokens' then u.total_tokens
                            else u.quota_tokens end)::bigint as tokens,
                   sum(u.requests)::bigint as requests,
                   sum(u.throttled_requests)::bigint as throttled
            from matched u where {scope.sql}
            group by u.developer, u.team
        )
        select *, tokens / nullif(sum(tokens) over (), 0) as share
        from final order by tokens desc, developer
        """,
        limit_params + [quota, *minutes] + scope.params,
    )


# --------------------------------------------------------------------------- data health


def _event_source_of(run_source: str) -> str:
    """SQL: the events' ``source`` an ingest source's records carry (its family: bedrock for
    bedrock-s3; the otel sources stage Claude Code's telemetry as ``claude_code``)."""
    family = f"split_part({run_source}, '-', 1)"
    return f"case {family} when 'otel' then 'claude_code' else {family} end"


@_read("admin")
def source_health(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per ingest source (bedrock-s3, vertex-files, ...): the newest record of its source family
    (to the minute, from the rate-limit rollup), the last successful ingest, and the last run's
    status and message. A family with records but no run in the log is listed too."""
    minutes = "usage_minute_quota" if _has_table(con, "usage_minute_quota") else "usage_minute"
    runs = (
        f"""
        select source, {_event_source_of("source")} as family,
               max(finished_at) filter (where status = 'ok') as last_success_at,
               max(started_at) as last_run_at,
               arg_max(status, started_at) as last_status,
               arg_max({redact_sql("message")}, started_at) as last_message,
               count(*) filter (where status <> 'ok') as failed_runs
        from ingest_runs group by source
        """
        if _has_table(con, "ingest_runs")
        else """
        select null::varchar as source, null::varchar as family,
               null::timestamptz as last_success_at, null::timestamptz as last_run_at,
               null::varchar as last_status, null::varchar as last_message,
               0::bigint as failed_runs where false
        """
    )
    return _arrow(
        con,
        f"""
        with newest as (
            select source as family, max(minute_at) as newest_record_minute,
                   sum(requests)::bigint as requests
            from {minutes} group by source
        ),
        runs as ({runs}),
        final as (
            select coalesce(r.source, n.family) as source, n.newest_record_minute,
                   r.last_success_at, r.last_run_at, r.last_status, r.last_message,
                   coalesce(r.failed_runs, 0) as failed_runs, n.requests
            from runs r full outer join newest n on n.family = r.family
        )
        select * from final order by source
        """,
    )


@_read("admin")
def identity_gaps(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Identities the directory does not know (from identity_map; no event scan): named
    callers missing from it, callers with no personal identity, and named service identities
    (IAM users that are not people)."""
    if not _has_table(con, "identity_map"):
        return pa.table({})
    return _arrow(
        con,
        """
        select identity_status, source, principal, person_hint, team_hint, developer, team
        from identity_map
        where identity_status in ('named_not_in_directory', 'unattributed', 'service')
        order by identity_status, source, principal
        """,
    )


@_read("admin")
def rejected_by_reason(con: duckdb.DuckDBPyConnection) -> pa.Table:
    if not _has_table(con, "rejected_records"):
        return pa.table({"source": pa.array([], pa.string())})
    return _arrow(
        con,
        """
        select source, reason, count(*) as records, min(location) as example_location,
               max(first_seen_at) as last_seen_at
        from rejected_records group by source, reason order by records desc, source, reason
        """,
    )


@_read("admin")
def quarantined_rows(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Raw rows staging leaves out (absurd token counts or times), per source family."""
    if not _has_table(con, "quarantined_rows"):
        return pa.table({"source": pa.array([], pa.string())})
    return _arrow(
        con,
        """
        select source, count(*) as records, min(record_key) as example_record,
               min(location) as example_location
        from quarantined_rows group by source order by records desc, source
        """,
    )


@_read("admin")
def vertex_attribution(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """How Vertex responses were attributed (``models.vertex_health``, as `llmledger doctor`)."""
    cursor = con.cursor()
    try:
        table = vertex_health.attribution_summary(cursor)
    finally:
        cursor.close()
    return table if table.num_rows else pa.table({})


SESSION_COLUMNS = (
    "session_id",
    "day",
    "developer",
    "team",
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "reported_cost_usd",
    "active_seconds",
)


@_read("filters")
def claude_code_sessions(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    """Claude Code sessions (marts/claude_code_sessions.sql) that started in the date range, for
    the team and developer filters: requests, errors, tokens, cost (the provider's, where the
    telemetry matched a record), the client's estimate and active time. Newest first. Empty
    (no columns) without telemetry."""
    if not _has_table(con, "claude_code_sessions"):
        return pa.table({})
    w = _where(replace(f, models=(), providers=(), sources=()), counted=False)
    return _arrow(
        con,
        f"select {', '.join(SESSION_COLUMNS)} from claude_code_sessions where {w.sql} "
        "order by day desc, cost_usd desc nulls last, session_id",
        w.params,
    )


@_read("admin")
def claude_code_attribution(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """How Claude Code telemetry matched provider records (``models.claude_code_health``)."""
    cursor = con.cursor()
    try:
        table = claude_code_health.attribution_summary(cursor)
    finally:
        cursor.close()
    return table if table.num_rows else pa.table({})


@_read("filters")
def unpriced_models(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    w = _where(f, counted=False)
    return _arrow(
        con,
        f"""
        select provider, model, pricing_scope,
               sum(unpriced_requests)::bigint as unpriced_requests,
               min(day) as first_day, max(day) as last_day
        from usage_daily where {w.sql} and unpriced_requests > 0
        group by provider, model, pricing_scope order by unpriced_requests desc, model
        """,
        w.params,
    )


@_read("admin")
def unmapped_identities(con: duckdb.DuckDBPyConnection, f: Filters) -> pa.Table:
    """Identities with no team in the directory (a drill-down: reads usage_events)."""
    w = _where(f, time_col="occurred_at", minute=True, counted=True, identity=False)
    return _arrow(
        con,
        f"""
        select source, principal, developer, team, identity_status,
               count(*) as requests,
               coalesce(sum(cost_usd), 0)::decimal(38, 12) as cost_usd,
               max(occurred_at) as last_seen_at
        from usage_events
        where {w.sql} and identity_status in ('named_not_in_directory', 'unattributed', 'service')
        group by all order by cost_usd desc, requests desc, principal
        """,
        w.params,
    )


# --------------------------------------------------------------------------- doctor, prices check
#
# Whole-database lists for `llmledger doctor` and `llmledger prices check` (no filters; they read
# usage_events, the bookkeeping tables and every source, counted or not).


@_read("admin")
def unpriced_model_ids(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Models seen without a price (all events), with request counts and the ids logged."""
    return _arrow(
        con,
        """
        select provider, model, pricing_scope, count(*) as requests,
               string_agg(distinct model_id, ', ' order by model_id) as model_ids,
               min(occurred_at) as first_seen_at, max(occurred_at) as last_seen_at
        from usage_events
        where unpriced
        group by provider, model, pricing_scope
        order by requests desc, provider, model, pricing_scope
        """,
    )


@_read("admin")
def unattributed_principals(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Principals resolved to developer 'unattributed', with request counts and cost."""
    return _arrow(
        con,
        """
        select source, principal, team, count(*) as requests,
               cast(sum(cost_usd) as decimal(38, 12)) as cost_usd
        from usage_events
        where developer = 'unattributed'
        group by source, principal, team
        order by requests desc, source, principal
        """,
    )


@_read("admin")
def rejected_by_source(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Rejected records per source and reason, by source."""
    return _arrow(
        con,
        """
        select source, reason, count(*) as records, max(first_seen_at) as last_seen_at
        from rejected_records
        group by source, reason
        order by source, records desc, reason
        """,
    )


@_read("admin")
def source_runs(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per ingest source: last run, last successful run, its status/message, and the newest
    record of the source (or of its family: bedrock for bedrock-s3) in usage_events."""
    return _arrow(
        con,
        f"""
        with runs as (
            select source,
                   max(finished_at) filter (where status = 'ok') as last_success_at,
                   arg_max(status, run_id) as last_status,
                   arg_max({redact_sql("message")}, run_id) as last_message,
                   max(started_at) as last_run_at,
                   count(*) filter (where status <> 'ok') as failed_runs
            from ingest_runs
            group by source
        ),
        newest as (
            select source, max(occurred_at) as newest_record_at from usage_events group by 1
        )
        select r.*, coalesce(own.newest_record_at, family.newest_record_at) as newest_record_at
        from runs as r
        left join newest as own on own.source = r.source
        left join newest as family on family.source = {_event_source_of("r.source")}
        order by r.source
        """,
    )


@_read("admin")
def bill_check(
    con: duckdb.DuckDBPyConnection, month: str | None = None, by: str = "day"
) -> pa.Table:
    """The estimate against the bill for ``month`` (YYYY-MM; default the latest bill month) per
    day, model, account or principal (``models/bills.py``): company-wide, bills have no team.
    Empty where no bill is loaded."""
    month = month or _latest_bill_month(con)
    if month is None:
        return pa.table({by: pa.array([], pa.string())})
    return bills.check(con, month, by)


def _latest_bill_month(con: duckdb.DuckDBPyConnection) -> str | None:
    if not _has_table(con, "bill_check"):
        return None
    row = con.execute("select strftime(max(day), '%Y-%m') from bill_check").fetchone()
    return str(row[0]) if row and row[0] else None


@_read("admin")
def bill_months(con: duckdb.DuckDBPyConnection, tolerance_pct: Decimal = Decimal(2)) -> pa.Table:
    """Per bill month and provider: our cost, billed cost, the difference and whether it
    passes ``tolerance_pct``."""
    if not _has_table(con, "bill_check"):
        return pa.table({"month": pa.array([], pa.string())})
    return bills.failed_months(con, tolerance_pct)


@_read("admin")
def bill_differences(
    con: duckdb.DuckDBPyConnection, month: str | None = None, limit: int = 20
) -> pa.Table:
    """The month's largest differences between our estimate and the bill, with reasons
    (default the latest bill month; empty where no bill is loaded)."""
    month = month or _latest_bill_month(con)
    if month is None:
        return pa.table({"day": pa.array([], pa.date32())})
    return bills.differences(con, month, limit)


GATEWAY_COLUMNS = (
    "gateway",
    "day",
    "requests",
    "errors",
    "throttled",
    "partial_requests",
    "cost_usd",
    "partial_cost_usd",
    "p50_overhead_ms",
    "p95_overhead_ms",
)


@_read("admin")
def gateway_report(
    con: duckdb.DuckDBPyConnection, since: date | None = None, until: date | None = None
) -> pa.Table:
    """Per gateway and UTC day: requests, errors, counted cost (and its partial share), and the
    p50/p95 of the gateway's own latency (``gateway_daily``)."""
    if not _has_table(con, "gateway_daily"):
        return pa.table({c: pa.array([], pa.string()) for c in GATEWAY_COLUMNS})
    clauses, params = ["true"], []
    if since is not None:
        clauses.append("day >= ?")
        params.append(since)
    if until is not None:
        clauses.append("day < ?")
        params.append(until)
    return _arrow(
        con,
        f"select {', '.join(GATEWAY_COLUMNS)} from gateway_daily "
        f"where {' and '.join(clauses)} order by gateway, day",
        params,
    )


@_read("admin")
def gateway_health(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per gateway, over every day read: requests, errors, throttles, the most frequent error,
    counted cost and the part of it priced from partial token counts (doctor, data health)."""
    if not _has_table(con, "gateway_daily"):
        return pa.table({"gateway": pa.array([], pa.string())})
    return _arrow(
        con,
        """
        select gateway, sum(requests) as requests, sum(errors) as errors,
               sum(throttled) as throttled,
               mode(top_error_code) as top_error_code,
               cast(sum(cost_usd) as decimal(38, 12)) as cost_usd,
               cast(sum(partial_cost_usd) as decimal(38, 12)) as partial_cost_usd
        from gateway_daily
        group by gateway
        order by gateway
        """,
    )


# --------------------------------------------------------------------------- freshness


@_read("teams")
def data_freshness(
    con: duckdb.DuckDBPyConnection, allowed_teams: tuple[str, ...] | None = None
) -> datetime | None:
    """The newest record's time (UTC) among the teams the reader may see: ``max(occurred_at)``
    of usage_events, else the newest successful ingest run's end; None with no data."""
    if _has_table(con, "usage_events"):
        scope = _where(Filters(allowed_teams=allowed_teams), counted=False, dates=False)
        ((newest,),) = con.execute(
            f"select max(occurred_at) from usage_events where {scope.sql}", scope.params
        ).fetchall()
        if newest is not None or allowed_teams is not None:
            return _naive_utc(newest)
    if allowed_teams is None and _has_table(con, "ingest_runs"):
        names = _columns(con, "ingest_runs")
        column = next((c for c in ("finished_at", "ended_at", "started_at") if c in names), None)
        if column is not None:
            ((newest,),) = con.execute(f"select max({column}) from ingest_runs").fetchall()
            return _naive_utc(newest)
    return None


def _naive_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value if isinstance(value, datetime) else None
