"""The one runner, through a toy source declared here: windows, cursors, transactions, scratch.

Every real source goes through the same code; these tests pin what the runner guarantees
whatever the source: loads are idempotent, a cursor only moves forward and never past now,
a failed page leaves the earlier pages and their cursor committed, and local copies live in a
private scratch folder that a later run cleans up after a killed one.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingest.config import Config
from ingest.context import AppContext
from ingest.errors import ConfigError, SourceUnavailable
from ingest.runner import run_source
from ingest.source import TIMESTAMP, LocalFile, Option, Page, Parsed, RawTable, Source, SourceRun

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOY = RawTable(
    "raw_toy",
    "create table if not exists raw_toy (id varchar primary key, seen_at timestamptz, n bigint)",
    ("id",),
)


def _transport(run: SourceRun) -> Iterator[Page]:
    """Each option page (a list of records) becomes one local NDJSON file."""
    for number, records in enumerate(run.options["pages"]):
        if records == "fail":
            raise SourceUnavailable("toy", "the toy server went away", "Try again")
        path = run.scratch / f"page-{number}.ndjson"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        SEEN_SCRATCH.append((path.parent, stat.S_IMODE(path.parent.stat().st_mode)))
        yield Page(files=[LocalFile(str(path), f"toy page {number}")], release=path.unlink)


def _parse(con: duckdb.DuckDBPyConnection, page: Page, run: SourceRun) -> Parsed:
    name = f"_toy_{abs(hash(page.files[0].path))}"
    con.execute(
        f'create temp table {name} as select id, cast("at" as timestamptz) as seen_at, n from '
        f"read_ndjson('{page.files[0].path}', columns={{'id': 'VARCHAR', 'at': 'VARCHAR', "
        "'n': 'BIGINT'})"
    )
    newest = con.execute(f"select strftime(max(seen_at), '%Y-%m-%dT%H:%M:%S+00:00') from {name}")
    return Parsed(
        rows={"raw_toy": name},
        cursors={"default": newest.fetchall()[0][0]},
        cleanup=lambda c: c.execute(f"drop table if exists {name}"),
    )


SEEN_SCRATCH: list[tuple[Path, int]] = []  # (folder, its mode) while a run used it
SOURCE = Source(
    name="toy",
    family="toy",
    summary="A toy source.",
    tables=(TOY,),
    cursor=TIMESTAMP,
    transport=_transport,
    parse=_parse,
    options=(Option("pages", type=str, required=True),),
)


def _app(tmp_path: Path) -> tuple[AppContext, duckdb.DuckDBPyConnection]:
    app = AppContext(db_path=tmp_path / "ledger.duckdb", config=Config(path=None), quiet=True)
    con = app.connect()
    con.execute(TOY.ddl)
    return app, con


def _run(app: AppContext, con: duckdb.DuckDBPyConnection, pages: list[Any]) -> Any:
    # configured=True: the toy's "pages" option is a list, not a declared string
    return run_source(app, con, SOURCE, {"pages": pages}, configured=True, now=NOW)


def _rec(i: int, at: str) -> dict[str, Any]:
    return {"id": f"r{i}", "at": at, "n": i}


def _cursor(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("select value from ingest_cursors where source = 'toy'").fetchall()
    return rows[0][0] if rows else None


def test_loading_twice_equals_loading_once(tmp_path: Path) -> None:
    app, con = _app(tmp_path)
    pages = [
        [_rec(1, "2026-11-20T10:00:00Z"), _rec(2, "2026-11-20T10:05:00Z")],
        [_rec(3, "2026-11-20T11:00:00Z")],
    ]
    first = _run(app, con, pages)
    second = _run(app, con, pages)
    assert (first.new_rows, second.new_rows, second.unchanged_rows) == (3, 0, 3)
    assert con.execute("select count(*), sum(n) from raw_toy").fetchall() == [(3, 6)]
    assert _cursor(con) == "2026-11-20T11:00:00+00:00"


@pytest.mark.parametrize(
    "ddl",
    [
        "create table raw_toy (id varchar not null, seen_at timestamptz, n bigint)",
        # a database made before raw tables dropped their PRIMARY KEY keeps it
        "create table raw_toy (id varchar primary key, seen_at timestamptz, n bigint)",
    ],
    ids=["no index", "made before"],
)
def test_a_changed_record_replaces_the_stored_one_and_the_key_stays_unique(
    tmp_path: Path, ddl: str
) -> None:
    app = AppContext(db_path=tmp_path / "ledger.duckdb", config=Config(path=None), quiet=True)
    con = app.connect()
    con.execute(ddl)
    _run(app, con, [[_rec(1, "2026-11-20T10:00:00Z"), _rec(2, "2026-11-20T10:05:00Z")]])
    changed = {"id": "r2", "at": "2026-11-20T10:05:00Z", "n": 20}
    # one page: r2 changed, r3 new and twice; a later page changes r2 again
    result = _run(
        app,
        con,
        [
            [_rec(1, "2026-11-20T10:00:00Z"), changed, _rec(3, "2026-11-20T10:09:00Z")]
            + [_rec(3, "2026-11-20T10:09:00Z")],
            [{**changed, "n": 21}],
        ],
    )
    assert (result.new_rows, result.updated_rows, result.unchanged_rows) == (1, 2, 1)
    rows = con.execute("select id, n from raw_toy order by id").fetchall()
    assert rows == [("r1", 1), ("r2", 21), ("r3", 3)]


def _index_matches_table(con: duckdb.DuckDBPyConnection) -> bool:
    """The key index holds exactly one hash per stored row, each that row's key's."""
    stored = sorted(r[0] for r in con.execute("select hash(id) from raw_toy").fetchall())
    index = sorted(
        r[0] for r in con.execute("select h from llmledger_keys.hashes_raw_toy").fetchall()
    )
    return stored == index


def test_the_key_index_follows_every_write_and_is_rebuilt_when_it_cannot_be_trusted(
    tmp_path: Path,
) -> None:
    app, con = _app(tmp_path)
    _run(app, con, [[_rec(1, "2026-11-20T10:00:00Z"), _rec(2, "2026-11-20T10:05:00Z")]])
    assert _index_matches_table(con)
    # a changed record keeps its hash; a new one adds its own
    result = _run(
        app, con, [[{**_rec(2, "2026-11-20T10:05:00Z"), "n": 20}, _rec(3, "2026-11-20T10:09:00Z")]]
    )
    assert (result.new_rows, result.updated_rows) == (1, 1)
    assert _index_matches_table(con)

    # a row written by hand: the index no longer counts every row, and is rebuilt before the
    # next page, which re-delivers that row's key: updated, not stored twice
    con.execute("insert into raw_toy values ('r9', timestamptz '2026-11-20 12:00:00+00', 9)")
    result = _run(app, con, [[{**_rec(9, "2026-11-20T12:00:00Z"), "n": 90}]])
    assert (result.new_rows, result.updated_rows) == (0, 1)
    assert con.execute("select count(*) from raw_toy where id = 'r9'").fetchall() == [(1,)]
    assert _index_matches_table(con)

    # built by another hash function (a DuckDB release may change hash()): rebuilt from the
    # table, so stored keys are still found
    con.execute("update llmledger_keys._hash_function set canary = canary + 1")
    con.execute("update llmledger_keys.hashes_raw_toy set h = h + 1")
    result = _run(app, con, [[_rec(1, "2026-11-20T10:00:00Z")]])
    assert (result.new_rows, result.unchanged_rows) == (0, 1)
    assert con.execute("select count(*) from raw_toy").fetchall() == [(4,)]
    assert _index_matches_table(con)

    # a new key whose hash is stored already (a collision, simulated): the keys themselves
    # are compared, and the record is new
    con.execute("update llmledger_keys.hashes_raw_toy set h = hash('r5') where h = hash('r1')")
    result = _run(app, con, [[_rec(5, "2026-11-20T10:30:00Z")]])
    assert (result.new_rows, result.updated_rows, result.unchanged_rows) == (1, 0, 0)
    assert con.execute("select id from raw_toy order by id").fetchall() == [
        ("r1",),
        ("r2",),
        ("r3",),
        ("r5",),
        ("r9",),
    ]


def test_a_database_made_before_the_key_index_gets_one_on_its_next_page(tmp_path: Path) -> None:
    app, con = _app(tmp_path)
    _run(app, con, [[_rec(1, "2026-11-20T10:00:00Z"), _rec(2, "2026-11-20T10:05:00Z")]])
    con.execute("drop schema llmledger_keys cascade")
    result = _run(app, con, [[_rec(2, "2026-11-20T10:05:00Z"), _rec(3, "2026-11-20T10:09:00Z")]])
    assert (result.new_rows, result.unchanged_rows) == (1, 1)
    assert con.execute("select count(*) from raw_toy").fetchall() == [(3,)]
    assert _index_matches_table(con)


def test_no_raw_table_keeps_an_index_and_every_key_column_is_not_null(tmp_path: Path) -> None:
    """The loader keeps each natural key unique; DuckDB's index on it made a raw table's writes
    ~1.5x as slow and its file 1.3x-3.3x as big, and served no lookup."""
    from ingest import sources

    con = duckdb.connect(str(tmp_path / "schema.duckdb"))
    tables = {t.name: t for s in sources.SOURCES.values() for t in s.tables}
    for table in tables.values():
        con.execute(table.ddl)
    constrained = con.execute(
        "select table_name, constraint_type, constraint_column_names from duckdb_constraints() "
        "where constraint_type in ('PRIMARY KEY', 'UNIQUE')"
    ).fetchall()
    assert constrained == []
    not_null = {
        (str(t), str(c))
        for t, c in con.execute(
            "select table_name, column_name from duckdb_columns() where not is_nullable"
        ).fetchall()
    }
    keys = {(name, column) for name, t in tables.items() for column in t.key}
    assert keys - not_null == set()
    assert len(tables) >= 13  # every declared raw table was looked at


def test_a_cursor_never_moves_backwards(tmp_path: Path) -> None:
    app, con = _app(tmp_path)
    _run(app, con, [[_rec(1, "2026-11-20T11:00:00Z")]])
    _run(app, con, [[_rec(0, "2026-11-01T00:00:00Z")]])  # a backfill of older rows
    assert _cursor(con) == "2026-11-20T11:00:00+00:00"


def test_a_far_future_record_does_not_move_the_cursor(tmp_path: Path) -> None:
    app, con = _app(tmp_path)
    _run(app, con, [[_rec(1, "2026-11-20T11:00:00Z")], [_rec(2, "2099-01-01T00:00:00Z")]])
    assert _cursor(con) == "2026-11-20T11:00:00+00:00"  # later data will still be read


def test_a_failed_page_keeps_the_pages_before_it(tmp_path: Path) -> None:
    app, con = _app(tmp_path)
    with pytest.raises(SourceUnavailable, match="^toy: the toy server went away. Try again$"):
        _run(
            app, con, [[_rec(1, "2026-11-20T10:00:00Z")], "fail", [_rec(2, "2026-11-20T11:00:00Z")]]
        )
    assert con.execute("select id from raw_toy").fetchall() == [("r1",)]
    assert _cursor(con) == "2026-11-20T10:00:00+00:00"


def test_scratch_is_private_beside_the_database_and_removed(tmp_path: Path) -> None:
    app, con = _app(tmp_path)
    SEEN_SCRATCH.clear()
    _run(app, con, [[_rec(1, "2026-11-20T10:00:00Z")]])
    used, mode = SEEN_SCRATCH[0]
    assert used.parent == tmp_path / ".ledger.duckdb.scratch"
    assert mode == 0o700
    assert not used.exists()  # removed after the run


def test_a_killed_runs_scratch_is_removed_by_the_next_run(tmp_path: Path) -> None:
    app, con = _app(tmp_path)
    dead = app.scratch_dir / "toy.999999999.abc"  # no such process
    dead.mkdir(parents=True)
    (dead / "page-0.ndjson").write_text('{"prompt": "LLMLEDGER-BODY-SENTINEL"}\n')
    mine = app.scratch_dir / f"toy.{os.getpid()}.live"  # a running process's folder stays
    mine.mkdir()
    SEEN_SCRATCH.clear()
    _run(app, con, [[_rec(1, "2026-11-20T10:00:00Z")]])
    assert not dead.exists()
    assert mine.exists()


def test_options_are_checked_against_the_declaration(tmp_path: Path) -> None:
    app, con = _app(tmp_path)
    with pytest.raises(ConfigError) as err:
        run_source(app, con, SOURCE, {"pages": "x", "bucket": "b"}, now=NOW)
    assert str(err.value) == "toy: unknown key 'bucket'; valid keys here: pages"
    with pytest.raises(ConfigError) as err:
        run_source(app, con, SOURCE, {}, now=NOW)
    assert str(err.value) == "toy needs pages (toy: add pages = ..., or pass --pages)"
