"""The incremental build: the same model files, run for the days that changed only.

``models.runner.build`` calls :func:`build_days` when nothing every day depends on changed
(``models.incremental.plan``). For the marked days S:

1. the day-partitioned raw tables (``incremental.DAY_COLUMNS``) are read for the days S, and
   those of a cross-day join (``CONTEXT_TABLES``) for the context days C = S widened by the
   join (the Vertex audit <-> response window, one day at least) plus every day holding a copy
   of a group a context day holds (the same Vertex response logged twice); the staging and
   intermediate models run over them as temp views (``_inc_<name>``, the SQL with its table
   names substituted), and the union's rows for S replace those days of ``stg_events``
   (delete + insert, in the build's transaction);
2. ``identity_map`` (one row per identity key, each resolved on its own): the keys of the
   rebuilt days are resolved again and merged in; keys no event carries any more are dropped;
3. ``gateway_matches`` (a gateway's record and a provider's copy of the same request) is
   rebuilt for the provider records a change can reach (``_regateway``), and
   ``claude_code_attribution`` (a Claude Code event and the provider record of the request)
   for the events a change can reach (``_reattribute``); the days of every event whose match
   changed join the days to rebuild (U = S plus those);
4. the day-partitioned marts (``DAY_MARTS``) run over the events of U (and the provider copies
   their gateway records matched on other days, whose exact counts price them) and replace
   U's rows;
5. ``claude_code_sessions`` is rebuilt for the sessions U and new metric points touch
   (``_resession``); every other mart is rebuilt in full, as a full build would, when a day
   changed, or a raw table only such marts read (``runner.side_tables``: the bills), or when
   its table is missing, unless it is empty and so is what its rows come from (``DRIVERS``: no
   telemetry, gateway, Vertex or bill rows); with nothing new it stays: its inputs are as
   they were, since a reference or model change makes a full build. The telemetry marts read
   only the provider records on the days (or with the request ids) their telemetry can match.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, timedelta
from types import ModuleType
from typing import Any

import duckdb

from models import incremental

# Marts whose rows each belong to one UTC day (the expression), computed only from the rows of
# that day of the models they read (int_events and the marts above) and lookups (identity_map,
# price_book, gateway_matches).
DAY_MARTS = {
    "usage_events": "occurred_at",
    "usage_minute": "minute_at",
    "usage_daily": "day",  # a date; the others are timestamptz
    "usage_minute_quota": "minute_at",
    # a gateway's own records per day (its records of the day and their provider copies)
    "gateway_daily": "day",
}
# Tables a publish replaces day by day (models.snapshot): the day marts, and the Claude Code
# matches, whose rows that change are all on the days a build rebuilt (``_reattribute``).
PUBLISH_DAY_COLUMNS = {
    **DAY_MARTS,
    "claude_code_attribution": "occurred_at",
    "gateway_matches": "occurred_at",
}
KEYED_MARTS = {"identity_map": ("source", "principal", "person_hint", "team_hint")}
# Marts matching events across days (rebuilt for the rows a change can reach; whole where the
# table is missing): a row that appeared, went or changed adds the days of the events it names
# (these columns) to the days whose marts are rebuilt.
MATCH_MARTS = {
    "gateway_matches": ("event_id", "gateway_event_id"),
    "claude_code_attribution": ("telemetry_event_id", "provider_event_id"),
}
# One row per provider record under a gateway identity (its time occurred_at) matched to the
# gateway's record of the request, within a time window or by request id: rebuilt for the
# provider records near the days that changed (``_regateway``), not for all history.
GATEWAY = "gateway_matches"
# The events gateway_matches reads: the gateways' records and the providers' records under a
# gateway identity (their copies).
GATEWAY_SIDES = "(e.gateway_name is not null or e.gateway_role)"
# Two records pair up by request id only within a day of each other (a gateway record and a
# provider copy, marts/gateway_matches.sql; a Claude Code event and a provider record,
# marts/claude_code_attribution.sql).
ID_SECONDS = 86_400.0
# One row per Claude Code request event (its time occurred_at), matched to the provider record
# of the request within a time window or by request id: rebuilt for the events near the days
# that changed (``_reattribute``), not for all history.
ATTRIBUTION = "claude_code_attribution"
# One row per Claude Code session: rebuilt for the sessions the changed days (and the days of
# new metric points) touch (``_resession``).
SESSIONS = "claude_code_sessions"
# Whole-history marts whose every row comes from a row of their driver (the SQL: any row of it):
# with the driver empty and the mart empty, a rebuild gives nothing again, so it is skipped: a
# deployment without telemetry, gateways, Vertex or bills pays no scan of all history for them.
DRIVERS = {
    "gateway_matches": "select 1 from stg_events where gateway_name is not null",
    "gateway_daily": "select 1 from stg_events where gateway_name is not null",
    "claude_code_attribution": "select 1 from stg_claude_code",
    "claude_code_sessions": "select 1 from stg_claude_code",
    "vertex_attribution": "select 1 from int_vertex_responses union all "
    "select 1 from int_vertex_audit_successes",
    "bill_check": "select 1 from int_bill_lines",
}
EVENTS_DAY = incremental.day_of("occurred_at")
# Raw tables whose staging joins rows across midnight (a Vertex audit entry and its response):
# rebuilding a day reads them over the context days; every other day table reads its own days.
CONTEXT_TABLES = {"raw_vertex_usage", "raw_vertex_audit"}


def in_days(column: str, table: str, days: set[date]) -> str:
    """A filter for the rows of ``column`` (a UTC timestamptz, or the date ``day``) on the days
    listed in the temp table ``table``; the range lets DuckDB skip row groups outside it."""
    low, high = min(days), max(days) + timedelta(days=1)
    if column == "day":
        return (
            f"day >= date '{low.isoformat()}' and day < date '{high.isoformat()}' "
            f"and day in (select day from {table})"
        )
    return (
        f"{column} >= timestamptz '{low.isoformat()} 00:00:00+00' "
        f"and {column} < timestamptz '{high.isoformat()} 00:00:00+00' "
        f"and {incremental.day_of(column)} in (select day from {table})"
    )


def build_days(
    con: duckdb.DuckDBPyConnection,
    result: Any,
    days: set[date],
    rn: ModuleType,
    *,
    refresh: bool = False,
    side_days: set[date] | None = None,
) -> None:
    """``rn`` is models.runner (passed in: it imports this module); ``refresh``: a raw table
    only the whole-history marts read changed (``runner.side_tables``); ``side_days``: the
    days of the new or changed rows of such a table partitioned by day (Claude Code's metric
    points: ``incremental.SIDE_DAY_COLUMNS``)."""
    drop_scratch(con, rn)
    try:
        _build_days(con, result, days, rn, refresh, side_days or set())
    finally:
        drop_scratch(con, rn)


def drop_scratch(con: duckdb.DuckDBPyConnection, rn: ModuleType) -> None:
    """Drop the temp tables and views of an incremental build (and int_events) on ``con``."""
    for name in _temps(con, "_inc_%") + [rn.EVENTS]:
        _drop_temp(con, name)


def _build_days(
    con: duckdb.DuckDBPyConnection,
    result: Any,
    days: set[date],
    rn: ModuleType,
    refresh: bool,
    side_days: set[date],
) -> None:
    staging, intermediate = _models(con, result, rn)
    changed = bool(days) or refresh
    match = _match_reach(con) if "raw_claude_code" in rn._tables(con) else (120.0, False)
    if days:
        _stage_days(con, staging, intermediate, days, rn, by_id=match[1])
    _drop_temp(con, rn.EVENTS)
    con.execute(f"create temp view {rn.EVENTS} as select * from stg_events")
    rebuild = set(days)
    built = set(result.staging) | set(result.intermediate) | {rn.EVENTS}
    listed = set(rn.MART_ORDER)
    extra = sorted(p.stem for p in rn.MARTS_DIR.glob("*.sql") if p.stem not in listed)
    for name in rn.MART_ORDER + extra:
        path = rn.MARTS_DIR / f"{name}.sql"
        sql = path.read_text(encoding="utf-8") if path.is_file() else ""
        missing = rn._missing(sql, rn._tables(con), built)
        if missing and name not in rn.OPTIONAL_MARTS and name not in listed:
            result.warnings.append(f"mart {name} skipped: missing {', '.join(missing)}")
            continue
        result.marts.append(name)
        if not (path.is_file() and not missing):
            # an optional mart without a file: created empty by the full build, stays empty
            con.execute(f"create table if not exists {name} ({rn.OPTIONAL_MARTS[name]})")
            continue
        if changed and _undriven(con, name):
            continue  # empty, and so is what its rows come from
        if name in KEYED_MARTS:
            if days:
                _merge_keys(con, name, sql, KEYED_MARTS[name], rn.EVENTS)
        elif name == GATEWAY and _exists(con, name):
            if days:
                rebuild |= _regateway(con, name, sql, rebuild, rn)
        elif name == ATTRIBUTION and _exists(con, name):
            if days:
                rebuild |= _reattribute(con, name, sql, rebuild, rn, match)
        elif name in MATCH_MARTS:
            if days:
                rebuild |= _rematch(con, name, sql, MATCH_MARTS[name])
        elif name == SESSIONS and _exists(con, name) and not refresh:
            if days or side_days:
                _resession(con, name, sql, rebuild, side_days, rn, match)
        elif name in DAY_MARTS:
            if rebuild:
                _replace_days(con, name, sql, rebuild, rn, match)
        elif changed or name not in rn._tables(con):
            # nothing new: every input of a whole-history mart is as it was (a reference or
            # model change is a full build), so it stays
            con.execute(f"create or replace table {name} as {sql}")
    result.days = sorted(rebuild)


def _models(
    con: duckdb.DuckDBPyConnection, result: Any, rn: ModuleType
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The staging and intermediate models a full build would build now (their SQL), named in
    ``result`` as a full build names them."""
    tables = rn._tables(con)
    staging: list[tuple[str, str]] = []
    for path in sorted(rn.STAGING_DIR.glob("stg_*.sql")):
        sql = path.read_text(encoding="utf-8")
        missing = rn._missing(sql, tables, set())
        if missing:
            result.skipped_staging[path.stem] = f"missing {', '.join(missing)}"
            continue
        staging.append((path.stem, sql))
    result.staging = [n for n, _ in staging]
    listed = [n for n in rn.INTERMEDIATE_ORDER if (rn.INTERMEDIATE_DIR / f"{n}.sql").is_file()]
    extra = sorted(p.stem for p in rn.INTERMEDIATE_DIR.glob("int_*.sql") if p.stem not in listed)
    intermediate: list[tuple[str, str]] = []
    done = set(result.staging)
    for name in listed + extra:
        sql = (rn.INTERMEDIATE_DIR / f"{name}.sql").read_text(encoding="utf-8")
        if rn._missing(sql, tables, done):
            continue
        intermediate.append((name, sql))
        done.add(name)
    result.intermediate = [n for n, _ in intermediate]
    return staging, intermediate


