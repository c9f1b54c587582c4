"""Publishing the read-only snapshot the dashboard and reports read (ARCHITECTURE rule 8).

DuckDB allows one writer process. Ingest writes the main file, then writes the marts into the
snapshot generation readers are not pointed at (in place when it can, else a new file renamed
into place) and swaps the snapshot path's link to it, so a reader holding the old file keeps
its view and the next open sees the new one (``publish``).
"""

from __future__ import annotations

import errno
import os
import shutil
from datetime import date, timedelta
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
    "quarantined_rows",  # raw rows no total includes (data-health view)
    "claude_code_attribution",  # telemetry matched to provider records (data-health view)
    "claude_code_sessions",  # requests, cost and active time per Claude Code session
    "bill_lines",  # the providers' bills' LLM lines (AWS CUR 2.0, GCP billing export)
    "bill_check",  # the estimate against the bill (report --bill, doctor)
    "gateway_daily",  # gateway requests, partial spend and overhead per day (report --by gateway)
]


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def generations(snapshot_path: Path) -> tuple[Path, Path]:
    """The two files the snapshot path points at in turn (``NAME.a``, ``NAME.b``)."""
    return (
        snapshot_path.with_name(snapshot_path.name + ".a"),
        snapshot_path.with_name(snapshot_path.name + ".b"),
    )


def publish(
    con: duckdb.DuckDBPyConnection, snapshot_path: Path, extra: list[str] | None = None
) -> Path:
    """Write every published table into the other generation's file, then atomically point the
    snapshot path at it.

    The snapshot path is a symbolic link to one of two files (``generations``). A publish
    writes the one readers are not pointed at, then replaces the link, so readers never see a
    half-published file. Incremental where it can be (``models.incremental``): when that older
    file is the snapshot the last publish replaced, no reader holds it and the days it lacks
    are a small share of the events (``IN_PLACE_SHARE``), it is brought up to date in place
    (the last publish's days and the days rebuilt since, in the day-partitioned marts
    ``models.daybuild.PUBLISH_DAY_COLUMNS``; the other tables copied whole), in one transaction: a
    publish then writes what changed, not all of history. Otherwise the new file starts as a
    copy of the current one with the days rebuilt since replaced, or, after a full rebuild, as
    a copy of the database file with all it does not publish dropped
    (``_write_copy_of_main``); it is written under a hidden name and renamed into place.
    Where symbolic links cannot be made, the snapshot path is that file itself, renamed over
    as before.
    """
    from models import incremental

    snapshot_path = Path(snapshot_path)
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = snapshot_path.with_name(f".{snapshot_path.name}.{os.getpid()}.tmp")
    _remove_tmp(tmp)
    _remove_abandoned(snapshot_path)
    have = existing_tables(con)
    wanted = [t for t in PUBLISHED + list(extra or []) if t in have]
    current = _current_generation(snapshot_path)
    target = next(g for g in generations(snapshot_path) if g != current)
    try:
        days = incremental.pending_days(con, snapshot_path)
        previous_id = _file_identity(snapshot_path) if days is not None else None
        snapshot_id = None
        if days is not None and current is not None:
            older = incremental.older_generation_days(con, _file_identity(target) or "")
            if older is not None and _in_place_pays(con, older - days):
                snapshot_id = _write_in_place(con, snapshot_path, target, wanted, days | older)
        if snapshot_id is None:
            if days is None:  # a whole snapshot: a copy of the database, trimmed
                snapshot_id = _write_copy_of_main(con, tmp, wanted)
            if snapshot_id is None:
                if days is not None:
                    shutil.copyfile(snapshot_path, tmp)
                snapshot_id = _write(con, tmp, wanted, days)
            if tmp.with_name(tmp.name + ".wal").exists():
                raise OSError(errno.EIO, "the snapshot was not fully written", str(tmp))
            if not _point(snapshot_path, tmp, target):
                os.replace(tmp, snapshot_path)  # no symbolic links here: the file itself
    except BaseException as exc:
        # A failed publish (a full disk, a kill) leaves no hidden file behind; the old
        # snapshot stays published.
        _remove_tmp(tmp)
        if no_space(exc):
            raise NoSpace(str(tmp.parent), _needed_mb(con, snapshot_path)) from exc
        raise
    incremental.published(con, snapshot_id, previous_id, days)
    return snapshot_path


