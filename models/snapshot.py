"""Publishing the read-only snapshot the dashboard and reports read (ARCHITECTURE rule 8).

DuckDB allows one writer process. Ingest writes the main file, then copies the marts into a new
file beside the snapshot and renames it over the old one, so a reader holding the old file keeps
its view and the next open sees the new one. Readers open it read-only, briefly, per query.
"""

from __future__ import annotations

import os
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
    "gateway_daily",  # gateway requests, partial spend and overhead per day (report --by gateway)
]


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def publish(
    con: duckdb.DuckDBPyConnection, snapshot_path: Path, extra: list[str] | None = None
) -> Path:
    """Write every published table into a new file, then atomically replace the snapshot."""
    snapshot_path = Path(snapshot_path)
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = snapshot_path.with_name(f".{snapshot_path.name}.{os.getpid()}.tmp")
    if tmp.exists():
        tmp.unlink()
    have = existing_tables(con)
    con.execute(f"attach '{_quote(str(tmp))}' as llmledger_snapshot")
    try:
        for table in PUBLISHED + list(extra or []):
            if table in have:
                con.execute(
                    f"create table llmledger_snapshot.{table} as select * from main.{table}"
                )
        con.execute(
            "create table llmledger_snapshot.snapshot_info as "
            "select current_timestamp as published_at, uuid()::varchar as snapshot_id"
        )
    finally:
        con.execute("detach llmledger_snapshot")
    os.replace(tmp, snapshot_path)
    return snapshot_path


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


def open_snapshot(snapshot_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(snapshot_path), read_only=True)
    con.execute("set timezone = 'UTC'")
    return con


def _quote(value: str) -> str:
    return value.replace("'", "''")