def _stage_days(
    con: duckdb.DuckDBPyConnection,
    staging: list[tuple[str, str]],
    intermediate: list[tuple[str, str]],
    days: set[date],
    rn: ModuleType,
    *,
    by_id: bool = False,
) -> None:
    """Replace the rows of ``days`` in stg_events with the models run over their context."""
    context = _context(con, days, rn)
    _day_table(con, "_inc_days", days)
    _day_table(con, "_inc_context", context)
    names: dict[str, str] = {}
    for table in sorted(set(incremental.DAY_COLUMNS) & rn._tables(con)):
        column = incremental.DAY_COLUMNS[table]
        names[table] = f"_inc_{table}"
        # only the tables of a cross-day join read the context; the others their own days (a
        # new day beside a busy one does not read the busy one)
        within, listed = (
            ("_inc_context", context) if table in CONTEXT_TABLES else ("_inc_days", days)
        )
        con.execute(
            f"create or replace temp view _inc_{table} as select * from {table} "
            f"where {in_days(column, within, listed)}"
        )
    for name, sql in staging + intermediate:
        names[name] = f"_inc_{name}"
        con.execute(f"create or replace temp view _inc_{name} as {_rename(sql, names)}")
    members = [
        names[m] for m in rn.event_members([n for n, _ in staging], [n for n, _ in intermediate])
    ]
    union = "\nunion all\n".join(f"select {rn.event_columns(con, m)} from {m}" for m in members)
    if not union:
        union = "select * from stg_events where false"
    con.execute(
        f"create or replace temp table _inc_events as select * from ({union}) as u "
        f"where {in_days('occurred_at', '_inc_days', days)}"
    )
    keys = ", ".join(KEYED_MARTS["identity_map"])
    con.execute(
        f"create or replace temp table _inc_old_keys as select distinct {keys} from stg_events "
        f"where {in_days('occurred_at', '_inc_days', days)}"
    )
    # the request ids the rebuilt days held that can link a Claude Code event to a provider
    # record across days (``_reattribute``): the telemetry's, and, where telemetry carries
    # request ids (``by_id``), the providers' too; only on the days at the edge of the rebuilt
    # ones (a record pairs within a day: an inner day's partners are all rebuilt)
    edges = _edges(days)
    _day_table(con, "_inc_edge_days", edges)
    rebuilt = in_days("occurred_at", "_inc_edge_days", edges)
    provider_ids = "or (request_id is not null or provider_request_id is not null)" if by_id else ""
    con.execute(
        "create or replace temp table _inc_old_ids as select event_id, source, request_id, "
        f"provider_request_id, occurred_at from stg_events where {rebuilt} "
        f"and ((source = 'claude_code' and request_id is not null) {provider_ids})"
    )
    # the gateway records and provider copies of the rebuilt days that appeared, went or
    # changed: their partners' rows (priced from, or timed against, them) are rebuilt too
    # (those of the edge days: an inner day's partners are rebuilt anyway)
    sides = f"{rebuilt} and {GATEWAY_SIDES}"
    con.execute(
        "create or replace temp table _inc_changed_gateway_ids as select event_id from ("
        f"(select * from stg_events e where {sides} except select * from _inc_events e "
        f"where {sides}) union all (select * from _inc_events e where {sides} "
        f"except select * from stg_events e where {sides}))"
    )
    # and those that can link a gateway's record to a provider's copy (``_regateway``)
    con.execute(
        "create or replace temp table _inc_old_gateway_ids as select e.event_id, "
        "e.gateway_name, e.request_id, e.provider_request_id, e.occurred_at from stg_events e "
        f"where {rebuilt} "
        f"and {GATEWAY_SIDES} and (e.request_id is not null or e.provider_request_id is not null)"
    )
    con.execute(f"delete from stg_events where {in_days('occurred_at', '_inc_days', days)}")
    con.execute("insert into stg_events select * from _inc_events")