def _write(
    con: duckdb.DuckDBPyConnection, path: Path, wanted: list[str], days: set[date] | None
) -> str:
    """Publish into the file ``path``: a copy of the current snapshot when ``days`` (the days to
    replace) is a set, a new file when None. Returns the new snapshot id."""
    con.execute(f"attach '{_quote(str(path))}' as llmledger_snapshot")
    try:
        snapshot_id = _fill(con, wanted, days)
        # Write everything into the file now: a checkpoint that fails on detach is silent
        # and would leave the tables in a .wal the rename leaves behind.
        con.execute("checkpoint llmledger_snapshot")
    finally:
        _detach(con)
    return snapshot_id


# The free space a whole publish by copy leaves on top of three times the database's size.
COPY_MARGIN = 64 << 20


def _write_copy_of_main(
    con: duckdb.DuckDBPyConnection, path: Path, wanted: list[str]
) -> str | None:
    """A whole publish as a copy of the main database file with all it does not publish dropped
    (the other tables, the views, the macros): the published tables' blocks are copied as they
    are, not read, compressed and written again. None, with nothing written, where the main
    database is not a file or cannot be checkpointed (its last changes would be in its .wal)."""
    main = _database_path(con)
    if main is None or not main.is_file():
        return None
    wal = main.with_name(main.name + ".wal")
    size = main.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    # room for the checkpoint and the copy, with a margin (a checkpoint writes whole blocks):
    # a checkpoint that fills the disk leaves the database unusable until the process restarts
    # (DuckDB invalidates it), where the table copy fails cleanly and says what it needs
    free = min(shutil.disk_usage(main.parent).free, shutil.disk_usage(path.parent).free)
    if free < 3 * size + COPY_MARGIN:
        return None
    try:
        con.execute("checkpoint")
    except duckdb.Error:
        return None  # another transaction is open: copy the tables instead
    if wal.exists() and wal.stat().st_size:
        return None
    shutil.copyfile(main, path)
    con.execute(f"attach '{_quote(str(path))}' as llmledger_snapshot")
    try:
        for (view,) in con.execute(
            "select view_name from duckdb_views() "
            "where database_name = 'llmledger_snapshot' and not internal"
        ).fetchall():
            con.execute(f'drop view llmledger_snapshot.main."{view}"')
        for name, kind in con.execute(
            "select distinct function_name, function_type from duckdb_functions() "
            "where database_name = 'llmledger_snapshot' and not internal "
            "and function_type in ('macro', 'table_macro')"
        ).fetchall():
            table = " table" if kind == "table_macro" else ""
            con.execute(f'drop macro{table} llmledger_snapshot.main."{name}"')
        # the loader's key index (ingest/keyindex.py): the database's, not a reader's
        con.execute("drop schema if exists llmledger_snapshot.llmledger_keys cascade")
        for table in sorted(_snapshot_tables(con) - set(wanted)):
            con.execute(f'drop table llmledger_snapshot.main."{table}"')
        # the bookkeeping and reference tables carry keys, NOT NULLs and defaults in the
        # database; a published table has none (as a table copy makes it): small, written anew
        for (table,) in con.execute(
            "select distinct table_name from duckdb_constraints() "
            "where database_name = 'llmledger_snapshot' union "
            "select distinct table_name from duckdb_columns() "
            "where database_name = 'llmledger_snapshot' and column_default is not null"
        ).fetchall():
            _copy_table(con, str(table))
        for (sequence,) in con.execute(
            "select sequence_name from duckdb_sequences() "
            "where database_name = 'llmledger_snapshot'"
        ).fetchall():
            con.execute(f'drop sequence llmledger_snapshot.main."{sequence}"')
        snapshot_id = _stamp(con)
        con.execute("checkpoint llmledger_snapshot")
    finally:
        _detach(con)
    return snapshot_id


