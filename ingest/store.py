"""The main DuckDB database: opening it and the tables every source shares.

Each source module declares its own raw table (``RAW_TABLE_DDL``); this module owns the shared
bookkeeping tables: cursors, processed objects, rejected records and the run log.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from models import incremental

SHARED_DDL = [
    # One cursor per source and partition (S3 account/region prefix, log group, project, ...).
    """
    create table if not exists ingest_cursors (
        source varchar not null,
        partition varchar not null,
        value varchar not null,
        updated_at timestamptz not null default current_timestamp,
        primary key (source, partition)
    )
    """,
    # Objects (S3 keys, local files) already read, with their ETag / size+mtime fingerprint.
    """
    create table if not exists processed_objects (
        source varchar not null,
        object_key varchar not null,
        etag varchar not null,
        records bigint not null,
        processed_at timestamptz not null default current_timestamp,
        primary key (source, object_key)
    )
    """,
    # Bad input: where it was and why, never its text.
    """
    create table if not exists rejected_records (
        source varchar not null,
        location varchar not null,
        reason varchar not null,
        first_seen_at timestamptz not null default current_timestamp,
        primary key (source, location, reason)
    )
    """,
    """
    create sequence if not exists ingest_run_seq
    """,
    """
    create table if not exists ingest_runs (
        run_id bigint primary key default nextval('ingest_run_seq'),
        source varchar not null,
        started_at timestamptz not null,
        finished_at timestamptz,
        status varchar not null,
        new_rows bigint not null default 0,
        updated_rows bigint not null default 0,
        rejected_rows bigint not null default 0,
        message varchar
    )
    """,
]


# What the next build must rebuild (models.incremental): the loader marks days here.
SHARED_DDL += incremental.STATE_DDL


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    temp_directory: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the main database (creating its folder) with the shared tables in place, its memory
    bounded (``models.limits``: a build that does not fit spills to ``temp_directory``)."""
    from models import limits

    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set timezone = 'UTC'")
    limits.apply(con, memory_limit=memory_limit, temp_directory=temp_directory)
    if not read_only:
        ensure_tables(con, SHARED_DDL)
    return con


def ensure_tables(con: duckdb.DuckDBPyConnection, ddl: list[str]) -> None:
    for statement in ddl:
        con.execute(statement)


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The first column of the first row of ``sql`` as an int (0 when there is no row)."""
    rows = con.execute(sql).fetchall()  # fetchall: leaves no open result behind
    return int(rows[0][0]) if rows else 0


def get_cursor(con: duckdb.DuckDBPyConnection, source: str, partition: str) -> str | None:
    rows = con.execute(
        "select value from ingest_cursors where source = ? and partition = ?", [source, partition]
    ).fetchall()  # fetchall, not fetchone: leaves no open result on the connection
    return None if not rows else str(rows[0][0])


def processed_etags(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    """Processed object key -> fingerprint, so a re-listing skips what was already read."""
    rows = con.execute(
        "select object_key, etag from processed_objects where source = ?", [source]
    ).fetchall()
    return {str(k): str(e) for k, e in rows}