def _edges(days: set[date]) -> set[date]:
    """The days of ``days`` next to a day not in them: a record within a day of another day
    than its own's neighbours is on one of these."""
    return {
        d for d in days if d - timedelta(days=1) not in days or d + timedelta(days=1) not in days
    }


def _context(con: duckdb.DuckDBPyConnection, days: set[date], rn: ModuleType) -> set[date]:
    """The days whose raw rows rebuilding ``days`` reads: the neighbours within the Vertex
    audit join's reach, and every day holding a copy of a group those days hold."""
    row = con.execute(
        "select coalesce(try_cast(identity_setting('vertex_match_window_seconds', '2') "
        "as double), 2)"
    ).fetchall()[0]
    window = abs(float(row[0])) if row and row[0] is not None else 2.0
    # a candidate pair spans one window; whether it is the only one, a second
    reach = max(1, math.ceil(3 * window / 86400))
    context = {d + timedelta(days=k) for d in days for k in range(-reach, reach + 1)}
    tables = rn._tables(con)
    for table, key in incremental.GROUP_KEYS.items():
        if table not in tables:
            continue
        _day_table(con, "_inc_context", context)
        day = incremental.day_of(incremental.DAY_COLUMNS[table])
        rows = con.execute(
            f"select distinct {day} from {table} where {key} in (select {key} from {table} "
            f"where {day} in (select day from _inc_context))"
        ).fetchall()
        context |= {r[0] for r in rows if r[0] is not None}
    return context


