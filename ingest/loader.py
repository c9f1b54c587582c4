"""The one loader that writes every raw table.

A source hands it a page of already-parsed rows (a DuckDB relation, an Arrow table or the name of
a table in the same connection), the page's rejected records, the cursor values the page covers
and the objects it read. The loader upserts the rows on the table's natural key and moves the
cursor in the same transaction, so a run killed at any point loses and duplicates nothing.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from ingest import keyindex, lists, store
from models import incremental

_counter = itertools.count()


@dataclass
class LoadResult:
    new_rows: int = 0
    updated_rows: int = 0
    unchanged_rows: int = 0
    rejected_rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # out-of-scope records, by kind

    def __iadd__(self, other: LoadResult) -> LoadResult:
        self.new_rows += other.new_rows
        self.updated_rows += other.updated_rows
        self.unchanged_rows += other.unchanged_rows
        self.rejected_rows += other.rejected_rows
        for kind, count in other.skipped.items():
            self.skipped[kind] = self.skipped.get(kind, 0) + count
        return self

    @property
    def skipped_note(self) -> str | None:
        """``12 skipped (out of scope: 10 gemini, 2 other model)``, or None when none were."""
        if not self.skipped:
            return None
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.skipped.items()))
        return f"{sum(self.skipped.values())} skipped (out of scope: {kinds})"


@dataclass
class ProcessedObject:
    key: str
    etag: str
    records: int


@dataclass
class PageWrite:
    """Everything one page changes, committed together."""

    # duckdb relation | pyarrow.Table | str (table/view name) | None, or table -> one of these
    rows: Any = None
    rejected: Sequence[tuple[str, str]] = ()  # (location, reason); never record text
    cursors: Mapping[str, str] = field(default_factory=dict)  # partition -> new cursor value
    processed: Sequence[ProcessedObject] = ()
    prefer: str | None = None  # order-by expression to pick one row among duplicate keys


class Loader:
    """Upserts pages into raw tables keyed on their natural keys, for ``source``.

    ``Loader(con, source=..., table=..., key=...)`` writes one table (``PageWrite.rows`` is its
    rows); ``Loader(con, source=..., tables={name: key})`` writes several in one transaction
    (``PageWrite.rows`` maps table name -> rows).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        source: str,
        table: str | None = None,
        key: Sequence[str] = (),
        tables: Mapping[str, Sequence[str]] | None = None,
        prefer: Mapping[str, str] | None = None,
    ) -> None:
        self.con = con
        self.source = source
        self.table = table
        self.keys = {table: list(key)} if table is not None else {}
        self.keys.update({name: list(k) for name, k in (tables or {}).items()})
        self.columns = {name: _columns(con, name) for name in self.keys}
        self.prefer = dict(prefer or {})  # table -> order-by among a page's duplicate keys
        self.total = LoadResult()

    def write(self, page: PageWrite) -> LoadResult:
        con = self.con
        result = LoadResult()
        suffix = next(_counter)
        rows = page.rows
        if rows is not None and not isinstance(rows, Mapping):
            if self.table is None:
                raise ValueError("rows for several tables must be a mapping of table -> rows")
            rows = {self.table: rows}
        con.execute("begin transaction")
        try:
            for number, (table, table_rows) in enumerate((rows or {}).items()):
                if table_rows is None:
                    continue
                prefer = page.prefer or self.prefer.get(table)
                result += self._upsert(table, table_rows, f"{suffix}_{number}", prefer)
            if page.rejected:
                # one statement over lists, not a row at a time (~1 ms per 1,000 rows)
                rows, params = lists.select(
                    {
                        "location": ("varchar", [str(loc) for loc, _ in page.rejected]),
                        "reason": ("varchar", [str(reason) for _, reason in page.rejected]),
                    }
                )
                con.execute(
                    "insert or ignore into rejected_records (source, location, reason) "
                    f"select ?, location, reason from ({rows})",
                    [self.source, *params],
                )
                result.rejected_rows = len(page.rejected)
            now = datetime.now(UTC)
            for partition, value in page.cursors.items():
                con.execute(
                    "insert or replace into ingest_cursors (source, partition, value, updated_at) "
                    "values (?, ?, ?, ?)",
                    [self.source, partition, value, now],
                )
            if page.processed:
                rows, params = lists.select(
                    {
                        "object_key": ("varchar", [o.key for o in page.processed]),
                        "etag": ("varchar", [o.etag for o in page.processed]),
                        "records": ("bigint", [o.records for o in page.processed]),
                    }
                )
                con.execute(
                    "insert or replace into processed_objects "
                    "(source, object_key, etag, records, processed_at) "
                    f"select ?, object_key, etag, records, ?::timestamptz from ({rows})",
                    [self.source, now, *params],
                )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        self.total += result
        return result

    def upsert(self, table: str, rows: Any) -> LoadResult:
        """Upsert ``rows`` into ``table`` inside the caller's own transaction (``write`` opens
        one per page; `llmledger merge` holds one per worker database)."""
        result = self._upsert(table, rows, f"{next(_counter)}_0", self.prefer.get(table))
        self.total += result
        return result

    def _upsert(self, table: str, rows: Any, suffix: str, prefer: str | None) -> LoadResult:
        """Upsert one page of rows into ``table`` (inside the caller's transaction)."""
        if table not in self.keys:
            raise ValueError(f"{table} is not a table of this loader")
        con = self.con
        result = LoadResult()
        page_view = f"_llmledger_page_{suffix}"
        dedup = f"_llmledger_dedup_{suffix}"
        fresh = f"_llmledger_changed_{suffix}"
        stored = f"_llmledger_stored_keys_{suffix}"
        columns = self.columns[table]
        try:
            self._stage(rows, page_view)
            keys = ", ".join(self.keys[table])
            cols = ", ".join(columns)
            order = prefer or cols  # deterministic among duplicate keys
            total = store.scalar(con, f"select count(*) from {page_view}")
            distinct = store.scalar(
                con, f"select count(*) from (select distinct {keys} from {page_view})"
            )
            source_rows = page_view  # read in place unless the page repeats a key
            if total != distinct:  # the window (a sort of the whole page) only then
                source_rows = dedup
                con.execute(
                    f"create or replace temp table {dedup} as select {cols} from {page_view} "
                    f"qualify row_number() over (partition by {keys} order by {order}) = 1"
                )
                total = distinct
            join = " and ".join(f"p.{k} = t.{k}" for k in self.keys[table])
            # The key index (ingest/keyindex.py): the stored keys themselves are read only when
            # one of the page's key hashes is stored already. Checked on every page (a few
            # milliseconds): a page rolled back may have been the one that built it.
            index = keyindex.ensure(con, table, self.keys[table])
            hashed = keyindex.hash_sql(self.keys[table], "p")
            existing = 0
            if store.scalar(
                con,
                f"select count(*) from (select {hashed} as h from {source_rows} p) p "
                f"semi join {index} i on i.h = p.h",
            ):
                # the page's keys stored already: the one read of every stored key
                key_cols = ", ".join(f"p.{k}" for k in self.keys[table])
                con.execute(
                    f"create or replace temp table {stored} as select {key_cols} "
                    f"from {source_rows} p semi join {table} t on {join}"
                )
                existing = store.scalar(con, f"select count(*) from {stored}")
            changed = total  # every row is new when none of their keys exists yet
            # Raw tables have no PRIMARY KEY: the natural key is kept unique here (a page's
            # duplicates dropped above; a changed record's stored version deleted, then the new
            # one inserted; an unchanged one left as it is). DuckDB's index on the key made a
            # raw table's writes ~1.5x as slow and its file 1.3x (1M rows) to 3.3x (20M) as big;
            # it served no lookup (a semi join scans the keys either way). A database made
            # before keeps its index; this works on both. The key index's hashes are those of
            # the new keys only: a changed record keeps its key.
            if existing:
                table_cols = ", ".join(f"t.{c}" for c in columns)
                con.execute(
                    f"create or replace temp table {fresh} as select {cols} from {source_rows} "
                    f"except select {table_cols} from {table} t semi join {source_rows} p on {join}"
                )
                changed = store.scalar(con, f"select count(*) from {fresh}")
                # the days of the new versions and of the old ones they replace need a rebuild
                incremental.mark_dirty(con, table, fresh)
                incremental.mark_dirty(
                    con, table, f"(select t.* from {table} t semi join {fresh} p on {join})"
                )
                con.execute(
                    f"delete from {table} t where exists (select 1 from {fresh} p where {join})"
                )
                con.execute(f"insert into {table} ({cols}) select {cols} from {fresh}")
                # the new keys' hashes: the page's keys that were not stored
                con.execute(
                    f"insert into {index} select {hashed} from {source_rows} p "
                    f"anti join {stored} t on {join}"
                )
            elif total:  # every row is new
                incremental.mark_dirty(con, table, source_rows)
                con.execute(f"insert into {table} ({cols}) select {cols} from {source_rows}")
                con.execute(f"insert into {index} select {hashed} from {source_rows} p")
            con.execute(f"drop table if exists {dedup}")
            con.execute(f"drop table if exists {fresh}")
            con.execute(f"drop table if exists {stored}")
            result.new_rows = total - existing
            result.updated_rows = changed - result.new_rows
            result.unchanged_rows = existing - result.updated_rows
        finally:
            _unregister(con, page_view)
        return result

    def _stage(self, rows: Any, name: str) -> None:
        con = self.con
        # pyarrow is not imported for this: a source that hands over an Arrow table has imported
        # it, and the others (Bedrock, Vertex, gateways) are spared its ~0.25 s of start-up
        arrow = sys.modules.get("pyarrow")
        if isinstance(rows, str):
            con.execute(f"create or replace temp view {name} as select * from {rows}")
        elif arrow is not None and isinstance(rows, arrow.Table):
            con.register(name, rows)
        else:  # a DuckDB relation
            rows.create_view(name, replace=True)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    columns = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_name = ? and table_schema = 'main' "
            "and table_catalog = current_database() order by ordinal_position",
            [table],
        ).fetchall()
    ]
    if not columns:
        raise ValueError(f"raw table {table} does not exist")
    return columns


def _unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    try:
        con.unregister(name)
    except Exception:  # noqa: BLE001 - it was a view, not a registered object
        pass
    con.execute(f"drop view if exists {name}")


def record_run(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    started_at: datetime,
    status: str,
    result: LoadResult,
    message: str | None = None,
) -> None:
    """Append one line to the run log (what the data-health view and `doctor` read), with any
    URL's credentials redacted: the log is shown on screen and copied into the snapshot."""
    from models.redact import redact

    con.execute(
        "insert into ingest_runs (source, started_at, finished_at, status, new_rows, "
        "updated_rows, rejected_rows, message) values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            source,
            started_at,
            datetime.now(UTC),
            status,
            result.new_rows,
            result.updated_rows,
            result.rejected_rows,
            None if message is None else redact(message),
        ],
    )


def chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
