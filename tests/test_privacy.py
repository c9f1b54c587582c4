"""Bodies never leave the source (ARCHITECTURE rule 2), whichever source it is.

For every registered source, its feed (``tests/privacy_feeds/``) plants records with the body
sentinel in every body field of the format; the source is ingested through the real CLI (which
builds the models and publishes the snapshot) and reported and exported. The sentinel must not
occur in the bytes of any file the tool wrote (database, WAL, snapshot, scratch, the temp
directory, exports) nor in any cell of any table.
"""

from __future__ import annotations

import csv
import pkgutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from privacy_feeds import SENTINEL, Feed

from ingest import sources
from ingest.cli import cli

# Every family's feeds, found by module: a new family's feeds need no edit here.
pytest_plugins = [
    f"privacy_feeds.{m.name}"
    for m in pkgutil.iter_modules([str(Path(__file__).parent / "privacy_feeds")])
]

pytestmark = pytest.mark.service


def _invoke(args: list[str]) -> Any:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def _feed(request: pytest.FixtureRequest, name: str) -> Feed:
    fixture = "privacy_feed_" + name.replace("-", "_")
    try:
        feed = request.getfixturevalue(fixture)
    except pytest.FixtureLookupError:
        pytest.fail(f"source {name} has no privacy feed: add {fixture} in tests/privacy_feeds/")
    assert isinstance(feed, Feed)
    return feed


@pytest.mark.parametrize("name", sorted(sources.SOURCES))
def test_no_body_text_in_any_file_the_tool_writes(
    name: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = _feed(request, name)
    for variable, value in feed.env.items():
        monkeypatch.setenv(variable, value)
    temp = tmp_path / "temp"  # the system temp directory, for everything this process writes
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    db = tmp_path / "ledger" / "ledger.duckdb"
    base = ["--db", str(db)]
    _invoke([*base, "ingest", name, *feed.args])

    out = tmp_path / "exports"
    out.mkdir()
    # --allow-empty: a bill source lands no request (its rows are checked in bill_lines below)
    _invoke([*base, "export", "usage", "--allow-empty", "--out", str(out / "usage.csv")])
    with (out / "usage.csv").open(encoding="utf-8", newline="") as usage:
        months = sorted({row["occurred_at"][:7] for row in csv.DictReader(usage)})
    for month in months:
        for fmt in ("simple", "focus"):
            _invoke(
                [*base, "export", "billing", "--month", month, "--format", fmt]
                + ["--out", str(out / f"billing-{month}-{fmt}.csv")]
            )
    report = _invoke([*base, "report", "--by", "developer", "--format", "json", "--allow-empty"])
    (out / "report.json").write_text(report.output)

    snapshot = db.with_name("ledger.snapshot.duckdb")
    assert snapshot.is_file()
    if feed.landed_table:  # bills are not requests: they land in their own mart
        assert feed.landed in _table_text(snapshot, feed.landed_table)
    else:
        assert feed.landed in (out / "usage.csv").read_text()  # the control: the source landed
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "input" not in p.parts]
    assert {db, snapshot, out / "usage.csv"} <= set(written)
    assert [str(p) for p in written if SENTINEL.encode() in p.read_bytes()] == []
    # Bytes can hide a compressed string, so also ask DuckDB: every column of every table.
    for path in (db, snapshot):
        con = duckdb.connect(str(path), read_only=True)
        try:
            assert _cells_containing(con, SENTINEL) == []
        finally:
            con.close()


def _table_text(path: Path, table: str) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return str(con.execute(f'select * from "{table}"').fetchall())
    finally:
        con.close()


def _cells_containing(con: Any, text: str) -> list[str]:
    found = []
    columns = con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'main'"
    ).fetchall()
    for table, column in columns:
        hits = con.execute(
            f'select count(*) from "{table}" where contains(cast("{column}" as varchar), ?)',
            [text],
        ).fetchall()[0][0]
        if hits:
            found.append(f"{table}.{column}")
    return found