def _write_in_place(
    con: duckdb.DuckDBPyConnection,
    snapshot_path: Path,
    path: Path,
    wanted: list[str],
    days: set[date],
) -> str | None:
    """Bring the older generation ``path`` up to date by ``days``, in one transaction, then
    point the snapshot path at it; None when it cannot be (a reader holds it)."""
    try:
        con.execute(f"attach '{_quote(str(path))}' as llmledger_snapshot")
    except duckdb.IOException:
        return None  # a reader still holds the file: write a new one instead
    try:
        con.execute("begin transaction")
        try:
            snapshot_id = _fill(con, wanted, days)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        con.execute("checkpoint llmledger_snapshot")
    finally:
        _detach(con)
    if path.with_name(path.name + ".wal").exists():
        raise OSError(errno.EIO, "the snapshot was not fully written", str(path))
    if not _point(snapshot_path, None, path):
        raise OSError(errno.EIO, "the snapshot link could not be replaced", str(path))
    return snapshot_id


# An in-place update also writes the days the older generation lacks (the last publish's); a
# copy of the current file instead costs about as much as inserting this share of its rows
# (measured: a file copy moves ~5M events' rows a second, an insert into the attached file
# ~0.3M), so past it, after a backfill or a catch-up run, the copy is the cheaper publish.
IN_PLACE_SHARE = 1 / 16


def _in_place_pays(con: duckdb.DuckDBPyConnection, extra: set[date]) -> bool:
    """Whether updating the older generation in place, which also writes ``extra`` (the days
    only it lacks), costs less than a copy of the current file: ``extra``'s share of
    ``usage_events`` is under ``IN_PLACE_SHARE``."""
    if not extra or "usage_events" not in existing_tables(con):
        return True
    row = con.execute("select count(*) from main.usage_events").fetchone()
    total = int(row[0]) if row else 0
    if not total:
        return True
    low, high = min(extra), max(extra) + timedelta(days=1)
    listed = ", ".join(f"date '{d.isoformat()}'" for d in sorted(extra))
    row = con.execute(
        "select count(*) from main.usage_events "
        f"where occurred_at >= timestamptz '{low.isoformat()} 00:00:00+00' "
        f"and occurred_at < timestamptz '{high.isoformat()} 00:00:00+00' "
        f"and cast(timezone('UTC', occurred_at) as date) in ({listed})"
    ).fetchone()
    return (int(row[0]) if row else 0) < total * IN_PLACE_SHARE


def _fill(con: duckdb.DuckDBPyConnection, wanted: list[str], days: set[date] | None) -> str:
    """The published tables into the attached ``llmledger_snapshot``: with ``days``, a copy of
    a snapshot whose day-partitioned marts get those days replaced; else every table whole."""
    from models import daybuild

    kept = _snapshot_tables(con) if days is not None else set()
    for table in wanted:
        column = daybuild.PUBLISH_DAY_COLUMNS.get(table)
        if days is not None and column is not None and table in kept:
            if days:  # else the copy already holds every row
                rows = daybuild.in_days(column, "_publish_days", days)
                _replace_days(con, table, rows, days)
        else:
            _copy_table(con, table)
    for table in kept - set(wanted) - {"snapshot_info"}:
        con.execute(f"drop table llmledger_snapshot.{table}")
    return _stamp(con)


def _stamp(con: duckdb.DuckDBPyConnection) -> str:
    """A new ``snapshot_info`` in the attached snapshot; returns its snapshot id."""
    con.execute(
        "create or replace table llmledger_snapshot.snapshot_info as "
        "select current_timestamp as published_at, uuid()::varchar as snapshot_id"
    )
    row = con.execute("select snapshot_id from llmledger_snapshot.snapshot_info").fetchall()
    return str(row[0][0])


def _current_generation(snapshot_path: Path) -> Path | None:
    """The generation file the snapshot path links to, or None (a plain file, or nothing)."""
    if not snapshot_path.is_symlink():
        return None
    target = snapshot_path.with_name(os.readlink(snapshot_path))
    return target if target in generations(snapshot_path) and target.is_file() else None


def _point(snapshot_path: Path, written: Path | None, target: Path) -> bool:
    """Rename ``written`` (if any) to ``target``, then replace the snapshot path by a link to
    it. False, with nothing changed, where symbolic links cannot be made."""
    link = snapshot_path.with_name(f".{snapshot_path.name}.{os.getpid()}.link")
    try:
        link.unlink(missing_ok=True)
        os.symlink(target.name, link)
    except (OSError, NotImplementedError):
        return False
    try:
        if written is not None:
            # a .wal an in-place write left (killed after its commit) belongs to the old file
            target.with_name(target.name + ".wal").unlink(missing_ok=True)
            os.replace(written, target)
        os.replace(link, snapshot_path)
    except BaseException:
        link.unlink(missing_ok=True)
        raise
    return True


