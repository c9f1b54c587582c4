"""Publishing the read-only snapshot the dashboard and reports read (ARCHITECTURE rule 8).

DuckDB allows one writer process. Ingest writes the main file, then copies the marts into a new
file beside the snapshot and renames it over the old one, so a reader holding the old file keeps
its view and the next open sees the new one. Readers open it read-only, briefly, per query.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb

# Tables copied into the snapshot. Marts first; the bookkeeping tables feed the data-health view.
PUBLISHED = [
    "usage_events",
    "usage_daily",
    "usage_minute",
    "identity_map",
    "price_book",
    "ref_people",
    "ref_quotas",
    "ref_budgets",
    "rejected_records",
    "ingest_runs",
    "ingest_cursors",
    "gateway_matches",  # LiteLLM reconciliation (report --reconcile, dashboard)
    "quota_limits",  # ref_quotas plus LiteLLM key/team limits
    "usage_minute_quota",  # usage_minute without the people: the rate-limit view's rollup
    "vertex_attribution",  # how Vertex responses were attributed (data-health view)
]


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def publish(
    con: duckdb.DuckDBPyConnection, snapshot_path: Path, extra: list[str] | None = None
) -> Path:
    """Write every published table into a new file, then atomically replace the snapshot.

    Incremental where it can be (``models.incremental.pending_days``): the new file starts as a
    copy of the current snapshot, and only the days rebuilt since the last publish are replaced
    in the day-partitioned marts (``models.daybuild.DAY_MARTS``); the other tables are copied
    whole. Readers keep the old file until the rename, so they never see a half-published one.
    """
    from models import daybuild, incremental

    snapshot_path = Path(snapshot_path)
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = snapshot_path.with_name(f".{snapshot_path.name}.{os.getpid()}.tmp")
    if tmp.exists():
        tmp.unlink()
    have = existing_tables(con)
    days = incremental.pending_days(con, snapshot_path)
    if days is not None:
        shutil.copyfile(snapshot_path, tmp)
    con.execute(f"attach '{_quote(str(tmp))}' as llmledger_snapshot")
    try:
        kept = _snapshot_tables(con) if days is not None else set()
        wanted = [t for t in PUBLISHED + list(extra or []) if t in have]
        for table in wanted:
            column = daybuild.DAY_MARTS.get(table)
            if days is not None and column is not None and table in kept:
                if days:  # else the copy already holds every row
                    rows = daybuild.in_days(column, "_publish_days", days)
                    _replace_days(con, table, rows, days)
            else:
                con.execute(
                    f"create or replace table llmledger_snapshot.{table} as "
                    f"select * from main.{table}"
                )
        for table in kept - set(wanted) - {"snapshot_info"}:
            con.execute(f"drop table llmledger_snapshot.{table}")
        con.execute(
            "create or replace table llmledger_snapshot.snapshot_info as "
            "select current_timestamp as published_at, uuid()::varchar as snapshot_id"
        )
        snapshot_id = str(
            con.execute("select snapshot_id from llmledger_snapshot.snapshot_info").fetchall()[0][0]
        )
    finally:
        con.execute("detach llmledger_snapshot")
    os.replace(tmp, snapshot_path)
    incremental.published(con, snapshot_id)
    return snapshot_path


def _snapshot_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = 'llmledger_snapshot'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _replace_days(con: duckdb.DuckDBPyConnection, table: str, rows: str, days: set[date]) -> None:
    """Replace the rows of ``table`` that ``rows`` (a filter on _publish_days) selects."""
    if not days:
        return
    con.execute("create or replace temp table _publish_days (day date)")
    con.executemany("insert into _publish_days values (?)", [[d] for d in sorted(days)])
    target = f"llmledger_snapshot.{table}"
    con.execute(f"delete from {target} where {rows}")
    con.execute(f"insert into {target} select * from main.{table} where {rows}")
    con.execute("drop table _publish_days")


def identity(con: duckdb.DuckDBPyConnection) -> str:
    """What names the snapshot ``con`` reads, from inside the file (so it cannot belong to a
    file that replaced it since): its id, or its publication time for older snapshots."""
    try:
        cursor = con.execute("select * from snapshot_info limit 1")
    except duckdb.CatalogException:
        return ""
    names = [d[0] for d in cursor.description or []]
    rows = cursor.fetchall()
    if not rows:
        return ""
    row = dict(zip(names, rows[0], strict=True))
    return str(row.get("snapshot_id") or row.get("published_at") or "")


def open_snapshot(
    snapshot_path: Path, *, memory_limit: str | None = None, temp_directory: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """Open a snapshot (or the main database) read-only, its memory bounded (models.limits)."""
    from models import limits

    con = duckdb.connect(str(snapshot_path), read_only=True)
    con.execute("set timezone = 'UTC'")
    limits.apply(con, memory_limit=memory_limit, temp_directory=temp_directory)
    return con


def _quote(value: str) -> str:
    return value.replace("'", "''")
