"""Combine the databases of scaled-out ingest workers into this one.

Each worker (``llmledger --db shard-K.duckdb ingest bedrock-s3 ... --shard K/N``, or one worker
per configured source) loads raw tables, rejects, processed objects and cursors into its own
DuckDB file. ``merge`` reads each worker's file (attached read-only) and, per worker, in one
transaction: upserts every raw table on its natural key through the one loader (so the days
whose rows changed are marked for the next incremental build, exactly as an ingest marks
them), adds the rejects and processed objects, moves each cursor forward (the source's
``CursorKind.newer``) and copies the run log lines it has not copied before. Merging the
same worker twice changes nothing; after a merge of N disjoint shards the database holds,
row for row, what one unsharded run would have loaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingest import sources
from ingest.errors import ConfigError
from ingest.loader import Loader, LoadResult
from ingest.source import RawTable

_counter = itertools.count()


@dataclass
class MergeResult:
    databases: int = 0
    result: LoadResult = field(default_factory=LoadResult)
    cursors: int = 0  # cursors moved forward


def raw_tables() -> dict[str, RawTable]:
    """Every raw table a declared source writes, by name."""
    return {t.name: t for s in sources.SOURCES.values() for t in s.tables}


def merge(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> MergeResult:
    """Merge each worker database in ``paths`` into ``con``'s (created and migrated already).

    Raises ConfigError for a path that is not a readable llmledger database (missing, still
    open by its worker, or the database itself).
    """
    merged = MergeResult()
    own = {
        Path(row[0]).resolve()
        for row in con.execute("select path from duckdb_databases()").fetchall()
        if row[0]
    }
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"merge: no database at {path}; pass the --db of each worker")
        if path.resolve() in own:
            raise ConfigError(f"merge: {path} is this database; pass the workers' databases")
        alias = f"_llmledger_shard_{next(_counter)}"
        try:
            con.execute(f"attach '{_quoted(path)}' as {alias} (read_only)")
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(
                f"merge: cannot open {path} ({first}); wait for its worker to finish"
            ) from None
        try:
            merged.result += _merge_one(con, alias, path, merged)
        finally:
            con.execute(f"detach {alias}")
        merged.databases += 1
    return merged


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _tables_of(con: duckdb.DuckDBPyConnection, alias: str) -> set[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = 'main'",
        [alias],
    ).fetchall()
    return {str(r[0]) for r in rows}


def _merge_one(
    con: duckdb.DuckDBPyConnection, alias: str, path: Path, merged: MergeResult
) -> LoadResult:
    present = _tables_of(con, alias)
    if not {"ingest_cursors", "processed_objects", "rejected_records"} <= present:
        raise ConfigError(f"merge: {path} is not an llmledger database")
    tables = {name: t for name, t in raw_tables().items() if name in present}
    loader = Loader(
        con,
        source="merge",
        tables={name: t.key for name, t in tables.items()},
        prefer={name: t.prefer for name, t in tables.items() if t.prefer},
    )
    result = LoadResult()
    con.execute("begin transaction")
    try:
        for name in tables:
            result += loader.upsert(name, f"{alias}.main.{name}")
        con.execute(
            "insert or ignore into rejected_records (source, location, reason, first_seen_at) "
            f"select source, location, reason, first_seen_at from {alias}.main.rejected_records"
        )
        con.execute(
            "insert or replace into processed_objects "
            "(source, object_key, etag, records, processed_at) "
            f"select source, object_key, etag, records, processed_at "
            f"from {alias}.main.processed_objects"
        )
        merged.cursors += _merge_cursors(con, alias)
        if "ingest_runs" in present:
            con.execute(
                "insert into ingest_runs (source, started_at, finished_at, status, new_rows, "
                "updated_rows, rejected_rows, message) "
                "select source, started_at, finished_at, status, new_rows, updated_rows, "
                f"rejected_rows, message from {alias}.main.ingest_runs w "
                "where not exists (select 1 from ingest_runs r where r.source = w.source "
                "and r.started_at = w.started_at and r.finished_at is not distinct from "
                "w.finished_at)"
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def _merge_cursors(con: duckdb.DuckDBPyConnection, alias: str) -> int:
    """Each worker cursor moved into this database where it is newer (never backwards)."""
    theirs = con.execute(
        f"select source, partition, value, updated_at from {alias}.main.ingest_cursors"
    ).fetchall()
    ours = {
        (str(s), str(p)): str(v)
        for s, p, v in con.execute("select source, partition, value from ingest_cursors").fetchall()
    }
    moved = 0
    for source_name, partition, value, updated_at in theirs:
        declared = sources.get(str(source_name))
        old = ours.get((str(source_name), str(partition)))
        new = declared.cursor.newer(old, str(value)) if declared is not None else str(value)
        if new is None or new == old:
            continue
        con.execute(
            "insert or replace into ingest_cursors (source, partition, value, updated_at) "
            "values (?, ?, ?, ?)",
            [source_name, partition, new, updated_at],
        )
        moved += 1
    return moved