def _file_identity(path: Path) -> str | None:
    """The snapshot id inside the file at ``path`` (read-only), or None."""
    if not path.is_file():
        return None
    try:
        con = duckdb.connect()
        try:
            con.execute(f"attach '{_quote(str(path))}' as llmledger_peek (read_only)")
            return identity_of(con, "llmledger_peek") or None
        finally:
            con.close()
    except duckdb.Error:
        return None


class NoSpace(OSError):
    """The disk at ``path`` filled up; ``needed_mb`` is about what the write needs (or None)."""

    def __init__(self, path: str, needed_mb: int | None = None) -> None:
        super().__init__(28, "No space left on device", path)  # errno.ENOSPC
        self.path = path
        self.needed_mb = needed_mb


def no_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk: ENOSPC, or DuckDB's text for it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == 28:
            return True
        if "no space left on device" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _copy_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(f"create or replace table llmledger_snapshot.{table} as select * from main.{table}")


def _detach(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("detach llmledger_snapshot")
    except duckdb.Error:
        pass  # never attached, or the failure that brought us here already dropped it


def _remove_tmp(tmp: Path) -> None:
    link = tmp.with_name(tmp.name.removesuffix(".tmp") + ".link")
    for path in (tmp, tmp.with_name(tmp.name + ".wal"), link):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _remove_abandoned(snapshot_path: Path) -> None:
    """Hidden files of publishes that died (killed: their pid is gone) are removed."""
    prefix = f".{snapshot_path.name}."
    for left in [
        *snapshot_path.parent.glob(f"{prefix}*.tmp*"),
        *snapshot_path.parent.glob(f"{prefix}*.link"),
    ]:
        pid = left.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                left.unlink()
            except FileNotFoundError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _needed_mb(con: duckdb.DuckDBPyConnection, snapshot_path: Path) -> int | None:
    """About the size of a snapshot: the published one's, else the database's."""
    try:
        if snapshot_path.is_file():
            size = snapshot_path.stat().st_size
        else:
            main = _database_path(con)
            path = str(main) if main else ""
            size = sum(os.path.getsize(p) for p in (path, path + ".wal") if p and os.path.isfile(p))
    except (OSError, duckdb.Error):
        return None
    return max(1, -(-size // (1 << 20))) if size else None


def _database_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The main database's file, or None (in memory)."""
    row = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()
    return Path(str(row[0][0])) if row and row[0][0] else None


def _snapshot_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = 'llmledger_snapshot' "
        "and schema_name = 'main'"
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


def identity_of(con: duckdb.DuckDBPyConnection, database: str) -> str:
    """The snapshot id of the attached ``database`` ('' when it has none)."""
    try:
        rows = con.execute(f"select snapshot_id from {database}.snapshot_info limit 1").fetchall()
    except duckdb.Error:
        return ""
    return str(rows[0][0]) if rows and rows[0][0] is not None else ""


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


def attach_snapshot(
    snapshot_path: Path, *, memory_limit: str | None = None, temp_directory: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """The snapshot read-only, attached to a private in-memory database, for a reader that
    keeps it open (the dashboard). Unlike :func:`open_snapshot` it is not shared through
    DuckDB's per-path instance cache, so a later open of the path, after a publish replaced the
    file, reads the new file while this handle still reads the old one. Each table shows
    through a view of the same name in the in-memory database's main schema (not ``use``:
    that would not reach the cursors a query opens)."""
    from models import limits

    con = duckdb.connect()
    try:
        con.execute("set timezone = 'UTC'")
        limits.apply(con, memory_limit=memory_limit, temp_directory=temp_directory)
        con.execute(f"attach '{_quote(str(snapshot_path))}' as llmledger_snapshot (read_only)")
        names = con.execute(
            "select table_name from duckdb_tables() "
            "where database_name = 'llmledger_snapshot' and schema_name = 'main'"
        ).fetchall()
        for (name,) in names:
            quoted = '"' + str(name).replace('"', '""') + '"'
            con.execute(
                f"create view main.{quoted} as select * from llmledger_snapshot.main.{quoted}"
            )
    except BaseException:
        con.close()
        raise
    return con


def _quote(value: str) -> str:
    return value.replace("'", "''")
