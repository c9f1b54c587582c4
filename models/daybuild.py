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
3. ``gateway_matches`` and ``claude_code_attribution`` (matching across days: a gateway's
   copy of a provider record, a Claude Code event and the provider record of the request) are
   rebuilt whole from ``stg_events``; the days of every event whose match changed join the
   days to rebuild (U = S plus those);
4. the day-partitioned marts (``DAY_MARTS``) run over the events of U and replace U's rows;
5. every other mart is rebuilt in full, as a full build would, when a day changed, or a raw
   table only such marts read (``incremental.side_tables``: bills, telemetry metrics), or when
   its table is missing, unless it is empty and so is what its rows come from (``DRIVERS``: no
   telemetry, gateway, Vertex or bill rows); with nothing new it stays: its inputs are as
   they were, since a reference or model change makes a full build. The telemetry marts read
   only the provider records on the days (or with the request ids) their telemetry can match.
"""

from __future__ import annotations

import math
import re
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
}
KEYED_MARTS = {"identity_map": ("source", "principal", "person_hint", "team_hint")}
# Marts matching events across days, rebuilt whole: a row that appeared, went or changed adds
# the days of the events it names (these columns) to the days whose marts are rebuilt.
MATCH_MARTS = {
    "gateway_matches": ("event_id", "gateway_event_id"),
    "claude_code_attribution": ("telemetry_event_id", "provider_event_id"),
}
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
) -> None:
    """``rn`` is models.runner (passed in: it imports this module); ``refresh``: a raw table
    only the whole-history marts read changed (``incremental.side_tables``)."""
    drop_scratch(con, rn)
    try:
        _build_days(con, result, days, rn, refresh)
    finally:
        drop_scratch(con, rn)


def drop_scratch(con: duckdb.DuckDBPyConnection, rn: ModuleType) -> None:
    """Drop the temp tables and views of an incremental build (and int_events) on ``con``."""
    for name in _temps(con, "_inc_%") + [rn.EVENTS]:
        _drop_temp(con, name)


def _build_days(
    con: duckdb.DuckDBPyConnection, result: Any, days: set[date], rn: ModuleType, refresh: bool
) -> None:
    staging, intermediate = _models(con, result, rn)
    changed = bool(days) or refresh
    if days:
        _stage_days(con, staging, intermediate, days, rn)
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
        elif name in MATCH_MARTS:
            if days:
                rebuild |= _rematch(con, name, sql, MATCH_MARTS[name])
        elif name in DAY_MARTS:
            if rebuild:
                _replace_days(con, name, sql, rebuild, rn.EVENTS)
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
    con.execute(f"delete from stg_events where {in_days('occurred_at', '_inc_days', days)}")
    con.execute("insert into stg_events select * from _inc_events")


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
    for query in (f"select 1 from {name}", driver):
        if con.execute(f"select count(*) from ({query} limit 1) as q").fetchall()[0][0]:
            return False
    return True


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


def _rematch(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, ids: tuple[str, ...]
) -> set[date]:
    """Rebuild ``name`` whole; the days of the events (``ids``: the columns naming them) of
    every row that appeared, went or changed (a Claude Code event matched to a provider record
    of the next day stops counting its own spend: its day is rebuilt too)."""
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
    con: duckdb.DuckDBPyConnection, name: str, sql: str, days: set[date], events: str
) -> None:
    """Run a day-partitioned mart over its inputs' rows of ``days``; replace those days."""
    _day_table(con, "_inc_rebuild", days)
    if not _has_temp(con, "_inc_day_events"):
        con.execute(
            "create temp table _inc_day_events as select * from stg_events "
            f"where {in_days('occurred_at', '_inc_rebuild', days)}"
        )
    names = {events: "_inc_day_events"}
    names.update({m: f"_inc_{m}" for m in DAY_MARTS if _has_temp(con, f"_inc_{m}")})
    con.execute(f"create or replace temp table _inc_{name} as {_rename(sql, names)}")
    con.execute(f"delete from {name} where {in_days(DAY_MARTS[name], '_inc_rebuild', days)}")
    con.execute(f"insert into {name} select * from _inc_{name}")


def _rename(sql: str, names: dict[str, str]) -> str:
    """``sql`` reading ``names``' replacements (whole identifiers; comments dropped)."""
    if not names:
        return sql
    code = re.sub(r"--[^\n]*", "", sql)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names, key=len))) + r")\b")
    return pattern.sub(lambda m: names[m.group(1)], code)


def _day_table(con: duckdb.DuckDBPyConnection, name: str, days: set[date]) -> None:
    con.execute(f"create or replace temp table {name} (day date)")
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