def _undriven(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether ``name`` (a DRIVERS mart) is empty and its driver is too."""
    driver = DRIVERS.get(name)
    if driver is None or not _exists(con, name):
        return False
    return not any(_count(con, query) for query in (f"select 1 from {name}", driver))


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "select count(*) from duckdb_tables() where not temporary and schema_name = 'main' "
        "and table_name = ?",
        [name],
    ).fetchall()[0]
    return bool(row and row[0])


def _merge_keys(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, keys: tuple[str, ...], events: str
) -> None:
    """Resolve the rebuilt days' keys again and merge them in; drop keys no event has now."""
    con.execute(
        f"create or replace temp table _inc_{name} as {_rename(sql, {events: '_inc_events'})}"
    )
    same = " and ".join(f"n.{k} is not distinct from m.{k}" for k in keys)
    con.execute(f"delete from {name} m where exists (select 1 from _inc_{name} n where {same})")
    con.execute(f"insert into {name} select * from _inc_{name}")
    gone = " and ".join(f"e.{k} is not distinct from o.{k}" for k in keys)
    left = " and ".join(f"o.{k} is not distinct from m.{k}" for k in keys)
    # the rebuilt days' old keys their new events lack; only those can be gone from history,
    # so the scan of stg_events (all of history) runs only when there are some
    con.execute(
        "create or replace temp table _inc_gone_keys as select * from _inc_old_keys o "
        f"where not exists (select 1 from _inc_events e where {gone})"
    )
    row = con.execute("select count(*) from _inc_gone_keys").fetchone()
    if row and row[0]:
        con.execute(
            f"delete from {name} m where exists (select 1 from _inc_gone_keys o where {left} "
            f"and not exists (select 1 from stg_events e where {gone}))"
        )


def _reattribute(
    con: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    days: set[date],
    rn: ModuleType,
    match: tuple[float, bool],
) -> set[date]:
    """Match again the Claude Code events whose match the changed days can move; replace their
    rows; return the days of the events of every row that appeared, went or changed.

    An event E is a candidate pair with a provider record P when they share a request id (and
    lie within a day of each other), or
    when P's time is within R of E's (R: the longest request plus the match window), and
    E's row depends on its candidates and on the other events claiming them. So a change at
    time t moves only the rows of events within 2R of t (E2 - P - E), or linked to a changed
    event by a request id (twice: E2 - P by its id, P - E3 by its other id). Those events
    (``affected``: the changed days widened by 2R, and the linked events' times by 2R) are
    matched again from their context: the events within 2R of them, the events sharing a
    request id with those (twice), and one provider record per model and day of the affected
    days (whether a record of the model exists that day decides an unmatched event's
    counting), then replace their rows. The rest of history is not read.
    """
    reach, by_id = match
    # an id the rebuilt days' telemetry held before this build links too
    by_id = by_id or _count(con, "select 1 from _inc_old_ids") > 0
    _day_table(con, "_inc_attr_days", days)
    # (the records of the days at their edge: an inner day's links stay within the days)
    edges = _edges(days)
    _day_table(con, "_inc_attr_edges", edges)
    # the changed days, and the events linked to them by a request id (old and new ids)
    con.execute(
        "create or replace temp table _inc_attr_seed as select cast(day as timestamptz) as lo, "
        "cast(day + 1 as timestamptz) as hi from _inc_attr_days"
    )
    if by_id:
        con.execute(
            "create or replace temp table _inc_attr_q as select event_id, source, request_id, "
            f"provider_request_id, occurred_at from stg_events where "
            f"{in_days('occurred_at', '_inc_attr_edges', edges)} "
            "and (request_id is not null or provider_request_id is not null) "
            "union all select * from _inc_old_ids"
        )
        _seed_links(con, "_inc_attr_q", "_inc_attr_seed", "_inc_attr_days", days, _linked)
    _widen(con, "_inc_attr_seed", "_inc_attr_affected", 2 * reach)
    _widen(con, "_inc_attr_affected", "_inc_attr_context", 2 * reach)
    within = _within("e.occurred_at", "_inc_attr_context", con)
    con.execute(
        "create or replace temp table _inc_attr_events as select e.* from stg_events e "
        f"where {within}"
    )
    if by_id:
        for _ in range(2):
            _linked(con, "_inc_attr_events", "_inc_attr_events", whole=True)
    # one provider (or gateway) record per model and UTC day of an affected event, where the
    # context holds none (whether one exists decides an unmatched event's counting)
    affected_telemetry = _within("occurred_at", "_inc_attr_affected", con)
    con.execute(
        f"""
        create or replace temp table _inc_attr_covers as
        select distinct model, {incremental.day_of("occurred_at")} as day
        from _inc_attr_events where source = 'claude_code' and {affected_telemetry}
        except
        select distinct model, {incremental.day_of("occurred_at")} from _inc_attr_events
        where source <> 'claude_code'
            and event_id not in (select event_id from gateway_matches)
        """
    )
    wanted = {r[0] for r in con.execute("select day from _inc_attr_covers").fetchall()}
    if wanted:
        _day_table(con, "_inc_attr_cover_days", wanted)
        con.execute(
            f"""
            insert into _inc_attr_events
            select e.* from stg_events e
            where e.source <> 'claude_code'
                and {in_days("e.occurred_at", "_inc_attr_cover_days", wanted)}
                and exists (select 1 from _inc_attr_covers c
                    where c.model = e.model and c.day = {EVENTS_DAY_OF_E})
                and e.event_id not in (select event_id from gateway_matches)
                and e.event_id not in (select event_id from _inc_attr_events)
            qualify row_number() over (
                partition by e.model, {EVENTS_DAY_OF_E} order by e.event_id) = 1
            """
        )
    # the telemetry's own columns, for those events (the time range lets the scan of the raw
    # table skip the rest of history)
    low, high = con.execute(
        "select min(occurred_at), max(occurred_at) from _inc_attr_events "
        "where source = 'claude_code'"
    ).fetchall()[0]
    span = _between("occurred_at", low, high) + " and " if low is not None else ""
    _restage(
        con,
        rn,
        "stg_claude_code",
        "_inc_attr",
        f"{span}'claude_code:' || event_key in (select event_id from _inc_attr_events "
        "where source = 'claude_code')",
    )
    renamed = _rename(
        sql, {rn.EVENTS: "_inc_attr_events", "stg_claude_code": "_inc_attr_stg_claude_code"}
    )
    affected = _within("occurred_at", "_inc_attr_affected", con)
    return _replace_rows(con, name, renamed, affected, MATCH_MARTS[name])


EVENTS_DAY_OF_E = incremental.day_of("e.occurred_at")


def _regateway(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, days: set[date], rn: ModuleType
) -> set[date]:
    """Match again the provider copies whose match the changed days can move; replace their
    rows (a row's time is its provider record's); return the days of the events of every row
    that appeared, went or changed.

    A provider copy P and a gateway record G are candidates when they share a request id, or
    have the same counts within W (the match window) of each other. P's row depends on its
    candidates, theirs, and (the second round takes what the first left) theirs again: on the
    records within 4W of P, and on whether a request id pairs each of those (the records up to
    two request ids away, each within a day). So a change at time t moves only the rows of
    provider copies within 5W of t (a row moved by its gateway record, W from its copy), or
    linked to a changed record through up to two request ids. Those (``affected``: the changed
    days widened by 5W, and the linked records' times too) are matched again from their context:
    the records within 4W of them and the records two request ids away from those. The rest of
    history is not read.
    """
    window = _gateway_window(con) + 1.0  # a second's margin over the window's rounding
    _day_table(con, "_inc_gw_days", days)
    edges = _edges(days)
    _day_table(con, "_inc_gw_edges", edges)
    con.execute(
        "create or replace temp table _inc_gw_seed as select cast(day as timestamptz) as lo, "
        "cast(day + 1 as timestamptz) as hi from _inc_gw_days"
    )
    # the records of the changed days (new, and old) that carry a request id, and those two
    # request ids away from them (of the days at the edge of the changed ones: a record pairs
    # within a day, so an inner day's links stay within the changed days)
    con.execute(
        "create or replace temp table _inc_gw_q as select e.event_id, e.gateway_name, "
        "e.request_id, e.provider_request_id, e.occurred_at from stg_events e where "
        f"{in_days('e.occurred_at', '_inc_gw_edges', edges)} and {GATEWAY_SIDES} "
        "and (e.request_id is not null or e.provider_request_id is not null) "
        "union all select * from _inc_old_gateway_ids"
    )
    if _count(con, "select 1 from _inc_gw_q"):
        _seed_links(con, "_inc_gw_q", "_inc_gw_seed", "_inc_gw_days", days, _gateway_linked)
    _widen(con, "_inc_gw_seed", "_inc_gw_affected", 5 * window)
    _widen(con, "_inc_gw_affected", "_inc_gw_context", 4 * window)
    within = _within("e.occurred_at", "_inc_gw_context", con)
    con.execute(
        "create or replace temp table _inc_gw_events as select e.* from stg_events e "
        f"where {within} and {GATEWAY_SIDES}"
    )
    if _count(
        con,
        "select 1 from _inc_gw_events where request_id is not null "
        "or provider_request_id is not null",
    ):
        for _ in range(2):
            _gateway_linked(con, "_inc_gw_events", "_inc_gw_events", whole=True)
    renamed = _rename(sql, {rn.EVENTS: "_inc_gw_events"})
    affected = _within("occurred_at", "_inc_gw_affected", con)
    moved = _replace_rows(con, name, renamed, affected, MATCH_MARTS[name])
    if not _count(con, "select 1 from _inc_changed_gateway_ids"):
        return moved
    # the days of the partners of records that changed under a match that did not (a gateway
    # record priced from its copy's counts, or timed against its latency)
    # (a partner is within a day of its record, on the edge days)
    near = _near("occurred_at", edges, ID_SECONDS)
    partners = con.execute(
        f"""
        select distinct {EVENTS_DAY} from stg_events where {near} and event_id in (
            select gateway_event_id from {name}
            where event_id in (select event_id from _inc_changed_gateway_ids)
            union
            select event_id from {name}
            where gateway_event_id in (select event_id from _inc_changed_gateway_ids))
        """
    ).fetchall()
    return moved | {r[0] for r in partners if r[0] is not None}


def _replace_rows(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, rows: str, ids: tuple[str, ...]
) -> set[date]:
    """Replace the ``rows`` (a filter) of the match mart ``name`` with those of ``sql``; return
    the days of the events (``ids``: the columns naming them) of every row that appeared, went
    or changed."""
    con.execute(
        f"create or replace temp table _inc_{name} as select * from ({sql}) as r where {rows}"
    )
    con.execute(
        f"create or replace temp table _inc_{name}_old as select * from {name} where {rows}"
    )
    named = " union ".join(f"select {c} from changed" for c in ids)
    changed = con.execute(
        f"""
        with changed as (
            (select * from _inc_{name}_old except select * from _inc_{name})
            union all
            (select * from _inc_{name} except select * from _inc_{name}_old)
        )
        select distinct {EVENTS_DAY} from stg_events where event_id in ({named})
        """
    ).fetchall()
    con.execute(f"delete from {name} where {rows}")
    con.execute(f"insert into {name} select * from _inc_{name}")
    return {r[0] for r in changed if r[0] is not None}


def _seed_links(
    con: duckdb.DuckDBPyConnection,
    records: str,
    seed: str,
    days_table: str,
    days: set[date],
    link: Callable[..., None],
) -> None:
    """Follow the request ids of ``records`` (the changed days' records that carry one) two
    links out with ``link``, then add the times of the records outside the changed days to
    the intervals ``seed`` (those inside are seeds already)."""
    for _ in range(2):
        link(con, records, records)
    con.execute(
        f"insert into {seed} select occurred_at, occurred_at from {records} "
        f"where not ({in_days('occurred_at', days_table, days)})"
    )


def _gateway_window(con: duckdb.DuckDBPyConnection) -> float:
    """W, the farthest apart in seconds a gateway record and its provider copy can match by
    time ([gateway] match_window_seconds, 120 by default)."""
    row = con.execute(
        "select coalesce(max(match_window_seconds), 120) from ref_gateway_settings"
    ).fetchone()
    return max(float(row[0]), 0.0) if row and row[0] is not None else 120.0


def _gateway_linked(
    con: duckdb.DuckDBPyConnection, source: str, target: str, *, whole: bool = False
) -> None:
    """Add to ``target`` the records sharing a request id with one of ``source`` across the
    gateway/provider divide (a provider copy's request_id; a gateway record's request_id or
    provider_request_id), as ``_link``."""
    _link(
        con,
        source,
        target,
        whole=whole,
        side="gateway_name",
        one="{t}gateway_name is null",
        other="{t}gateway_name is not null",
        copies=True,
    )


def _match_reach(con: duckdb.DuckDBPyConnection) -> tuple[float, bool]:
    """R, the farthest apart in seconds a Claude Code event and the provider record it matches
    by time can be (the longest request, at most the hour claude_code_attribution takes as a
    request's longest, plus the match window), and whether any event carries a request id (else
    every match is within R)."""
    rows = con.execute(
        "select least(coalesce(max(duration_ms), 0), 3600000) / 1000.0 + (select coalesce("
        "max(match_window_seconds), 120) from ref_gateway_settings) from raw_claude_code"
    ).fetchall()
    reach = float(rows[0][0]) if rows and rows[0][0] is not None else 120.0
    by_id = _count(con, "select 1 from raw_claude_code where request_id is not null") > 0
    return max(reach, 1.0), by_id


def _near(column: str, days: set[date], seconds: float) -> str:
    """A filter for ``column`` between the first of ``days`` less ``seconds`` and the end of
    the last plus ``seconds`` (a range DuckDB prunes row groups with)."""
    low = f"timestamptz '{min(days).isoformat()} 00:00:00+00'"
    high = f"timestamptz '{(max(days) + timedelta(days=1)).isoformat()} 00:00:00+00'"
    return f"{column} >= {low} - {_pad(seconds)} and {column} < {high} + {_pad(seconds)}"


def _between(column: str, low: Any, high: Any, seconds: float = 0.0) -> str:
    """A filter for ``column`` from the timestamp ``low`` to ``high`` (inclusive), widened by
    ``seconds`` each way."""
    pad = f" - {_pad(seconds)}" if seconds else ""
    more = f" + {_pad(seconds)}" if seconds else ""
    return (
        f"{column} >= timestamptz '{low.isoformat()}'{pad} "
        f"and {column} <= timestamptz '{high.isoformat()}'{more}"
    )


def _pad(seconds: float) -> str:
    return f"to_microseconds(cast({seconds * 1e6:.0f} as bigint))"


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    row = con.execute(f"select count(*) from ({query} limit 1) as q").fetchone()
    return int(row[0]) if row else 0


def _resession(
    con: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    days: set[date],
    metric_days: set[date],
    rn: ModuleType,
    match: tuple[float, bool],
) -> None:
    """Rebuild the rows of the sessions the rebuilt ``days`` and the ``metric_days`` (days of
    new or changed metric points) can change; the rest of history is not read.

    A session's row comes from its events, their matches (claude_code_attribution), the
    usage_events rows of those events and of the provider records they matched, and its
    metric points. The sessions touched: those of the events on the rebuilt days (new and, from
    the sessions' own spans, old), of the events matched to a record of those days, and of the
    metric points of the metric days. Their events, matches and metric series are read, their
    rows replaced.
    """
    _day_table(con, "_inc_sess_days", days)
    _day_table(con, "_inc_sess_metric_days", metric_days)
    parts = []
    if days:
        on_days = in_days("occurred_at", "_inc_sess_days", days)
        low, high = min(days), max(days) + timedelta(days=1)
        parts += [
            f"select session_id from raw_claude_code where {on_days}",
            # a session that had an event on those days (an event that since moved away)
            f"select session_id from {name} where first_at < timestamptz "
            f"'{high.isoformat()} 00:00:00+00' and last_at >= timestamptz "
            f"'{low.isoformat()} 00:00:00+00' and exists (select 1 from _inc_sess_days d "
            "where first_at < cast(d.day + 1 as timestamptz) "
            "and last_at >= cast(d.day as timestamptz))",
            f"select session_id from {ATTRIBUTION} where provider_event_id in (select event_id "
            f"from stg_events where {in_days('occurred_at', '_inc_sess_days', days)})",
        ]
    if metric_days:
        on_metric_days = in_days("occurred_at", "_inc_sess_metric_days", metric_days)
        parts.append(f"select session_id from raw_claude_code_metrics where {on_metric_days}")
    con.execute(
        "create or replace temp table _inc_sess_ids as select distinct session_id from ("
        + " union all ".join(parts)
        + ") as s where session_id is not null"
    )
    # the time span their events can lie in: their old spans and the rebuilt days
    low, high = con.execute(
        f"""
        select min(lo), max(hi) from (
            select first_at as lo, last_at as hi from {name}
            where session_id in (select session_id from _inc_sess_ids)
            union all
            select min(occurred_at), max(occurred_at) from raw_claude_code
            where {in_days("occurred_at", "_inc_sess_days", days) if days else "false"}
        ) as spans
        """
    ).fetchall()[0]
    span = _between("occurred_at", low, high) + " and " if low is not None else "false and "
    touched = "session_id in (select session_id from _inc_sess_ids)"
    _restage(con, rn, "stg_claude_code", "_inc_sess", f"{span}{touched}")
    con.execute(
        f"create or replace temp view _inc_sess_attribution as select * from {ATTRIBUTION} "
        f"where {span}{touched}"
    )
    # every point of the metric series the sessions' points belong to (a cumulative series'
    # deltas read the point before)
    con.execute(
        """
        create or replace temp view _inc_sess_raw_metrics as
        select m.* from raw_claude_code_metrics m
        where exists (
            select 1 from raw_claude_code_metrics s
            where s.session_id in (select session_id from _inc_sess_ids)
              and s.metric_name = m.metric_name and s.temporality = m.temporality
              and cast(s.attributes as varchar) is not distinct from cast(m.attributes as varchar)
              and s.start_at is not distinct from m.start_at)
        """
    )
    deltas = (rn.INTERMEDIATE_DIR / "int_claude_code_metric_deltas.sql").read_text(encoding="utf-8")
    con.execute(
        "create or replace temp view _inc_sess_metric_deltas as "
        + _rename(deltas, {"raw_claude_code_metrics": "_inc_sess_raw_metrics"})
    )
    names = {
        "stg_claude_code": "_inc_sess_stg_claude_code",
        ATTRIBUTION: "_inc_sess_attribution",
        "int_claude_code_metric_deltas": "_inc_sess_metric_deltas",
    }
    reach, by_id = match
    if low is not None:
        # the usage rows of their events and of the records those matched (within R of them,
        # or a day where a request id may pair them)
        reach = max(reach, ID_SECONDS) if by_id else reach
        con.execute(
            "create or replace temp view _inc_sess_usage_events as select * from usage_events "
            f"where {_between('occurred_at', low, high, reach)}"
        )
        names["usage_events"] = "_inc_sess_usage_events"
    renamed = _rename(sql, names)
    con.execute(f"create or replace temp table _inc_{name} as {renamed}")
    con.execute(f"delete from {name} where {touched}")
    con.execute(f"insert into {name} select * from _inc_{name}")


def _widen(con: duckdb.DuckDBPyConnection, source: str, target: str, seconds: float) -> None:
    """``target``: the intervals (lo, hi) of ``source`` widened by ``seconds`` each way and
    merged where they overlap."""
    pad = _pad(seconds)
    con.execute(
        f"""
        create or replace temp table {target} as
        with padded as (
            select lo - {pad} as lo, hi + {pad} as hi from {source}
        ),
        marked as (
            select lo, hi, case when lo <= max(hi) over (order by lo, hi rows between
                unbounded preceding and 1 preceding) then 0 else 1 end as starts
            from padded
        ),
        grouped as (
            select lo, hi, sum(starts) over (order by lo, hi) as run from marked
        )
        select min(lo) as lo, max(hi) as hi from grouped group by run
        """
    )


def _within(column: str, intervals: str, con: duckdb.DuckDBPyConnection) -> str:
    """A filter for ``column`` inside one of the (few, merged) ``intervals``; the overall range
    lets DuckDB skip row groups outside it."""
    low, high = con.execute(f"select min(lo), max(hi) from {intervals}").fetchall()[0]
    if low is None:
        return "false"
    return (
        f"{_between(column, low, high)} and exists (select 1 from {intervals} w "
        f"where {column} >= w.lo and {column} <= w.hi)"
    )


def _linked(
    con: duckdb.DuckDBPyConnection, source: str, target: str, *, whole: bool = False
) -> None:
    """Add to ``target`` the events sharing a request id with one of ``source`` across the
    telemetry/provider divide (a Claude Code event's request_id; a provider record's
    request_id or provider_request_id), as ``_link``."""
    _link(
        con,
        source,
        target,
        whole=whole,
        side="source",
        one="{t}source = 'claude_code'",
        other="{t}source <> 'claude_code'",
    )


def _link(
    con: duckdb.DuckDBPyConnection,
    source: str,
    target: str,
    *,
    whole: bool,
    side: str,
    one: str,
    other: str,
    copies: bool = False,
) -> None:
    """Add to ``target`` the events of stg_events that share a request id with one of
    ``source``'s across two sides (``one``, ``other``: filters, ``{t}`` the table's prefix): an
    event of one side whose request_id is an id (request_id or provider_request_id) of the
    other side's, and the reverse; within the day either side an id pairs two records in
    (marts/gateway_matches.sql, marts/claude_code_attribution.sql), and not held yet. Only
    those days of history are read. ``whole``: whole rows (else event_id, ``side``,
    request_id, provider_request_id, occurred_at); ``copies``: of the first side, only the
    providers' records under a gateway identity."""
    span = f"select min(occurred_at), max(occurred_at) from {source}"
    low, high = con.execute(span).fetchall()[0]
    if low is None:
        return
    near = _between("e.occurred_at", low, high, ID_SECONDS)
    columns = (
        "e.*"
        if whole
        else f"e.event_id, e.{side}, e.request_id, e.provider_request_id, e.occurred_at"
    )
    e_one, e_other = one.format(t="e."), other.format(t="e.")
    if copies:
        e_one += " and e.gateway_role"
    s_one, s_other = one.format(t=""), other.format(t="")
    # an event held twice would be a candidate twice (and a big change's links would grow
    # with each pass)
    con.execute(
        f"""
        insert into {target}
        select distinct {columns} from stg_events e
        where (({e_one} and e.request_id in (
                    select request_id from {source} where {s_other}
                    union select provider_request_id from {source} where {s_other}))
            or ({e_other} and (
                    e.request_id in (select request_id from {source} where {s_one})
                    or e.provider_request_id in (
                        select request_id from {source} where {s_one}))))
            and {near} and e.event_id not in (select event_id from {target})
        """
    )


def _rematch(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, ids: tuple[str, ...]
) -> set[date]:
    """Rebuild ``name`` whole; the days of the events (``ids``: the columns naming them) of
    every row that appeared, went or changed."""
    con.execute(f"create or replace temp table _inc_{name} as {sql}")
    named = " union ".join(f"select {c} as event_id from changed" for c in ids)
    rows = con.execute(
        f"""
        with changed as (
            (select * from {name} except select * from _inc_{name})
            union all
            (select * from _inc_{name} except select * from {name})
        )
        select distinct {EVENTS_DAY} from stg_events
        where event_id in ({named})
        """
    ).fetchall()
    con.execute(f"create or replace table {name} as select * from _inc_{name}")
    return {r[0] for r in rows if r[0] is not None}


def _replace_days(
    con: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    days: set[date],
    rn: ModuleType,
    match: tuple[float, bool],
) -> None:
    """Run a day-partitioned mart over its inputs' rows of ``days``; replace those days."""
    events = rn.EVENTS
    _day_table(con, "_inc_rebuild", days)
    if not _has_temp(con, "_inc_day_events"):
        con.execute(
            "create temp table _inc_day_events as select * from stg_events "
            f"where {in_days('occurred_at', '_inc_rebuild', days)}"
        )
    names = {events: "_inc_day_events"}
    names.update({m: f"_inc_{m}" for m in DAY_MARTS if _has_temp(con, f"_inc_{m}")})
    if re.search(rf"\b{GATEWAY}\b", sql) and _exists(con, GATEWAY):
        if not _has_temp(con, "_inc_day_gateway_matches"):
            _day_gateway_matches(con, days)
        names[GATEWAY] = "_inc_day_gateway_matches"
    if re.search(r"\bstg_gateway\b", sql):
        # the gateways' own records of these days (a view over all of raw_gateway otherwise)
        if not _has_temp(con, "_inc_day_stg_gateway"):
            # staged from those days' raw rows (a filter on the view would stage all of them)
            where = in_days("occurred_at", "_inc_rebuild", days)
            _restage(con, rn, "stg_gateway", "_inc_day", where, kind="table")
        names["stg_gateway"] = "_inc_day_stg_gateway"
    if re.search(rf"\b{ATTRIBUTION}\b", sql) and _exists(con, ATTRIBUTION):
        # the matches of these days' events only (usage_events joins them by event id): not
        # a hash table of every telemetry event in history
        if not _has_temp(con, "_inc_day_attribution"):
            reach, by_id = match
            # a match lies within R of its events (a day, by request id)
            near = _near("occurred_at", days, max(reach, ID_SECONDS) if by_id else reach)
            con.execute(
                f"create temp table _inc_day_attribution as select * from {ATTRIBUTION} "
                f"where {near} and (telemetry_event_id in (select event_id from _inc_day_events) "
                "or provider_event_id in (select event_id from _inc_day_events))"
            )
        names[ATTRIBUTION] = "_inc_day_attribution"
    rows = in_days(DAY_MARTS[name], "_inc_rebuild", days)
    # (the provider copies of other days read beside the days' events give no rows of their own)
    con.execute(
        f"create or replace temp table _inc_{name} as select * from ({_rename(sql, names)}) "
        f"where {rows}"
    )
    con.execute(f"delete from {name} where {rows}")
    con.execute(f"insert into {name} select * from _inc_{name}")


def _day_gateway_matches(con: duckdb.DuckDBPyConnection, days: set[date]) -> None:
    """``_inc_day_gateway_matches``: the gateway matches of the rebuilt days' events (not a
    hash table of every match in history); and, added to ``_inc_day_events``, the provider
    copies those days' gateway records matched on another day (a gateway record that cannot
    split its tokens is priced from its copy's exact counts, wherever the copy lies)."""
    # a row's time is its provider copy's, within a day of its gateway record's
    near = _near("occurred_at", days, ID_SECONDS)
    con.execute(
        f"create temp table _inc_day_gateway_matches as select * from {GATEWAY} "
        f"where {near} and (event_id in (select event_id from _inc_day_events) "
        "or gateway_event_id in (select event_id from _inc_day_events))"
    )
    low, high = con.execute(
        "select min(occurred_at), max(occurred_at) from _inc_day_gateway_matches "
        "where event_id not in (select event_id from _inc_day_events)"
    ).fetchall()[0]
    if low is not None:
        con.execute(
            f"insert into _inc_day_events select * from stg_events "
            f"where {_between('occurred_at', low, high)} and event_id in ("
            "select event_id from _inc_day_gateway_matches "
            "where event_id not in (select event_id from _inc_day_events))"
        )


def _restage(
    con: duckdb.DuckDBPyConnection,
    rn: ModuleType,
    model: str,
    prefix: str,
    where: str,
    kind: str = "view",
) -> None:
    """``{prefix}_{model}``: the staging model run over the rows of its raw table that
    ``where`` keeps (the view ``{prefix}_{raw table}``), not over all of them."""
    raw = "raw_" + model.removeprefix("stg_")
    con.execute(f"create or replace temp view {prefix}_{raw} as select * from {raw} where {where}")
    staging = (rn.STAGING_DIR / f"{model}.sql").read_text(encoding="utf-8")
    con.execute(
        f"create or replace temp {kind} {prefix}_{model} as "
        + _rename(staging, {raw: f"{prefix}_{raw}"})
    )


def _rename(sql: str, names: dict[str, str]) -> str:
    """``sql`` reading ``names``' replacements (whole identifiers; comments dropped)."""
    if not names:
        return sql
    code = re.sub(r"--[^\n]*", "", sql)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names, key=len))) + r")\b")
    return pattern.sub(lambda m: names[m.group(1)], code)


def _day_table(con: duckdb.DuckDBPyConnection, name: str, days: set[date]) -> None:
    con.execute(f"create or replace temp table {name} (day date)")
    if days:
        con.executemany(f"insert into {name} values (?)", [[d] for d in sorted(days)])


def _has_temp(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "select count(*) from duckdb_tables() where temporary and table_name = ?", [name]
    ).fetchall()[0]
    return bool(row and row[0])


def _temps(con: duckdb.DuckDBPyConnection, like: str) -> list[str]:
    rows = con.execute(
        "select view_name from duckdb_views() where temporary and view_name like ? escape '!' "
        "union all select table_name from duckdb_tables() where temporary and table_name like ? "
        "escape '!'",
        [like.replace("_", "!_")] * 2,
    ).fetchall()
    return [str(r[0]) for r in rows]


def _drop_temp(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a temp table or view ``name`` (an earlier build on this connection made one)."""
    if _has_temp(con, name):
        con.execute(f"drop table temp.{name}")
    row = con.execute(
        "select count(*) from duckdb_views() where temporary and view_name = ?", [name]
    ).fetchall()[0]
    if row and row[0]:
        con.execute(f"drop view temp.{name}")
